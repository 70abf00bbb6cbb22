// npm run bench:encode-quality [-- --models stories260K,tinystories-656k --search clustered:64:8,clustered:64:4
//   --depths 8,4 --calibration-stories 150 --max-vectors 8192 --kmeans-sample 8192 --kmeans-iterations 6
//   --max-eval-tokens 4096 --capture-tokens 2048]
// The fused path's approximate RVQ encode (KernelRvqCodec's clustered search) against the exact greedy
// encode, on real models with codebooks trained by `reskv calibrate`'s module: each model (../shared) is
// imported into a temporary library and calibrated (C 2048, depth 8, groups of one head's channels so
// that the fused path applies: 8 for stories260K, 16 for tinystories-656k) on the first stories of the
// TinyStories validation sample; the rest are held out. Training is cut down from calibrate's defaults
// (--max-vectors token rows per layer, --kmeans-sample, --kmeans-iterations) to fit a shared 2-core
// machine; the codebooks are still trained k-means + EMA ones.
// 1. Codes: every layer's K and V of the held-out tokens (the capture graph) encoded both ways: the
//    share of codes equal to the exact encode's (all stages, and stage 1 alone), and the reconstruction
//    error |x - x^|^2 / |x|^2 of quant's RvqCodec decode of each.
// 2. Teacher-forced perplexity on the fused path (fp16 reference, rvq at each depth), once per search
//    (RESKV_ENCODE_SEARCH is read when a runtime's codecs are built), with KL(fp16 || rvq).
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { decodeCodebooks, RvqCodec } from '../../quant/index.js';
import type { RvqEncoded } from '../../quant/index.js';
import { calibrateModel } from '../../main/engine/calibration/calibrate.js';
import { documentTokens, splitDocuments } from '../../main/engine/calibration/calibration-text.js';
import { KvCapture } from '../../main/engine/calibration/kv-capture.js';
import type { LayerKv } from '../../main/engine/calibration/kv-capture.js';
import { evaluateLibraryModel, evaluationTable } from '../../main/engine/evaluate-library.js';
import type { NamedChoice } from '../../main/engine/evaluate-library.js';
import { KV_KINDS } from '../../main/engine/kv-store.js';
import { FusedKernel } from '../../main/engine/fused/kernel.js';
import { EXACT_SEARCH, KernelRvqCodec, encodeSearchFromEnv } from '../../main/engine/fused/kernel-codec.js';
import { importModel } from '../../main/library/import-model.js';
import { loadLibraryTokenizer } from '../../main/model/library.js';
import { readManifest } from '../../main/model/manifest.js';
import { fixtures, haveFixtures } from '../support/shared.js';

const { values: args } = parseArgs({
  options: {
    models: { type: 'string', default: 'stories260K,tinystories-656k' },
    search: { type: 'string', default: 'clustered:64:8,clustered:64:4' },
    depths: { type: 'string', default: '8,4' },
    'calibration-stories': { type: 'string', default: '150' },
    'max-vectors': { type: 'string', default: '8192' },
    'kmeans-sample': { type: 'string', default: '8192' },
    'kmeans-iterations': { type: 'string', default: '6' },
    'max-eval-tokens': { type: 'string', default: '4096' },
    'capture-tokens': { type: 'string', default: '2048' },
  },
});
const searches = args.search.split(',');
const depths = args.depths.split(',').map(Number);
const session = { providers: ['cpu' as const] };
const models: Record<string, { source: string; tokenizer?: string; groupSize: number }> = {
  stories260K: { source: fixtures.stories260K, tokenizer: fixtures.tok512, groupSize: 8 },
  'tinystories-656k': { source: fixtures.tinyStories656K, groupSize: 16 },
};
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;

/** Relative squared reconstruction error summed over rows. */
function relativeError(rows: Float32Array, decoded: Float32Array): number {
  let err = 0;
  let norm = 0;
  for (let i = 0; i < rows.length; i++) {
    err += (rows[i] - decoded[i]) ** 2;
    norm += rows[i] ** 2;
  }
  return err / norm;
}

/** Codes equal to the exact encode's: all stages, and the first stage alone. */
function agreement(exact: RvqEncoded, other: RvqEncoded): { all: number; first: number } {
  const perStage = exact.codes.length / (exact.tokens * exact.depth);
  let all = 0;
  let first = 0;
  for (let i = 0; i < exact.codes.length; i++) {
    if (exact.codes[i] !== other.codes[i]) continue;
    all++;
    if (Math.floor(i / perStage) % exact.depth === 0) first++;
  }
  return { all: all / exact.codes.length, first: first / (exact.codes.length / exact.depth) };
}

