// openCacheRuntime with an rvq graph installed by an earlier version (one record size per kind for
// every layer, which made ONNX Runtime reuse buffers across layers of different depths): it is
// rebuilt on open, and a store whose layers hold different depths then steps through it.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openCacheRuntime } from '../../../main/engine/cache-runtime.js';
import { RvqGraphDecoder } from '../../../main/engine/rvq-graph-decoder.js';
import { readManifest, writeManifest } from '../../../main/model/manifest.js';
import { decodeCodebooks } from '../../../quant/index.js';
import { fixtures, haveFixtures } from '../../support/shared.js';
import type { StoriesLibrary } from './engine-library.js';
import { createStoriesLibrary } from './engine-library.js';

const cpu = { providers: ['cpu' as const], threads: 1 };

/** The graph with every past_codes input's record size renamed to the earlier `<kind>_record_bytes`. */
function asEarlierVersion(graph: Uint8Array): Uint8Array {
  const model = onnxProto.onnx.ModelProto.decode(graph);
  for (const input of model.graph!.input!) {
    const match = /^past_codes\.\d+\.(key|value)$/.exec(input.name!);
    if (match) input.type!.tensorType!.shape!.dim![2] = { dimParam: `${match[1]}_record_bytes` };
  }
  return onnxProto.onnx.ModelProto.encode(model).finish();
}

describe.skipIf(!haveFixtures(fixtures.stories260K))('rvq graphs installed by an earlier version', () => {
  let lib: StoriesLibrary;
  beforeAll(() => {
    lib = createStoriesLibrary();
  });
  afterAll(() => lib.cleanup());

  it('are rebuilt on open (graph path), so layers at different depths step through them', async () => {
    const manifest = { ...readManifest(lib.folder), files: undefined }; // that version recorded no file hashes
    const graphFile = join(lib.folder, manifest.rvq.synthetic.graph);
    writeFileSync(graphFile, asEarlierVersion(readFileSync(graphFile)));
    writeManifest(lib.folder, manifest);
    const set = decodeCodebooks(new Uint8Array(readFileSync(join(lib.folder, manifest.rvq.synthetic.codebooks))));
    const earlier = await ort.InferenceSession.create(graphFile);
    expect(() => new RvqGraphDecoder(earlier, manifest.config, set)).toThrow(/built by an earlier version/);
    await earlier.release();

    // the synthetic set codes 4 bits a stage: layer 0 at depth 1 holds 1-byte records, the others 2
    const layerDepths = { key: [1, 4, 4, 4, 4], value: [1, 4, 4, 4, 4] };
    const runtime = await openCacheRuntime(lib.folder, manifest, { format: 'rvq', codebooks: 'synthetic', layerDepths }, cpu, 'graph');
    try {
      const store = runtime.stores.create();
      await runtime.decoder.step([1, 265, 270, 281], store);
      const logits = await runtime.decoder.step([290], store);
      expect(logits.every(Number.isFinite)).toBe(true);
      expect(store.length).toBe(5);
    } finally {
      await runtime.release();
    }
    const rebuilt = await ort.InferenceSession.create(join(lib.folder, readManifest(lib.folder).rvq.synthetic.graph));
    expect(() => new RvqGraphDecoder(rebuilt, manifest.config, set)).not.toThrow();
    await rebuilt.release();
  });
});
