// Engine decode speed and cache bytes (engine-speed.ts on the CPU, engine-speed-gpu.ts on a GPU provider).
// Usage: npm run bench:engine-speed [-- --past 128,512,2048,8192 --steps 8 --rounds 3 --weights int4 --geometry llama-3.2-1b]
// --big (issue 14): Llama-3.2-1B, then Llama-3.1-8B, random int4 weights, 128 and 2048 tokens of past,
// 4 steps, 1 round, unless given (the 8B takes ~6.5 GiB resident and a long build on a loaded machine;
// the past is filled with random values / codes, never prefilled through the model).
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
    geometry: { type: 'string' },
    past: { type: 'string' },
    steps: { type: 'string' },
    rounds: { type: 'string' },
    weights: { type: 'string' },
    big: { type: 'boolean' },
    // GPU providers: the geometry's first N layers only (SwiftShader loads a 30-layer rvq graph for minutes)
    layers: { type: 'string' },
  },
});
const big = values.big === true;
const chosen = (values.geometry ?? (big ? 'llama-3.2-1b,llama-3.1-8b' : 'smollm2-135m')).split(',');
const wrong = chosen.find((g) => !(g in geometries));
if (wrong !== undefined) throw new Error(`--geometry must be one of ${Object.keys(geometries).join(', ')}, got ${wrong}`);
const steps = Number(values.steps ?? (big ? 4 : 8));
const rounds = Number(values.rounds ?? (big ? 1 : 3));
const weightType = parseWeightType(values.weights ?? (big ? 'int4' : 'fp32'));
const providers = values.providers!.split(',');
const unknown = providers.find((p) => !(executionProviders as readonly string[]).includes(p));
if (unknown !== undefined) throw new Error(`--providers: unknown provider '${unknown}' (known: ${executionProviders.join(', ')})`);
const pasts = (values.past ?? (big ? '128,2048' : '128,512,2048,8192')).split(',').map(Number);
for (const geometry of chosen as GeometryName[]) {
  for (const provider of providers as ExecutionProvider[]) {
    if (provider !== 'cpu') {
      await runGpuEngineSpeed(pasts, steps, rounds, provider, geometry, console.log, values.layers === undefined ? undefined : Number(values.layers));
      continue;
    }
    const results = await runEngineSpeed(pasts, steps, rounds, console.log, { geometry, weightType });
    console.log('\nmeasured vs target (issue 15; a shared 2-core machine: figures taken under whatever load other processes put on it):');
    for (const line of speedTargetLines(results, (met) => (met ? 'MET' : 'MISSED'))) console.log(line);
  }
}
