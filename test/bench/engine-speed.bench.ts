// Engine decode speed and cache bytes (engine-speed.ts on the CPU, engine-speed-gpu.ts on a GPU provider).
// Usage: npm run bench:engine-speed [-- --past 128,512,2048,8192 --steps 8 --rounds 3 --weights int4 --geometry llama-3.2-1b]
// A GPU provider: -- --providers webgpu --past 2048,8192,32768. WebGPU without a GPU (SwiftShader, slow:
// use small contexts and few steps):
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp/xdg LD_LIBRARY_PATH=/usr/lib/chromium \
//   npm run bench:engine-speed -- --providers webgpu --past 64,256 --steps 4 --rounds 2 [--layers 2]
import { parseArgs } from 'node:util';
import { executionProviders } from '../../main/engine/session.js';
import type { ExecutionProvider } from '../../main/engine/session.js';
import { parseWeightType } from '../../main/model/weights.js';
import { geometries, runEngineSpeed, speedTargetLines } from './engine-speed.js';
import type { GeometryName } from './engine-speed.js';
import { runGpuEngineSpeed } from './engine-speed-gpu.js';

const { values } = parseArgs({
  options: {
    providers: { type: 'string', default: 'cpu' },
    geometry: { type: 'string', default: 'smollm2-135m' },
    past: { type: 'string', default: '128,512,2048,8192' },
    steps: { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    weights: { type: 'string', default: 'fp32' },
    // GPU providers: the geometry's first N layers only (SwiftShader loads a 30-layer rvq graph for minutes)
    layers: { type: 'string' },
  },
});
const geometry = values.geometry!;
if (!(geometry in geometries)) throw new Error(`--geometry must be one of ${Object.keys(geometries).join(', ')}, got ${geometry}`);
const providers = values.providers!.split(',');
const unknown = providers.find((p) => !(executionProviders as readonly string[]).includes(p));
if (unknown !== undefined) throw new Error(`--providers: unknown provider '${unknown}' (known: ${executionProviders.join(', ')})`);
const pasts = values.past!.split(',').map(Number);
for (const provider of providers as ExecutionProvider[]) {
  if (provider !== 'cpu') {
    await runGpuEngineSpeed(pasts, Number(values.steps), Number(values.rounds), provider, geometry as GeometryName, console.log, values.layers === undefined ? undefined : Number(values.layers));
    continue;
  }
  const results = await runEngineSpeed(pasts, Number(values.steps), Number(values.rounds), console.log, { geometry: geometry as GeometryName, weightType: parseWeightType(values.weights!) });
  console.log('\nmeasured vs target (issue 15; a shared 2-core machine: figures taken under whatever load other processes put on it):');
  for (const line of speedTargetLines(results, (met) => (met ? 'MET' : 'MISSED'))) console.log(line);
}
