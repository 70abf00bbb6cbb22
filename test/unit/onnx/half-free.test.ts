// The float16-free rewrite against ONNX Runtime's own Cast to float16: bit-equal values over ties,
// subnormals, the overflow edge and random magnitudes (-0 itself comes out +0: equal, one bit apart).
import * as ort from 'onnxruntime-node';
import { describe, expect, it } from 'vitest';
import { createRng, float16BitsToFloat32, float32ArrayToFloat16 } from '../../../quant/index.js';
import { DataType, GraphBuilder, inlineTensors } from '../../../main/onnx/builder.js';
import { hasHalfFloats, withoutHalfFloats } from '../../../main/onnx/half-free.js';

/** x float32 -> Cast to float16 -> y, plus a float16 input passed through. */
function castGraph(): Uint8Array {
  const g = new GraphBuilder(inlineTensors);
  g.input('x', DataType.FLOAT, ['n']);
  g.input('h', DataType.FLOAT16, ['m']);
  g.op('Cast', ['x'], { to: DataType.FLOAT16 }, 'y');
  g.op('Cast', ['h'], { to: DataType.FLOAT }, 'z');
  g.output('y', DataType.FLOAT16, ['n']);
  g.output('z', DataType.FLOAT, ['m']);
  return g.encode('cast');
}

function roundingProbes(): Float32Array {
  const rng = createRng(7);
  const edges = [0, -1e-30, 1, 1 + 2 ** -11, 1 + 3 * 2 ** -11, -(1 + 2 ** -11), 2 ** -14, 2 ** -15, 2 ** -24, 2 ** -25, 3 * 2 ** -25, 2 ** -26, 6.1e-5, 65504, 65519.99, 65520, -65520, 1e6, Infinity, -Infinity, NaN, 2 ** 15, 2 ** 16 - 1, 0.1, 1 / 3];
  const random = Array.from({ length: 4000 }, () => rng.normal() * 2 ** Math.round(rng.normal() * 12));
  // exact ties between two fp16 values at many exponents
  const ties = Array.from({ length: 60 }, (_, i) => (1 + (2 * i + 1) * 2 ** -11) * 2 ** (i % 30 - 15));
  return Float32Array.from([...edges, ...random, ...ties]);
}

describe('withoutHalfFloats', () => {
  it('rounds exactly as a Cast to float16 and reads float16 inputs as float32', async () => {
    const x = roundingProbes();
    const halfIn = float32ArrayToFloat16(Float32Array.of(1.5, -2, 65504));
    const original = await ort.InferenceSession.create(castGraph(), { executionProviders: ['cpu'] });
    const rewritten = await ort.InferenceSession.create(withoutHalfFloats(castGraph()), { executionProviders: ['cpu'] });
    const expected = await original.run({ x: new ort.Tensor('float32', x, [x.length]), h: new ort.Tensor('float16', halfIn, [3]) });
    const actual = await rewritten.run({ x: new ort.Tensor('float32', x, [x.length]), h: new ort.Tensor('float32', Float32Array.from(halfIn, float16BitsToFloat32), [3]) });
    expect((actual.y as ort.Tensor).type).toBe('float32');
    expect(Array.from(float32ArrayToFloat16(actual.y.data as Float32Array))).toEqual(Array.from(expected.y.data as Uint16Array));
    expect(actual.z.data).toEqual(expected.z.data);
    expect(rewritten.inputMetadata.find((m) => m.name === 'h')).toMatchObject({ type: 'float32' });
  });

  it('tells graphs with float16 from graphs without', () => {
    expect(hasHalfFloats(castGraph())).toBe(true);
    expect(hasHalfFloats(withoutHalfFloats(castGraph()))).toBe(false);
  });

  it('gathers a float16 table (an embedding) as float32 with the same values', async () => {
    const table = float32ArrayToFloat16(Float32Array.of(0.1, -2, 3.5, 65504, 1e-6, 7));
    const g = new GraphBuilder(inlineTensors);
    g.input('ids', DataType.INT64, [2]);
    const stored = g.initializer('embedding', DataType.FLOAT16, [3, 2], () => new Uint8Array(table.buffer));
    g.op('Cast', [g.op('Gather', [stored, 'ids'])], { to: DataType.FLOAT }, 'rows');
    g.output('rows', DataType.FLOAT, [2, 2]);
    const model = g.encode('embed');
    expect(hasHalfFloats(model)).toBe(true);
    const rewritten = withoutHalfFloats(model);
    expect(hasHalfFloats(rewritten)).toBe(false);
    const ids = new ort.Tensor('int64', BigInt64Array.of(2n, 0n), [2]);
    const run = async (m: Uint8Array) => (await (await ort.InferenceSession.create(m, { executionProviders: ['cpu'] })).run({ ids })).rows.data;
    expect(await run(rewritten)).toEqual(await run(model));
  });
});
