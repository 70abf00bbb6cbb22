// npm run bench:engine (issue 5's benchmark).
// Part 1, quality on a real model: stories260K (../shared) is imported into a temporary library and
// calibrated (reskv calibrate's module) on the first stories of ../shared/data/tinystories-valid-sample.txt;
// the remaining stories are held out for the teacher-forced evaluation of fp16, q8_0, q4_0, KIVI-2 and
// RVQ depths 1..8, then RVQ on the keys only and on the values only (the other kind fp16), strided vs
// contiguous key grouping (two more sets with 16-channel groups, where grouping matters), the recent
// window (R 0 vs 32) and a per-layer depth chosen from a per-layer sensitivity run. RVQ configuration:
// 32-channel groups spanning the token's 4 KV heads (head_dim 8), one fp16 scale per token, C 2048,
// depth 8 = 3.25 bits/value.
// Part 2, speed: decode tokens/s, bytes and resident memory on a random model of SmolLM2-135M's
// geometry at contexts 128, 512, 2048 (engine-speed.ts). Measured-vs-target lines at the end of each part.
// Usage: npm run bench:engine [-- --calibration-stories 150 --max-eval-tokens 8192 --steps 16 --rounds 3 --skip-speed --skip-grouping]
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { calibrateModel } from '../../main/engine/calibration/calibrate.js';
import { documentTokens, splitDocuments } from '../../main/engine/calibration/calibration-text.js';
import { onlySuffix } from '../../main/engine/cache-runtime.js';
import type { LayerDepths } from '../../main/engine/cache-runtime.js';
import { choiceName, defaultChoices, evaluateLibraryModel, evaluationTable } from '../../main/engine/evaluate-library.js';
import type { LibraryEvaluation, NamedChoice } from '../../main/engine/evaluate-library.js';
import { loadLibraryTokenizer } from '../../main/model/library.js';
import { importModel } from '../../main/library/import-model.js';
import { readManifest } from '../../main/model/manifest.js';
import { fixtures, haveFixtures } from '../support/shared.js';
import { runEngineSpeed } from './engine-speed.js';

const { values } = parseArgs({
  options: {
    'calibration-stories': { type: 'string', default: '150' },
    'max-eval-tokens': { type: 'string', default: '8192' },
    steps: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '3' },
    'skip-speed': { type: 'boolean' },
    'skip-grouping': { type: 'boolean' },
  },
});
const calibrationStories = Number(values['calibration-stories']);
const maxEvalTokens = Number(values['max-eval-tokens']);
const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(0)} s`;
const verdict = (ok: boolean) => (ok ? 'MET' : 'MISSED');
const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`;
const session = { providers: ['cpu' as const] };

