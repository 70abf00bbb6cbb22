// The in-graph RVQ codec against quant/'s RvqCodec: same codes, same scales, same packed bytes,
// and dequantized rows (of quant's bytes and of the graph's own) equal quant's decode at every depth.
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import type { RvqSpec } from '../../../quant/index.js';
import { createRng, groupsPerToken, parseRvqSpec, RvqCodec, rvqBytesPerToken, rvqCodeBytesPerToken, tokenWidth } from '../../../quant/index.js';
import { DataType, GraphBuilder, inlineTensors } from '../../../main/onnx/builder.js';
import { RvqGraphCodec } from '../../../main/onnx/rvq-codec-graph.js';

const specs: Record<string, RvqSpec> = {
  'stories260K layout: one 32-wide group per token, token scale, 4 bits': parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 16, depth: 3, grouping: 'contiguous', groupSpan: 'token', scale: 'token' }),
  'strided head groups, head scales, 3-bit codes': parseRvqSpec({ headDim: 8, numKvHeads: 2, groupSize: 4, codebookSize: 8, depth: 4, grouping: 'strided', groupSpan: 'head', scale: 'head' }),
  'strided over the token, head scales': parseRvqSpec({ headDim: 8, numKvHeads: 2, groupSize: 4, codebookSize: 8, depth: 2, grouping: 'strided', groupSpan: 'token', scale: 'head' }),
  'contiguous, unscaled, 11-bit codes crossing 3 bytes': parseRvqSpec({ headDim: 16, numKvHeads: 1, groupSize: 8, codebookSize: 2048, depth: 2, grouping: 'contiguous', groupSpan: 'head', scale: 'none' }),
};

/** A graph exposing encode and unpack/dequantize for `spec` with the given codebooks. */
function codecGraph(spec: RvqSpec, books: Float32Array): Uint8Array {
  const g = new GraphBuilder(inlineTensors);
  const codec = new RvqGraphCodec(g, spec, books, 'books');
  const W = tokenWidth(spec);
  const G = groupsPerToken(spec);
  const rows = g.input('rows', DataType.FLOAT, ['b', 'n', W]);
  const depth = g.input('depth', DataType.INT32, [1]);
  const bytes = g.input('bytes', DataType.UINT8, ['b', 'm', codec.codeBytes]);
  const scalesIn = codec.numScales ? g.input('scales', DataType.FLOAT16, ['b', 'm', codec.numScales]) : null;
  const asFloat = (x: string | null) => (x ? g.op('Cast', [x], { to: DataType.FLOAT }) : null);
  const q = codec.encode(rows, ['b', 'n']);
  // group-major codes -> quant's stage-major order
  const stageMajor = g.op('Transpose', [g.op('Reshape', [q.codes, g.int64([0, 0, G, spec.depth])])], { perm: [0, 1, 3, 2] });
  g.op('Cast', [stageMajor], { to: DataType.INT32 }, 'codes');
  g.op('Cast', [q.bytes], { to: DataType.UINT8 }, 'packed');
  g.op('Identity', [codec.dequantize(codec.unpack(q.bytes), asFloat(q.scales), depth)], {}, 'requantized');
  const unpacked = codec.unpack(asFloat(bytes)!);
  g.op('Cast', [unpacked], { to: DataType.INT32 }, 'unpacked');
  g.op('Identity', [codec.dequantize(unpacked, asFloat(scalesIn), depth)], {}, 'decoded');
  g.output('codes', DataType.INT32, ['b', 'n', spec.depth, G]);
  g.output('packed', DataType.UINT8, ['b', 'n', codec.codeBytes]);
  g.output('requantized', DataType.FLOAT, ['b', 'n', W]);
  g.output('unpacked', DataType.INT32, ['b', 'm', spec.depth * G]);
  g.output('decoded', DataType.FLOAT, ['b', 'm', W]);
  if (q.scales) {
    g.op('Identity', [q.scales], {}, 'new_scales');
    g.output('new_scales', DataType.FLOAT16, ['b', 'n', codec.numScales]);
  }
  return g.encode('rvq-codec-test');
}

describe.each(Object.entries(specs))('%s', (_, spec) => {
  it('quantizes, packs, unpacks and dequantizes exactly like quant/', async () => {
    const rng = createRng(42);
    const books = Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, (_, i) => rng.normal() / (1 + Math.floor(i / (spec.codebookSize * spec.groupSize))));
    const codec = new RvqCodec(spec, books);
    const W = tokenWidth(spec);
    const tokens = 9;
    // channels with different spreads and offsets so per-head and per-token scales differ
    const rows = Float32Array.from({ length: tokens * W }, (_, i) => (rng.normal() * (1 + (i % W) / 4) + 0.5) * (1 + Math.floor(i / W)));
    const encoded = codec.encode(rows);
    const records = codec.toRecords(encoded);
    const recordBytes = rvqBytesPerToken(spec);
    const codeBytes = rvqCodeBytesPerToken(spec);
    const codePart = new Uint8Array(tokens * codeBytes);
    for (let t = 0; t < tokens; t++) codePart.set(records.subarray(t * recordBytes, t * recordBytes + codeBytes), t * codeBytes);

    const session = await ort.InferenceSession.create(codecGraph(spec, books));
    const feeds: Record<string, ort.Tensor> = {
      rows: new ort.Tensor('float32', rows, [1, tokens, W]),
      bytes: new ort.Tensor('uint8', codePart, [1, tokens, codeBytes]),
    };
    if (encoded.scales.length) feeds.scales = new ort.Tensor('float16', encoded.scales, [1, tokens, encoded.scales.length / tokens]);
    for (let depth = 1; depth <= spec.depth; depth++) {
      const out = await session.run({ ...feeds, depth: new ort.Tensor('int32', Int32Array.of(depth), [1]) });
      expect(Array.from(out.codes.data as Int32Array)).toEqual(Array.from(encoded.codes));
      expect(Array.from(out.unpacked.data as Int32Array)).toEqual(Array.from(encoded.codes));
      expect(out.packed.data).toEqual(codePart);
      if (encoded.scales.length) expect(out.new_scales.data).toEqual(encoded.scales);
      const expected = codec.decode(encoded, depth);
      for (const name of ['decoded', 'requantized']) {
        const got = out[name].data as Float32Array;
        for (let i = 0; i < expected.length; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(expected[i])));
      }
    }
  });
});
