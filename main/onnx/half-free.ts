// A graph without float16 tensors for GPUs whose WebGPU adapter lacks `shader-f16` (where any f16
// kernel fails at its first run). ResKV's graphs use float16 only at the cache's edges: fp16 inputs
// and outputs, and Cast to float16 to round values as the cache stores them. The rewrite keeps every
// value: float16 inputs/outputs become float32 carrying the same (fp16-representable) numbers, and
// each Cast to float16 becomes an exact round-to-nearest-even to fp16 in float32 arithmetic; a float16
// table that is gathered directly (an embedding) is cast to float32 first (folded at load).
import onnxProto from 'onnx-proto';
import { DataType } from './builder.js';

const { onnx } = onnxProto;
type Node = onnxProto.onnx.INodeProto;
type ValueInfo = onnxProto.onnx.IValueInfoProto;

const largestHalf = 65504;
/** fp16 exponents: normals from 2^-14 to 2^15; below 2^-14 the subnormal step 2^-24 applies. */
const minExponent = -14;
const maxExponent = 15;

function isHalf(v: ValueInfo): boolean {
  return v.type?.tensorType?.elemType === DataType.FLOAT16;
}

function castTarget(node: Node): number | undefined {
  return node.opType === 'Cast' ? Number(node.attribute?.find((a) => a.name === 'to')?.i ?? -1) : undefined;
}

/** Names of the float16 initializers a Gather reads directly (a float16 embedding table: its rows are cast after the Gather). */
function halfTables(graph: onnxProto.onnx.IGraphProto): Set<string> {
  const half = new Set((graph.initializer ?? []).filter((t) => t.dataType === DataType.FLOAT16).map((t) => t.name ?? ''));
  return new Set((graph.node ?? []).filter((n) => n.opType === 'Gather' && half.has(n.input![0])).map((n) => n.input![0]));
}

/** True when the serialized model has float16 inputs, outputs, casts or gathered tables (graphs a no-f16 GPU cannot run). */
export function hasHalfFloats(model: Uint8Array): boolean {
  const graph = onnx.ModelProto.decode(model).graph;
  if (!graph) return false;
  return (graph.input ?? []).some(isHalf) || (graph.output ?? []).some(isHalf) || (graph.node ?? []).some((n) => castTarget(n) === DataType.FLOAT16) || halfTables(graph).size > 0;
}

/**
 * The model with float16 graph inputs/outputs declared float32 and every Cast to float16 replaced by
 * roundToHalf (same numbers, float32 type). Initializers stay: float16 weights are cast to float32
 * where used, which ONNX Runtime folds into float32 constants when the session loads.
 */
