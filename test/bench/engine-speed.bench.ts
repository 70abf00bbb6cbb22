// Engine decode speed and cache bytes (issue 5, benchmark part 2): a random model of SmolLM2-135M's
// geometry, the fp16 cache (fp graph) against RVQ depth 8 and depth 4 (rvq graph; groups of 32 inside
// the head, C 2048, per-head fp16 scales; random codebooks), at several context lengths, through the
// engine's stores, decoders and generation loop. The past is filled with random values / random
// codes (decode speed does not depend on them), then `--steps` tokens are decoded greedily.
// Usage: npm run bench:engine-speed [-- --past 128,512,2048 --steps 16]
import { parseArgs } from 'node:util';
import { createRng, parseRvqSpec, rvqCodeBytesPerToken, rvqCodebookBytes, scalesPerToken } from '../../quant/index.js';
import type { CodebookSet } from '../../quant/index.js';
import { FpGraphDecoder } from '../../main/engine/fp-graph-decoder.js';
import { Fp16KvStore } from '../../main/engine/fp16-kv-store.js';
import { generate } from '../../main/engine/generate.js';
import type { DecoderStep } from '../../main/engine/generate.js';
import { KvCodeStore } from '../../main/engine/kv-code-store.js';
import { KV_KINDS } from '../../main/engine/kv-store.js';
import type { KvStore } from '../../main/engine/kv-store.js';
import { RvqGraphDecoder } from '../../main/engine/rvq-graph-decoder.js';
import { createSession } from '../../main/engine/session.js';
import { RandomWeights } from '../../main/model/hf-export.js';
import { buildDecoderGraph } from '../../main/onnx/decoder.js';
import { buildRvqDecoderGraph } from '../../main/onnx/rvq-cache.js';
import { smolLm2Geometry as c } from '../support/geometries.js';

const { values } = parseArgs({ options: { past: { type: 'string', default: '128,512,2048' }, steps: { type: 'string', default: '16' } } });
const pasts = values.past!.split(',').map(Number);
const steps = Number(values.steps);

const spec = parseRvqSpec({ headDim: 64, numKvHeads: 3, groupSize: 32, codebookSize: 2048, depth: 8, grouping: 'strided', groupSpan: 'head', scale: 'head' });
const rng = createRng(1);
const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, () => rng.normal());
const set: CodebookSet = { keySpec: spec, valueSpec: spec, layers: Array.from({ length: c.numLayers }, () => ({ key: book(), value: book() })) };
const weights = new RandomWeights(c, 1);
const geometry = { numLayers: c.numLayers, numKvHeads: c.numKvHeads, headDim: c.headDim };
const W = c.numKvHeads * c.headDim;

const fpSession = await createSession(buildDecoderGraph(c, weights, { cacheType: 'float16' }));
const rvqSession = await createSession(buildRvqDecoderGraph(c, weights, set));
const fp = new FpGraphDecoder(fpSession.session, c);
const rvq = new RvqGraphDecoder(rvqSession.session, c, set);
console.log(`provider ${fpSession.provider}; SmolLM2-135M geometry (${c.numLayers} layers, ${c.numKvHeads} KV heads x ${c.headDim}), random weights; rvq groups 32 in the head, C 2048, per-head scales`);
console.log(`codebooks (float32, all layers, K and V): depth 8 ${(2 * c.numLayers * rvqCodebookBytes(spec, 8)) / 2 ** 20} MiB, depth 4 in use ${(2 * c.numLayers * rvqCodebookBytes(spec, 4)) / 2 ** 20} MiB`);

function filledFp16(past: number): KvStore {
  const store = new Fp16KvStore(geometry);
  for (let i = 0; i < c.numLayers; i++) {
    for (const kind of KV_KINDS) store.append(i, kind, { data: Float32Array.from({ length: past * W }, () => rng.normal()), tokens: past, start: 0, count: past });
  }
  return store;
}

function filledRvq(past: number, depth: number): KvStore {
  const store = new KvCodeStore({ numLayers: c.numLayers, keySpec: spec, valueSpec: spec });
  store.setDepth(depth);
  const records = Uint8Array.from({ length: past * rvqCodeBytesPerToken(spec) }, () => rng.int(256));
  const scales = new Uint16Array(past * scalesPerToken(spec)).fill(0x3c00);
  for (let i = 0; i < c.numLayers; i++) for (const kind of KV_KINDS) store.appendPacked(i, kind, records, spec.depth, scales);
  return store;
}

const noText = { eosIds: [] as number[], decode: () => '' };
const mib = (b: number) => (b / 2 ** 20).toFixed(2);

async function run(name: string, decoder: DecoderStep<KvStore>, store: KvStore, fp16Speed?: number): Promise<number> {
  const result = await generate({ decoder, store, tokenizer: noText, input: [42], options: { maxTokens: steps + 1 } });
  const t = result.timing;
  const b = result.cache;
  const vsFp16 = fp16Speed ? `  speed x${(t.decodeTokensPerSecond / fp16Speed).toFixed(2)} of fp16` : '';
  console.log(
    `  ${name.padEnd(11)} decode ${t.decodeTokensPerSecond.toFixed(1).padStart(6)} tok/s  p50 ${t.latencyP50Ms.toFixed(1)} ms  p95 ${t.latencyP95Ms.toFixed(1)} ms | ` +
      `held ${mib(b.held)} MiB (codes ${mib(b.codes)} + scales ${mib(b.scales)} + values ${mib(b.values)} + depths ${mib(b.bookkeeping)}), fp16 ${mib(b.fp16)} MiB, x${(b.fp16 / (b.codes + b.scales + b.values)).toFixed(2)} smaller, ` +
      `fed/step ${mib(b.fedPerStep)} MiB (${(b.fedPerStep / (b.codes + b.scales + b.values)).toFixed(3)}x codes+scales) | rss ${mib(result.residentBytes)} MiB${vsFp16}`,
  );
  return t.decodeTokensPerSecond;
}

for (const past of pasts) {
  console.log(`context ${past} (+${steps} decoded):`);
  const fp16Speed = await run('fp16', fp as DecoderStep<KvStore>, filledFp16(past));
  await run('rvq depth 8', rvq as DecoderStep<KvStore>, filledRvq(past, 8), fp16Speed);
  await run('rvq depth 4', rvq as DecoderStep<KvStore>, filledRvq(past, 4), fp16Speed);
}
