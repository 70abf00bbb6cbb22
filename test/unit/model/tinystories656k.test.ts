// The real Hugging Face checkpoint TinyStories-656K (../shared): its tied embedding is stored only as
// lm_head.weight with a safetensors metadata alias. Import, greedy text against the float64 reference,
// then the library path end to end: fp16, q8_0 and rvq caches (after a small calibration) and eval.
import * as ort from 'onnxruntime-node';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeSafetensors, safetensorToFloat32 } from '../../../quant/index.js';
import { evalCommand } from '../../../main/cli/eval.js';
import { calibrateModel } from '../../../main/engine/calibration/calibrate.js';
import type { EngineOpenOptions } from '../../../main/engine/engine-model.js';
import { readHfCheckpoint } from '../../../main/model/hf.js';
import { importModel } from '../../../main/library/import-model.js';
import { ReferenceModel, referenceGreedy } from '../../../main/model/reference.js';
import type { HfTokenizer } from '../../../main/model/tokenizer-hf.js';
import { readHfTokenizer } from '../../../main/model/tokenizer-hf.js';
import type { LoadedCheckpoint } from '../../../main/model/weights.js';
import { readAllWeights } from '../../../main/model/weights.js';
import { buildDecoderGraph } from '../../../main/onnx/decoder.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import { asReply, engineGreedy, rvqRoundTrip } from './engine-greedy.js';
import { emptyFpCache, graphGreedy, maxLogitError, stepFeeds } from './session.js';

const folder = fixtures.tinyStories656K;
const prompts = ['Once upon a time', 'The little dog', 'Tom and Sue went to the park. They', 'One day, a big'];
const steps = 40;

describe.skipIf(!haveFixtures(folder, fixtures.validSample))('TinyStories-656K', () => {
  let ck: LoadedCheckpoint;
  let weights: Map<string, Float32Array>;
  let tok: HfTokenizer;
  /** The reference's greedy ids after BOS + prompt, per prompt. */
  const expected = new Map<string, number[]>();
  const promptIds = (text: string) => [tok.bosId!, ...tok.encode(text)];

  beforeAll(() => {
    ck = readHfCheckpoint(folder);
    weights = readAllWeights(ck.weights);
    tok = readHfTokenizer(folder);
    for (const p of prompts) expected.set(p, referenceGreedy(new ReferenceModel(ck.config, weights), promptIds(p), steps));
    return () => ck.weights.close();
  });

  it('imports the tied embedding from lm_head.weight, which the metadata names as model.embed_tokens.weight', () => {
    expect(ck.config).toMatchObject({ architecture: 'llama', hiddenSize: 128, numLayers: 2, numHeads: 8, numKvHeads: 4, headDim: 16, intermediateSize: 384, vocabSize: 2048, maxPositions: 512, tiedEmbeddings: true });
    const file = decodeSafetensors(readFileSync(join(folder, 'model.safetensors')));
    expect(file.metadata['model.embed_tokens.weight']).toBe('lm_head.weight');
    expect(file.tensors['model.embed_tokens.weight']).toBeUndefined();
    expect(weights.get('model.embed_tokens.weight')).toEqual(safetensorToFloat32(file.tensors['lm_head.weight']));
    expect(weights.has('lm_head.weight')).toBe(false);
    expect(tok.bosId).toBe(1);
    expect(tok.eosIds).toEqual([2]);
  });

  it('fp graph logits match the float64 reference within 1e-4', async () => {
    const session = await ort.InferenceSession.create(buildDecoderGraph(ck.config, ck.weights));
    const ids = promptIds(prompts[0]);
    const out = await session.run({ ...stepFeeds(ids, 0), ...emptyFpCache(ck.config) });
    expect(maxLogitError(new ReferenceModel(ck.config, weights), ids, out.logits.data as Float32Array)).toBeLessThan(1e-4);
  });

  it('greedy text through onnxruntime equals the float64 reference for every prompt', async () => {
    const session = await ort.InferenceSession.create(buildDecoderGraph(ck.config, ck.weights));
    for (const p of prompts) expect(await graphGreedy(session, ck.config, promptIds(p), steps), p).toEqual(expected.get(p));
    // the model card's story, so the reference itself is known to run the checkpoint right
    expect(tok.decode(expected.get(prompts[0])!)).toMatch(/^, a little girl named Lily lived in a small house with her mom, dad, and her dog, Spot/);
  });

  describe('in the library', () => {
    let dir: string;
    let library: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'reskv-ts656k-'));
      library = join(dir, 'library');
      const { folder: modelFolder } = importModel(folder, { library, id: 'tinystories' });
      const text = readFileSync(fixtures.validSample, 'utf8').slice(0, 6000);
      await calibrateModel(modelFolder, { text: { kind: 'text', name: 'sample', text }, settings: { depth: 4, codebookSize: 64, groupSize: 16, maxVectors: 2000, kmeansIterations: 4 } });
    }, 300_000);
    afterAll(() => rmSync(dir, { recursive: true, force: true }));
    afterEach(() => vi.restoreAllMocks());

    const greedy = (cache: EngineOpenOptions['cache']) => engineGreedy(library, 'tinystories', cache, prompts, steps);

    it('generates with the fp16 cache exactly the reference text', async () => {
      const replies = await greedy({ format: 'fp16' });
      for (const p of prompts) expect(replies.get(p), p).toEqual(asReply(expected.get(p)!, tok.eosIds));
    }, 120_000);

    it('generates with the calibrated rvq cache exactly what the reference does through the same codebooks', async () => {
      const roundTrip = rvqRoundTrip(join(library, 'tinystories'));
      const replies = await greedy({ format: 'rvq' });
      for (const p of prompts) expect(replies.get(p), p).toEqual(asReply(referenceGreedy(new ReferenceModel(ck.config, weights, roundTrip), promptIds(p), steps), tok.eosIds));
    }, 240_000);

    it('generates with the q8_0 cache, agreeing with the reference on the first tokens', async () => {
      const replies = await greedy({ format: 'q8_0' });
      // q8_0 loses almost nothing (eval: KL ~1e-4)
      for (const p of prompts) expect(replies.get(p)!.slice(0, 5), p).toEqual(expected.get(p)!.slice(0, 5));
    }, 120_000);

    it('reskv eval scores it with fp16, q8_0 and rvq', async () => {
      const log = vi.spyOn(console, 'log').mockImplementation(() => {});
      vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
      expect(await evalCommand.run(['--model', 'tinystories', '--library', library, '--text', fixtures.validSample, '--max-tokens', '192', '--formats', 'q8_0,rvq', '--json'])).toBe(0);
      const result = JSON.parse(log.mock.calls.map((c) => c.join(' ')).join('\n'));
      const rows = result.results as { name: string; perplexity: number }[];
      expect(rows.map((r) => r.name)).toEqual(['fp16', 'q8_0', 'rvq']);
      // a pretrained model on its own kind of text: far below the uniform 2048
      for (const r of rows) expect(r.perplexity).toBeGreaterThan(1);
      expect(rows[0].perplexity).toBeLessThan(100);
    }, 240_000);
  });
});