export function withoutHalfFloats(model: Uint8Array): Uint8Array {
  const proto = onnx.ModelProto.decode(model);
  const graph = proto.graph;
  if (!graph) return model;
  const asFloat = (v: ValueInfo) => {
    if (isHalf(v)) v.type!.tensorType!.elemType = DataType.FLOAT;
  };
  (graph.input ?? []).forEach(asFloat);
  (graph.output ?? []).forEach(asFloat);
  graph.valueInfo = (graph.valueInfo ?? []).filter((v) => !isHalf(v));
  const constants: onnxProto.onnx.ITensorProto[] = [];
  const constant = (name: string, values: number[]) => {
    constants.push({ name, dataType: DataType.FLOAT, dims: [values.length], rawData: new Uint8Array(Float32Array.from(values).buffer) });
    return name;
  };
  const prefix = 'half-free/';
  const names = {
    exponents: constant(`${prefix}powers`, Array.from({ length: maxExponent - minExponent + 1 }, (_, i) => 2 ** (i + minExponent))),
    quanta: constant(`${prefix}quanta`, Array.from({ length: maxExponent - minExponent + 1 }, (_, i) => 2 ** (i + minExponent - 10))),
    zero: constant(`${prefix}zero`, [0]),
    invLn2: constant(`${prefix}inv-ln2`, [1 / Math.LN2]),
    min: constant(`${prefix}min`, [minExponent]),
    max: constant(`${prefix}max`, [maxExponent]),
    offset: constant(`${prefix}offset`, [-minExponent]),
    largest: constant(`${prefix}largest`, [largestHalf]),
    infinity: constant(`${prefix}infinity`, [Infinity]),
    magic: constant(`${prefix}magic`, [1.5 * 2 ** 23]),
    one: constant(`${prefix}one`, [1]),
    minusOne: constant(`${prefix}minus-one`, [-1]),
  };
  let counter = 0;
  const nodes: Node[] = [];
  // a float16 table is gathered as float32 (the Cast after the Gather then casts float to float); ONNX
  // Runtime folds the table's Cast into a float32 constant when the session loads
  const tables = halfTables(graph);
  for (const table of tables) {
    nodes.push({ opType: 'Cast', name: `${prefix}${table}/Cast`, input: [table], output: [`${prefix}${table}`], attribute: [{ name: 'to', type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT }] });
  }
  for (const node of graph.node ?? []) {
    if (node.opType === 'Gather' && tables.has(node.input![0])) node.input = [`${prefix}${node.input![0]}`, ...node.input!.slice(1)];
    if (castTarget(node) !== DataType.FLOAT16) {
      nodes.push(node);
      continue;
    }
    const id = counter++;
    const op = (opType: string, inputs: string[], attrs: onnxProto.onnx.IAttributeProto[] = [], output?: string) => {
      const out = output ?? `${prefix}${id}/${opType}_${nodes.length}`;
      nodes.push({ opType, name: `${node.name ?? 'Cast'}/${opType}_${nodes.length}`, input: inputs, output: [out], attribute: attrs });
      return out;
    };
    const int = (name: string, i: number) => ({ name, type: onnx.AttributeProto.AttributeType.INT, i });
    const x = op('Cast', [node.input![0]], [int('to', DataType.FLOAT)]);
    // exponent e = floor(log2 |x|), clamped to fp16's range: Log's estimate, corrected by exact
    // comparisons with powers of two (a NaN reads as 0 here and stays NaN below)
    const a = op('Where', [op('Equal', [x, x]), op('Abs', [x]), names.zero]);
    const clip = (v: string) => op('Min', [op('Max', [v, names.min]), names.max]);
    const guess = clip(op('Floor', [op('Mul', [op('Log', [a]), names.invLn2])]));
    const index = (e: string) => op('Cast', [op('Add', [e, names.offset])], [int('to', DataType.INT32)]);
    const power = op('Gather', [names.exponents, index(guess)]);
    const up = op('Cast', [op('GreaterOrEqual', [a, op('Add', [power, power])])], [int('to', DataType.FLOAT)]);
    const down = op('Cast', [op('Less', [a, power])], [int('to', DataType.FLOAT)]);
    const exponent = clip(op('Sub', [op('Add', [guess, up]), down]));
    // fp16 keeps 11 significant bits: the step is 2^(e - 10). |x| / step is below 2^12, so adding and
    // subtracting 1.5 * 2^23 rounds it to a whole number, half to even, in float32 (WebGPU has no
    // Round); on |x|, x's sign put back by a product (ONNX Runtime's Where drops a zero's sign, so a
    // negative that rounds to zero stays -0; x = -0 itself comes out +0, the one bit that differs)
    const quantum = op('Gather', [names.quanta, index(exponent)]);
    const magnitude = op('Mul', [op('Sub', [op('Add', [op('Div', [op('Abs', [x]), quantum]), names.magic]), names.magic]), quantum]);
    const sign = op('Where', [op('Less', [x, names.zero]), names.minusOne, names.one]);
    // beyond fp16's largest finite value the cast gives an infinity of x's sign
    const scale = op('Where', [op('Greater', [magnitude, names.largest]), names.infinity, names.one]);
    op('Mul', [op('Mul', [magnitude, sign]), scale], [], node.output![0]);
  }
  graph.node = nodes;
  graph.initializer = [...(graph.initializer ?? []), ...constants];
  return onnx.ModelProto.encode(proto).finish();
}
