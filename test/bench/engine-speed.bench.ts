// Engine decode speed and cache bytes (see engine-speed.ts) on a named provider and model geometry.
// Usage: npm run bench:engine-speed [-- --providers webgpu --geometry llama-3.2-1b --past 2048,8192,32768 --steps 16 --rounds 3]
// WebGPU without a GPU (SwiftShader, slow: use small contexts and few steps):
//   VK_ICD_FILENAMES=/usr/lib/chromium/vk_swiftshader_icd.json XDG_RUNTIME_DIR=/tmp/xdg LD_LIBRARY_PATH=/usr/lib/chromium \
//   npm run bench:engine-speed -- --providers webgpu --past 64,256 --steps 4 --rounds 2
import { parseArgs } from 'node:util';
import { executionProviders } from '../../main/engine/session.js';
import type { ExecutionProvider } from '../../main/engine/session.js';
import { geometries, runEngineSpeed } from './engine-speed.js';
import type { GeometryName } from './engine-speed.js';

const { values } = parseArgs({
  options: {
    providers: { type: 'string', default: 'cpu' },
    geometry: { type: 'string', default: 'smollm2-135m' },
    past: { type: 'string', default: '2048,8192,32768' },
    steps: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
  },
});
const geometry = values.geometry!;
if (!(geometry in geometries)) throw new Error(`--geometry must be one of ${Object.keys(geometries).join(', ')}, got ${geometry}`);
const providers = values.providers!.split(',');
const unknown = providers.find((p) => !(executionProviders as readonly string[]).includes(p));
if (unknown !== undefined) throw new Error(`--providers: unknown provider '${unknown}' (known: ${executionProviders.join(', ')})`);
for (const provider of providers as ExecutionProvider[]) {
  await runEngineSpeed(values.past!.split(',').map(Number), Number(values.steps), Number(values.rounds), console.log, { geometry: geometry as GeometryName, provider });
}