async function measure(name: string, dir: string, stories: string[]): Promise<void> {
  const model = models[name];
  if (!model) throw new Error(`--models: unknown model ${name} (known: ${Object.keys(models).join(', ')})`);
  if (!haveFixtures(model.source, ...(model.tokenizer ? [model.tokenizer] : []))) return;
  const calibrationStories = Number(args['calibration-stories']);
  const calibrationFile = join(dir, `${name}-calibration.txt`);
  writeFileSync(calibrationFile, stories.slice(0, calibrationStories).join('\n<|endoftext|>\n'));
  const { folder } = importModel(model.source, { library: join(dir, 'library'), id: name, ...(model.tokenizer ? { tokenizer: model.tokenizer } : {}) });
  const settings = {
    depth: 8,
    codebookSize: 2048,
    groupSize: model.groupSize,
    seed: 0,
    maxVectors: Number(args['max-vectors']),
    kmeansSample: Number(args['kmeans-sample']),
    kmeansIterations: Number(args['kmeans-iterations']),
  };
  const calibrated = await calibrateModel(folder, { text: { kind: 'files', paths: [calibrationFile] }, settings, session });
  const manifest = readManifest(folder);
  const { config } = manifest;
  const tokenizer = loadLibraryTokenizer(folder, manifest);
  const heldOut = stories.slice(calibrationStories).map((d) => documentTokens(tokenizer, d));
  console.log(`\n== ${name}: ${config.numLayers} layers, ${config.numKvHeads} KV heads x ${config.headDim}; RVQ C 2048, depth 8, groups of ${model.groupSize} (${calibrated.specs.key.grouping} keys, ${calibrated.specs.value.grouping} values), calibrated on stories 0..${calibrationStories - 1} (${calibrated.record.tokensSampled} rows sampled per layer, ${calibrated.seconds.train.toFixed(0)} s training) (${elapsed()})`);

  // 1. codes on held-out K/V
  const set = decodeCodebooks(new Uint8Array(readFileSync(join(folder, manifest.rvq.default.codebooks))));
  const capture = await KvCapture.open(join(folder, manifest.graphs.capture), config, session);
  const captureTokens = Number(args['capture-tokens']);
  const layers: LayerKv[][] = [];
  let taken = 0;
  for (const doc of heldOut) {
    if (taken >= captureTokens) break;
    const chunk = doc.slice(0, Math.min(config.maxPositions, captureTokens - taken));
    layers.push(await capture.run(chunk));
    taken += chunk.length;
  }
  await capture.release();
  const kernel = new FusedKernel(undefined, { threads: 1 });
  console.log(`codes of ${taken} held-out tokens (every layer, K and V; error = |x - decoded|^2 / |x|^2):`);
  console.log(['search', 'depth', 'kind', 'codes = exact', 'stage 1 = exact', 'error exact', 'error search', 'error ratio'].join('\t'));
  for (const kind of KV_KINDS) {
    const spec = kind === 'key' ? set.keySpec : set.valueSpec;
    const rows = (i: number) => {
      const parts = layers.map((l) => l[i][kind]);
      const all = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
      let at = 0;
      for (const p of parts) all.set(p, (at += p.length) - p.length);
      return all;
    };
    for (const depth of depths) {
      const exact = set.layers.map((l, i) => {
        const reference = new RvqCodec(spec, l[kind]);
        const encoded = new KernelRvqCodec(kernel, spec, l[kind], EXACT_SEARCH).encode(rows(i), depth);
        return { reference, encoded, error: relativeError(rows(i), reference.decode(encoded)) };
      });
      for (const search of searches) {
        let agreeAll = 0;
        let agreeFirst = 0;
        let errorExact = 0;
        let errorSearch = 0;
        set.layers.forEach((l, i) => {
          const encoded = new KernelRvqCodec(kernel, spec, l[kind], encodeSearchFromEnv(EXACT_SEARCH, search)).encode(rows(i), depth);
          const a = agreement(exact[i].encoded, encoded);
          agreeAll += a.all / set.layers.length;
          agreeFirst += a.first / set.layers.length;
          errorExact += exact[i].error / set.layers.length;
          errorSearch += relativeError(rows(i), exact[i].reference.decode(encoded)) / set.layers.length;
        });
        console.log([search, depth, kind, `${(100 * agreeAll).toFixed(1)}%`, `${(100 * agreeFirst).toFixed(1)}%`, errorExact.toFixed(5), errorSearch.toFixed(5), (errorSearch / errorExact).toFixed(3)].join('\t'));
      }
    }
  }
  kernel.close();

  // 2. perplexity on the fused path, once per search
  const evalTokens = heldOut.flat().slice(0, Number(args['max-eval-tokens']));
  const choices: NamedChoice[] = [{ name: 'fp16', choice: { format: 'fp16' } }, ...depths.map((depth) => ({ name: `rvq d${depth}`, choice: { format: 'rvq' as const, depth } }))];
  for (const search of ['exact', ...searches]) {
    process.env.RESKV_ENCODE_SEARCH = search;
    const rows = await evaluateLibraryModel(folder, manifest, evalTokens, choices, { session, chunk: 128 });
    console.log(`\nperplexity, fused path, encode search ${search} (${rows[0].positions} held-out positions, ${elapsed()}):`);
    console.log(evaluationTable(rows, config.maxPositions));
  }
  delete process.env.RESKV_ENCODE_SEARCH;
}

const dir = mkdtempSync(join(tmpdir(), 'reskv-bench-encode-'));
try {
  if (!haveFixtures(fixtures.validSample)) process.exit(1);
  const stories = splitDocuments(readFileSync(fixtures.validSample, 'utf8'));
  for (const name of args.models.split(',')) await measure(name, dir, stories);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