if (!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample)) process.exit(1);
const dir = mkdtempSync(join(tmpdir(), 'reskv-bench-engine-'));
try {
  console.log('== Part 1: stories260K, calibrated on part of the TinyStories validation sample, evaluated on the rest ==');
  const stories = splitDocuments(readFileSync(fixtures.validSample, 'utf8'));
  const calibrationFile = join(dir, 'calibration-stories.txt');
  writeFileSync(calibrationFile, stories.slice(0, calibrationStories).join('\n<|endoftext|>\n'));
  const heldOut = stories.slice(calibrationStories);
  const { folder } = importModel(fixtures.stories260K, { library: join(dir, 'library'), id: 'stories260K', tokenizer: fixtures.tok512 });
  const manifest0 = readManifest(folder);
  const tokenizer = loadLibraryTokenizer(folder, manifest0);
  const evalTokens = heldOut.flatMap((d) => documentTokens(tokenizer, d)).slice(0, maxEvalTokens);
  const calibrated = await calibrateModel(folder, { text: { kind: 'files', paths: [calibrationFile] }, settings: { depth: 8, codebookSize: 2048, groupSize: 32, seed: 0 }, session });
  const k = calibrated.specs.key;
  console.log(`stories 0..${calibrationStories - 1} of ${stories.length} calibrate (${calibrated.record.tokensSeen} tokens seen, ${calibrated.record.tokensSampled} sampled per layer); stories ${calibrationStories}..${stories.length - 1} are held out: the first ${evalTokens.length} of their tokens (BOS before each story) are evaluated in ${manifest0.config.maxPositions}-token segments`);
  console.log(`RVQ: C ${k.codebookSize}, depth ${k.depth}, groups of ${k.groupSize} spanning the token's ${k.numKvHeads} KV heads of ${k.headDim} (${calibrated.specs.key.grouping} keys, ${calibrated.specs.value.grouping} values; one group per token, so the grouping is moot), one fp16 scale per ${k.scale}: ${calibrated.bitsPerValue.key} bits/value at depth 8; calibration took ${calibrated.seconds.capture.toFixed(1)} s capture + ${calibrated.seconds.train.toFixed(1)} s training`);
  const manifest = readManifest(folder);
  const context = manifest.config.maxPositions;
  const rows = await evaluateLibraryModel(folder, manifest, evalTokens, defaultChoices(manifest, { depths: [1, 2, 3, 4, 5, 6, 7, 8], oneKind: false }), { session, chunk: 128 });
  console.log(`\nteacher-forced over ${rows[0].positions} held-out positions (${elapsed()}; q8_0, q4_0 and KIVI-2 run the fp graph one token a step so that every token attends to the quantized past):`);
  console.log(evaluationTable(rows, context));
  const codebooks = rows.find((r) => r.codebookBytes > 0)!.codebookBytes;
  const fp16PerToken = rows[0].bytes.fp16 / rows[0].bytes.tokens;
  console.log(`codebook bytes (float32, 5 layers x K and V x 8 stages x 2048 x 32): ${codebooks} = the fp16 cache of ${(codebooks / fp16PerToken).toFixed(0)} tokens (${(codebooks / (fp16PerToken * context)).toFixed(1)}x a full ${context}-token fp16 cache); the last column states each ratio at ${context} tokens counting them`);

  const byName = (name: string) => rows.find((r) => r.name === name) as LibraryEvaluation;
  const d8 = byName('rvq:default d8');
  const d4 = byName('rvq:default d4');
  console.log('\nmeasured vs target (part 1):');
  console.log(`  RVQ depth 8 bits/value ${d8.bitsPerValue} (measured bytes) — target 3.25: ${verdict(d8.bitsPerValue === 3.25)}`);
  console.log(`  RVQ depth 8 perplexity ${pct(d8.perplexityChangePercent)} — target <= +1%: ${verdict(d8.perplexityChangePercent <= 1)}`);
  console.log(`  RVQ depth 8 KL ${d8.meanKl.toFixed(4)} — target <= 0.01: ${verdict(d8.meanKl <= 0.01)}`);
  console.log(`  RVQ depth 8 top-1 agreement ${(100 * d8.top1Agreement).toFixed(2)}% — target >= 96%: ${verdict(d8.top1Agreement >= 0.96)}`);
  console.log(`  RVQ depth 4 perplexity ${pct(d4.perplexityChangePercent)} — target <= +2.5%: ${verdict(d4.perplexityChangePercent <= 2.5)}`);
  for (const name of ['q4_0', 'kivi2']) {
    const r = byName(name);
    console.log(`  ${name} (${r.bitsPerValue.toFixed(2)} bits/value) perplexity ${pct(r.perplexityChangePercent)} vs RVQ depth 8 (3.25) ${pct(d8.perplexityChangePercent)} — target: scalar loses more: ${verdict(r.perplexityChangePercent > d8.perplexityChangePercent)}`);
  }

  console.log(`\nRVQ on one kind only, the other kept fp16 (/keys: keys coded pre-RoPE, values fp16; /values: the reverse) (${elapsed()}):`);
  console.log('(like q8_0, q4_0 and KIVI-2 these run the fp graph one token a step, so each token attends to the coded past and to its own K/V uncoded; the rvq rows attend their own K/V coded too)');
  const oneKind: NamedChoice[] = [{ name: 'fp16', choice: { format: 'fp16' } }];
  for (const depth of [8, 4]) for (const only of [undefined, 'key', 'value'] as const) oneKind.push({ name: choiceName(`rvq${only ? `/${onlySuffix(only)}` : ''}`, depth), choice: { format: 'rvq', depth, only } });
  console.log(evaluationTable(await evaluateLibraryModel(folder, manifest, evalTokens, oneKind, { session, chunk: 128 }), context));

  if (!values['skip-grouping']) {
    // One group per token (32 channels over 4 heads of 8) leaves nothing to group: strided and
    // contiguous would be the same codebooks. Two sets of 16-channel groups spanning the token differ
    // only in the key grouping (strided: even channels / odd channels; contiguous: heads 0-1 / 2-3).
    console.log(`\nstrided vs contiguous key grouping (${elapsed()}): two more sets calibrated on the same stories, same settings but the key grouping —`);
    const grouping = { depth: 4, codebookSize: 2048, groupSize: 16, groupSpan: 'token', scale: 'token', valueGrouping: 'contiguous', seed: 0 } as const;
    console.log(`groups of ${grouping.groupSize} spanning the token, C ${grouping.codebookSize}, depth ${grouping.depth} (= 3.25 bits/value, the default set's depth-8 rate; trained to depth 4 only to keep the bench modest), one fp16 scale per token, values contiguous`);
    for (const keyGrouping of ['strided', 'contiguous'] as const) {
      const r = await calibrateModel(folder, { text: { kind: 'files', paths: [calibrationFile] }, settings: { ...grouping, keyGrouping, name: `g16-${keyGrouping}` }, session });
      console.log(`  g16-${keyGrouping}: keys ${r.specs.key.grouping}, values ${r.specs.value.grouping}, ${r.bitsPerValue.key} bits/value; ${r.seconds.train.toFixed(1)} s training`);
    }
    const manifestG = readManifest(folder);
    const groupingChoices: NamedChoice[] = [{ name: 'fp16', choice: { format: 'fp16' } }];
    for (const depth of [4, 2]) {
      for (const set of ['g16-strided', 'g16-contiguous']) for (const only of [undefined, 'key'] as const) groupingChoices.push({ name: choiceName(`rvq:${set}${only ? `/${onlySuffix(only)}` : ''}`, depth), choice: { format: 'rvq', codebooks: set, depth, only } });
    }
    const groupingRows = await evaluateLibraryModel(folder, manifestG, evalTokens, groupingChoices, { session, chunk: 128 });
    console.log(evaluationTable(groupingRows, context));
    const row = (name: string) => groupingRows.find((r) => r.name === name) as LibraryEvaluation;
    for (const [what, suffix] of [['keys and values', ' d4'], ['keys only', '/keys d4']]) {
      const [strided, contiguous] = ['strided', 'contiguous'].map((g) => row(`rvq:g16-${g}${suffix}`));
      console.log(`  ${what} at depth 4: KL strided ${strided.meanKl.toFixed(5)} vs contiguous ${contiguous.meanKl.toFixed(5)}, perplexity ${pct(strided.perplexityChangePercent)} vs ${pct(contiguous.perplexityChangePercent)} — ${strided.meanKl < contiguous.meanKl ? 'strided' : 'contiguous'} keys lose less`);
    }
  }

  console.log(`\nrecent window (beyond the paper): the newest R tokens kept in fp16 (${elapsed()}):`);
  const windowChoices: NamedChoice[] = [{ name: 'fp16', choice: { format: 'fp16' } }];
  for (const depth of [8, 4, 2]) for (const R of [0, 32]) windowChoices.push({ name: `rvq d${depth} R${R}`, choice: { format: 'rvq', depth, recentWindow: R } });
  console.log(evaluationTable(await evaluateLibraryModel(folder, manifest, evalTokens, windowChoices, { session, chunk: 128 }), context));

  console.log(`\nper-layer depth (beyond the paper), chosen from a sensitivity run: one layer at depth 2, the others at 8 (${elapsed()}):`);
  const L = manifest.config.numLayers;
  const depthsWith = (fill: number, layer: number, depth: number): LayerDepths => {
    const list = Array.from({ length: L }, (_, i) => (i === layer ? depth : fill));
    return { key: list, value: [...list] };
  };
  const sensitivity = await evaluateLibraryModel(folder, manifest, evalTokens.slice(0, 4096), [
    { name: 'fp16', choice: { format: 'fp16' } },
    ...Array.from({ length: L }, (_, i) => ({ name: `layer ${i} at d2`, choice: { format: 'rvq' as const, layerDepths: depthsWith(8, i, 2) } })),
  ], { session, chunk: 128 });
  console.log(evaluationTable(sensitivity, context));
  // KL, not perplexity: over 4096 tokens the perplexity change is too noisy to rank layers by
  const worst = sensitivity.slice(1).reduce((a, b, i) => (b.meanKl > a.kl ? { layer: i, kl: b.meanKl } : a), { layer: 0, kl: -Infinity }).layer;
  console.log(`most sensitive (largest KL): layer ${worst}; it keeps depth 8, the other layers get 4, against uniform depths 4 and 5:`);
  const perLayer = await evaluateLibraryModel(folder, manifest, evalTokens, [
    { name: 'fp16', choice: { format: 'fp16' } },
    { name: 'rvq d4', choice: { format: 'rvq', depth: 4 } },
    { name: 'rvq d5', choice: { format: 'rvq', depth: 5 } },
    { name: `rvq layer ${worst} d8, rest d4`, choice: { format: 'rvq', layerDepths: depthsWith(4, worst, 8) } },
  ], { session, chunk: 128 });
  console.log(evaluationTable(perLayer, context));
} finally {
  rmSync(dir, { recursive: true, force: true });
}

