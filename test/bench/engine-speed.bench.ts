// Engine decode speed and cache bytes on SmolLM2-135M geometry alone (part 2 of bench:engine; see engine-speed.ts).
// Usage: npm run bench:engine-speed [-- --past 128,512,2048 --steps 16 --rounds 3 --weights int4]
import { parseArgs } from 'node:util';
import { parseWeightType } from '../../main/model/weights.js';
import { runEngineSpeed } from './engine-speed.js';

const { values } = parseArgs({ options: { past: { type: 'string', default: '128,512,2048' }, steps: { type: 'string', default: '16' }, rounds: { type: 'string', default: '3' }, weights: { type: 'string', default: 'fp32' } } });
await runEngineSpeed(values.past!.split(',').map(Number), Number(values.steps), Number(values.rounds), console.log, parseWeightType(values.weights!));
