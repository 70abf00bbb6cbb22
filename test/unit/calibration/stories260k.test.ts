// Calibration of the real stories260K fixture on part of the shared TinyStories sample, checked on
// held-out stories: the default configuration for head_dim 8, the saved codebooks, and that deeper
// codes reconstruct the held-out pre-RoPE K/V better.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeCodebooks, RvqCodec, rvqBitsPerValue, snrDb } from '../../../quant/index.js';
import { calibrateModel, calibrationSettingsSchema, calibrationSpecs } from '../../../main/engine/calibration/calibrate.js';
import { documentTokens, splitDocuments } from '../../../main/engine/calibration/calibration-text.js';
import { KvCapture } from '../../../main/engine/calibration/kv-capture.js';
import { loadLibraryTokenizer } from '../../../main/model/library.js';
import { importModel } from '../../../main/library/import-model.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('calibrating stories260K', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reskv-calibration-260k-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('learns codebooks on stories 0..29 that code held-out stories 200..204 better at every depth', async () => {
    const { folder, manifest } = importModel(fixtures.stories260K, { library: join(dir, 'library') });
    const stories = splitDocuments(readFileSync(fixtures.validSample, 'utf8'));
    expect(stories).toHaveLength(221);
    const textFile = join(dir, 'calibration.txt');
    writeFileSync(textFile, stories.slice(0, 30).join('\n<|endoftext|>\n'));

    // the configuration for head_dim 8: 32-channel groups over the token's 4 KV heads, one scale per token
    const defaults = calibrationSpecs(manifest.config, calibrationSettingsSchema.parse({}));
    expect(defaults.key).toMatchObject({ groupSize: 32, groupSpan: 'token', scale: 'token', codebookSize: 2048, depth: 8 });
    expect(rvqBitsPerValue(defaults.key)).toBe(3.25);

    const result = await calibrateModel(folder, { text: { kind: 'files', paths: [textFile] }, settings: { codebookSize: 256, depth: 4, kmeansIterations: 4, seed: 1 } });
    expect(result.specs.key).toMatchObject({ groupSize: 32, groupSpan: 'token', scale: 'token', codebookSize: 256, depth: 4 });
    expect(result.record.tokensSampled).toBe(result.record.tokensSeen);
    expect(result.record.tokensSeen).toBeGreaterThan(5000);
    const set = decodeCodebooks(new Uint8Array(readFileSync(result.codebookFile)));
    expect(set.layers).toHaveLength(5);
    const session = await ort.InferenceSession.create(result.graphFile);
    expect(session.inputNames).toContain('past_codes.4.key');
    await session.release();

    const capture = await KvCapture.open(join(folder, manifest.graphs.capture), manifest.config, { providers: ['cpu'] });
    const tokenizer = loadLibraryTokenizer(folder, manifest);
    const heldOut = await Promise.all(stories.slice(200, 205).map((s) => capture.run(documentTokens(tokenizer, s).slice(0, 512))));
    await capture.release();
    for (let layer = 0; layer < 5; layer++) {
      for (const kind of ['key', 'value'] as const) {
        const codec = new RvqCodec(kind === 'key' ? set.keySpec : set.valueSpec, set.layers[layer][kind]);
        const rows = heldOut[layer % heldOut.length][layer][kind];
        const encoded = codec.encode(rows);
        const snr = [1, 2, 3, 4].map((depth) => snrDb(rows, codec.decode(encoded, depth)));
        for (let depth = 1; depth < 4; depth++) expect(snr[depth], `layer ${layer} ${kind} depth ${depth + 1}`).toBeGreaterThan(snr[depth - 1]);
        // decoding to zero scores 0 dB; with seed 1 these codebooks give 21.7..46.8 dB (keys) and 8.1..32.3 dB (values) at depth 4
        expect(snr[3], `layer ${layer} ${kind}`).toBeGreaterThan(kind === 'key' ? 15 : 6);
      }
    }
  });
});