if (!values['skip-speed']) {
  console.log(`\n== Part 2: decode speed and bytes, random model of SmolLM2-135M geometry (${elapsed()}) ==`);
  const speed = await runEngineSpeed([128, 512, 2048], Number(values.steps), Number(values.rounds));
  console.log('\nmeasured vs target (part 2):');
  for (const s of speed) {
    const r8 = s.rvq[8].bytes;
    const held8 = r8.codes + r8.scales;
    console.log(`  context ${s.context}: RVQ depth 8 codes + scales ${held8} bytes, formula ${s.formulaBytes[8]} — target: exact: ${verdict(held8 === s.formulaBytes[8])}; ${(r8.fp16 / held8).toFixed(2)}x smaller than fp16 — target 5.33x: ${verdict((r8.fp16 / held8).toFixed(2) === '5.33')}`);
    for (const depth of [8, 4] as const) {
      const m = s.rvq[depth];
      console.log(`  context ${s.context}: RVQ depth ${depth} bytes fed per step ${(m.bytes.fedPerStep / m.bytes.held).toFixed(3)}x held (depth bytes included) — target <= 1.1x: ${verdict(m.bytes.fedPerStep <= 1.1 * m.bytes.held)}`);
    }
  }
  const last = speed.find((s) => s.context === 2048);
  if (last) {
    for (const depth of [8, 4] as const) {
      const { rounds, median } = last.speedRatios[depth];
      console.log(`  RVQ depth ${depth} decode ${median.toFixed(2)}x fp16 at 2048 (median of ${rounds.length} interleaved rounds: ${rounds.map((r) => r.toFixed(2)).join(', ')}; p50 latency ${last.rvq[depth].latencyP50Ms.toFixed(1)} vs ${last.fp16.latencyP50Ms.toFixed(1)} ms in the last) — target 0.8x: ${verdict(median >= 0.8)}`);
    }
    console.log(`  resident memory at the end: ${(last.rvq[4].residentBytes / 2 ** 20).toFixed(0)} MiB (process, both graphs loaded)`);
  }
}
console.log(`\ntotal ${elapsed()}`);
