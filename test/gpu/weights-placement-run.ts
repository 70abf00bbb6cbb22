// Child process of greedy-text.test.ts: creates a library graph's WebGPU session (argv[2], its
// external weights beside it) with ONNX Runtime's verbose log on, whose node placements go to stderr.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import * as ort from 'onnxruntime-node';
import { probeProvider } from '../../main/engine/session.js';
import { withoutHalfFloats } from '../../main/onnx/half-free.js';

const graph = process.argv[2];
const probe = await probeProvider('webgpu');
if (!probe.available) throw new Error(`no WebGPU adapter: ${probe.reason}`);
const bytes = new Uint8Array(readFileSync(graph));
const session = await ort.InferenceSession.create(probe.halfFloats ? bytes : withoutHalfFloats(bytes), {
  executionProviders: ['webgpu'], graphOptimizationLevel: 'all', logSeverityLevel: 0, logVerbosityLevel: 0,
  extra: { session: { model_external_initializers_file_folder_path: dirname(graph) } },
});
await session.release();
