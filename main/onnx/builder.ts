// A small helper for writing ONNX graphs by hand: nodes get fresh output names, constants are
// deduplicated, initializers go either inline or into an external data file (ONNX external data:
// location/offset/length), and the result is a serialized ModelProto.
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export const DataType = onnx.TensorProto.DataType;
export type ElemType = onnxProto.onnx.TensorProto.DataType;

export type AttrValue = number | number[] | string | { floats: number[] } | { float: number };
export type Dim = number | string;

/** Where initializer bytes are kept. */
export interface TensorStore {
  /** Makes a TensorProto for the bytes (inline, or written once to external data and referenced). */
  tensor(name: string, dataType: ElemType, dims: readonly number[], bytes: () => Uint8Array): onnxProto.onnx.ITensorProto;
}

/** Keeps every initializer inside the model file (small models, tests). */
export const inlineTensors: TensorStore = {
  tensor: (name, dataType, dims, bytes) => ({ name, dataType, dims: [...dims], rawData: bytes() }),
};

export class GraphBuilder {
  private readonly nodes: onnxProto.onnx.INodeProto[] = [];
  private readonly initializers: onnxProto.onnx.ITensorProto[] = [];
  private readonly inputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly outputs: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly shapes: onnxProto.onnx.IValueInfoProto[] = [];
  private readonly constants = new Map<string, string>();
  private readonly initializerNames = new Set<string>();
  private readonly domains = new Set<string>();
  private counter = 0;
  private scopePath = '';

  constructor(
    private readonly store: TensorStore,
    readonly opset = 18,
  ) {}

  input(name: string, elemType: ElemType, dims: readonly Dim[]): string {
    this.inputs.push(valueInfo(name, elemType, dims));
    return name;
  }

  output(name: string, elemType: ElemType, dims: readonly Dim[]): void {
    this.outputs.push(valueInfo(name, elemType, dims));
  }

  /**
   * Declares an intermediate tensor's shape, its unknown dims named. ONNX Runtime's shape inference
   * leaves a dim it cannot compute (a Concat of two symbolic lengths) unnamed, and its allocation
   * planner never reuses an unnamed-dim buffer: each stays on the list every later allocation scans,
   * which makes session creation grow with the square of such tensors. Returns `name`.
   */
  shape(name: string, elemType: ElemType, dims: readonly Dim[]): string {
    this.shapes.push(valueInfo(name, elemType, dims));
    return name;
  }

  /** Adds a node with one output and returns that output's name (`as` fixes the name). */
  op(opType: string, inputs: readonly string[], attrs: Record<string, AttrValue> = {}, as?: string, domain = ''): string {
    return this.opN(opType, inputs, 1, attrs, as ? [as] : undefined, domain)[0];
  }

  /** Adds a node with `count` outputs; `domain` names a contrib operator set (version 1), e.g. com.microsoft. */
  opN(opType: string, inputs: readonly string[], count: number, attrs: Record<string, AttrValue> = {}, names?: string[], domain = ''): string[] {
    const id = this.counter++;
    const outputs = names ?? Array.from({ length: count }, (_, i) => `${opType}_${id}${count > 1 ? `_${i}` : ''}`);
    const name = `${this.scopePath}${opType}_${id}`;
    if (domain) this.domains.add(domain);
    this.nodes.push({ opType, domain, name, input: [...inputs], output: outputs, attribute: Object.entries(attrs).map(([k, v]) => attribute(k, v)) });
    return outputs;
  }

  /**
   * Runs `build` with `scope` prefixed to the names of the nodes it adds ("kv-cache/decode/Gather_12"),
   * so ONNX Runtime's profile can be summed per part of the graph. Scopes nest.
   */
  scope<T>(scope: string, build: () => T): T {
    const outer = this.scopePath;
    this.scopePath = `${outer}${scope}/`;
    try {
      return build();
    } finally {
      this.scopePath = outer;
    }
  }

  /** A named initializer; the byte producer runs only if the store needs the bytes. */
  initializer(name: string, dataType: ElemType, dims: readonly number[], bytes: () => Uint8Array): string {
    if (this.initializerNames.has(name)) return name;
    this.initializerNames.add(name);
    this.initializers.push(this.store.tensor(name, dataType, dims, bytes));
    return name;
  }

  /** A small constant initializer (shapes, axes, scalars, index tables), shared by content. */
  int64(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant(DataType.INT64, values, dims);
  }

  float(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant(DataType.FLOAT, values, dims);
  }

  int32(values: readonly number[], dims: readonly number[] = [values.length]): string {
    return this.constant(DataType.INT32, values, dims);
  }

  private constant(dataType: ElemType, values: readonly number[], dims: readonly number[]): string {
    const key = `${dataType}:${dims.join('x')}:${values.join(',')}`;
    let name = this.constants.get(key);
    if (!name) {
      name = `const_${this.constants.size}`;
      this.constants.set(key, name);
      const typed =
        dataType === DataType.INT64 ? BigInt64Array.from(values, BigInt) : dataType === DataType.INT32 ? Int32Array.from(values) : Float32Array.from(values);
      this.initializers.push(inlineTensors.tensor(name, dataType, dims, () => new Uint8Array(typed.buffer)));
    }
    return name;
  }

  /** Serializes the model (IR version 8, the default ONNX domain at this.opset, contrib domains at 1). */
  encode(graphName: string): Uint8Array {
    const model: onnxProto.onnx.IModelProto = {
      irVersion: 8,
      producerName: 'reskv',
      opsetImport: [{ domain: '', version: this.opset }, ...[...this.domains].map((domain) => ({ domain, version: 1 }))],
      graph: { name: graphName, node: this.nodes, initializer: this.initializers, input: this.inputs, output: this.outputs, valueInfo: this.shapes },
    };
    return onnx.ModelProto.encode(model).finish();
  }
}

function valueInfo(name: string, elemType: ElemType, dims: readonly Dim[]): onnxProto.onnx.IValueInfoProto {
  const dim = dims.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d }));
  return { name, type: { tensorType: { elemType, shape: { dim } } } };
}

function attribute(name: string, v: AttrValue): onnxProto.onnx.IAttributeProto {
  const T = onnx.AttributeProto.AttributeType;
  if (typeof v === 'number') return { name, type: T.INT, i: v };
  if (typeof v === 'string') return { name, type: T.STRING, s: new TextEncoder().encode(v) };
  if (Array.isArray(v)) return { name, type: T.INTS, ints: v };
  if ('float' in v) return { name, type: T.FLOAT, f: v.float };
  return { name, type: T.FLOATS, floats: v.floats };
}
