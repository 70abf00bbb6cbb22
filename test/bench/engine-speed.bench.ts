// Engine decode speed and cache bytes on SmolLM2-135M geometry alone (part 2 of bench:engine; see engine-speed.ts).
// Usage: npm run bench:engine-speed [-- --past 128,512,2048,8192 --steps 8 --rounds 3 --weights int4]
import { parseArgs } from 'node:util';
import { parseWeightType } from '../../main/model/weights.js';
import { runEngineSpeed, speedTargetLines } from './engine-speed.js';

const { values } = parseArgs({ options: { past: { type: 'string', default: '128,512,2048,8192' }, steps: { type: 'string', default: '8' }, rounds: { type: 'string', default: '3' }, weights: { type: 'string', default: 'fp32' } } });
const results = await runEngineSpeed(values.past!.split(',').map(Number), Number(values.steps), Number(values.rounds), console.log, parseWeightType(values.weights!));
console.log('\nmeasured vs target (issue 15; a shared 2-core machine: figures taken under whatever load other processes put on it):');
for (const line of speedTargetLines(results, (met) => (met ? 'MET' : 'MISSED'))) console.log(line);
