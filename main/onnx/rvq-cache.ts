// The `rvq` decoder graph: the KV cache enters and leaves as RVQ codes (Kumar 2024) and exists in
// full precision only inside each layer's attention. Per layer i and kind k (key | value):
//   in:  past_codes.{i}.{k}   uint8   [batch, coded, R_d]   codes of the coded past (quant's token-record
//                                                            code part at any record depth d <= spec depth)
//        past_depths.{i}.{k}  uint8   [batch, coded]        stages each coded token holds
//        past_scales.{i}.{k}  float16 [batch, coded, S]     (absent for scale 'none')
//        past_window.{i}.{k}  float16 [batch, window, W]    newest past tokens kept uncoded, token-major
//        depth                int32   [1] or [2 * layers]   stages to decode (a prefix of the spec depth): one
//                                                            for every layer, or per layer and kind (2i key, 2i+1 value)
//        window_size          int32   [1]                   R: the last R positions stay uncoded (0: paper)
//   attention_mask and position_ids are int32 too: nothing that grows with the context is int64 or
//   a bit operation, so a WebGPU device (no int64, no bit kernels) runs every such node itself.
//   out: logits; new_codes.{i}.{k} uint8 [batch, n, R_D] and new_scales.{i}.{k} (all spec stages) and
//        keys_pre_rope.{i} / values.{i} float32 [batch, kvHeads, n, headDim] of the new tokens;
//        present_codes/depths/scales.{i}.{k}: past + new records, the next step's past where no recent
//        window applies (a GPU keeps them in its memory and feeds them back).
// The past is [coded tokens, window tokens] in position order. Keys are pre-RoPE throughout; past
// keys get RoPE at positions cumsum(attention_mask) - 1 (0, 1, 2, ... for unpadded sequences).
// New tokens are attended as a later step will read them back: fp16-rounded if they fall in the
// last window_size positions, else quantized and dequantized at `depth`.
import type { CodebookSet, KvKind, RvqSpec } from '../../quant/index.js';
import type { ModelConfig } from '../model/config.js';
import type { WeightSource } from '../model/weights.js';
import { DataType } from './builder.js';
import type { CacheStrategy, DecoderGraphOptions } from './decoder.js';
import { buildTransformerGraph } from './decoder.js';
import { RvqGraphCodec } from './rvq-codec-graph.js';

/**
 * The symbolic record size of past_codes.{layer}.{kind}: one per layer and kind, as per-layer depths
 * cut records differently (ONNX Runtime reuses buffers across inputs that share a dimension name).
 * Graphs installed by earlier versions named one size per kind; they are rebuilt on open.
 */
export function recordBytesDim(layer: number, kind: KvKind): string {
  return `record_bytes.${layer}.${kind}`;
}

/**
 * The rvq graph builder's version, recorded with each installed set. 2: the compact codec (one stacked
 * Gather per lane, named dims), whose 30-layer graph ONNX Runtime loads in seconds instead of minutes.
 */
export const rvqGraphVersion = 2;

export function buildRvqDecoderGraph(config: ModelConfig, weights: WeightSource, codebooks: CodebookSet, options: Omit<DecoderGraphOptions, 'cacheType' | 'indexType'> = {}): Uint8Array {
  checkCodebooksFit(config, codebooks);
  const { numKvHeads: kvh, headDim: d } = config;
  const W = kvh * d;
  const kinds = [
    ['key', codebooks.keySpec],
    ['value', codebooks.valueSpec],
  ] as const;
  const codecs: Record<KvKind, RvqGraphCodec>[] = [];
  let shared: { tables: { cos: string; sin: string }; inWindow: string; depths: string[] } | null = null;

  const rvq: CacheStrategy = {
    declareInputs(m) {
      m.g.input('depth', DataType.INT32, ['depth_count']);
      m.g.input('window_size', DataType.INT32, [1]);
      for (let i = 0; i < config.numLayers; i++) {
        const layer = {} as Record<KvKind, RvqGraphCodec>;
        for (const [kind, spec] of kinds) {
          const codec = new RvqGraphCodec(m.g, spec, codebooks.layers[i][kind], `rvq.layers.${i}.${kind}.codebooks`);
          layer[kind] = codec;
          m.g.input(`past_codes.${i}.${kind}`, DataType.UINT8, ['batch_size', 'past_coded_length', recordBytesDim(i, kind)]);
          m.g.input(`past_depths.${i}.${kind}`, DataType.UINT8, ['batch_size', 'past_coded_length']);
          if (codec.numScales) m.g.input(`past_scales.${i}.${kind}`, DataType.FLOAT16, ['batch_size', 'past_coded_length', codec.numScales]);
          m.g.input(`past_window.${i}.${kind}`, DataType.FLOAT16, ['batch_size', 'past_window_length', W]);
        }
        codecs.push(layer);
      }
    },
    layer(ctx, i, keysPreRope, values) {
      const { g } = ctx.m;
      if (!shared) {
        // RoPE tables for every attended position: the past from the mask, the new from position_ids
        // (as float: ONNX Runtime keeps an int32 Slice of this context-sized tensor on the CPU)
        const asFloat = (x: string) => g.op('Cast', [x], { to: DataType.FLOAT });
        const maskPositions = asFloat(g.op('Sub', [g.op('CumSum', ['attention_mask', g.int64([1], [])]), ctx.indexConstant(1)]));
        const pastPositions = g.op('Slice', [maskPositions, g.int64([0]), ctx.pastLen, g.int64([1])]);
        const positions = g.shape(g.op('Concat', [pastPositions, asFloat('position_ids')], { axis: 1 }), DataType.FLOAT, ['batch_size', 'total_sequence_length']);
        const tables = ctx.m.ropeTables(positions);
        // new token j stays uncoded when j >= n - window_size
        const newCount = g.op('Cast', [ctx.seqLen], { to: DataType.INT32 });
        const newIndex = g.op('Reshape', [g.op('Range', [ctx.indexConstant(0), g.op('Squeeze', [newCount, g.int64([0])]), ctx.indexConstant(1)]), g.int64([1, -1, 1])]);
        const inWindow = g.op('GreaterOrEqual', [newIndex, g.op('Sub', [newCount, 'window_size'])]);
        // depth slot 2i + k = layer i, kind k (key 0, value 1): depth[min(slot, depth_count - 1)], so a
        // single depth serves every layer
        const lastDepth = g.op('Sub', [g.op('Size', ['depth']), g.int64([1], [])]);
        const depthSlots = 2 * config.numLayers;
        // one Gather per slot, not a Split into 2 * layers outputs: a WebGPU shader binds only a few
        // storage buffers (a 30-layer model's Split failed at run time on WebGPU)
        // (as [1, 1], to broadcast over [batch, tokens])
        const depths = Array.from({ length: depthSlots }, (_, slot) => g.op('Gather', ['depth', g.op('Min', [g.int64([slot], [1, 1]), lastDepth])]));
        shared = { tables, inWindow, depths };
      }
      g.op('Identity', [keysPreRope], {}, `keys_pre_rope.${i}`);
      g.op('Identity', [values], {}, `values.${i}`);
      const attended = {} as Record<KvKind, string>;
      for (const [kind] of kinds) {
        const codec = codecs[i][kind];
        const depth = shared.depths[2 * i + (kind === 'key' ? 0 : 1)];
        const fresh = kind === 'key' ? keysPreRope : values;
        const past = (what: string) => `past_${what}.${i}.${kind}`;
        const present = (what: string) => `present_${what}.${i}.${kind}`;
        g.output(kind === 'key' ? `keys_pre_rope.${i}` : `values.${i}`, DataType.FLOAT, ['batch_size', kvh, 'sequence_length', d]);
        // the new tokens' records joined to the past's: the device's next past (present_*, where no
        // recent window applies) and what the decode reads, so a new token is attended as a later
        // step reads it back. WebGPU has no uint8 Concat: bytes and depths are joined as float / int32
        // (exact) and cast back. New records are cut to the fed record size (a depth-d record is a
        // byte prefix) and get the lane's depth.
        const { rows, records } = g.scope('encode', () => {
          // [batch, kvh, n, d] -> token rows [batch, n, W]
          const rows = g.op('Reshape', [g.op('Transpose', [fresh], { perm: [0, 2, 1, 3] }), g.int64([0, 0, W])]);
          const { bytes, scales } = codec.encode(rows, ['batch_size', 'sequence_length']);
          g.op('Cast', [bytes], { to: DataType.UINT8 }, `new_codes.${i}.${kind}`);
          g.output(`new_codes.${i}.${kind}`, DataType.UINT8, ['batch_size', 'sequence_length', codec.codeBytes]);
          const recordBytes = g.op('Shape', [past('codes')], { start: 2, end: 3 });
          const newRecords = g.shape(g.op('Slice', [bytes, g.int64([0]), recordBytes, g.int64([2])]), DataType.FLOAT, ['batch_size', 'sequence_length', recordBytesDim(i, kind)]);
          const joinedBytes = g.op('Concat', [g.op('Cast', [past('codes')], { to: DataType.FLOAT }), newRecords], { axis: 1 });
          g.shape(joinedBytes, DataType.FLOAT, ['batch_size', 'present_length', recordBytesDim(i, kind)]);
          g.op('Cast', [joinedBytes], { to: DataType.UINT8 }, present('codes'));
          g.output(present('codes'), DataType.UINT8, ['batch_size', 'present_length', recordBytesDim(i, kind)]);
          const newDepths = g.shape(g.op('Expand', [depth, g.op('Shape', [rows], { start: 0, end: 2 })]), DataType.INT32, ['batch_size', 'sequence_length']);
          const joinedDepths = g.op('Concat', [g.op('Cast', [past('depths')], { to: DataType.INT32 }), newDepths], { axis: 1 });
          g.shape(joinedDepths, DataType.INT32, ['batch_size', 'present_length']);
          g.op('Cast', [joinedDepths], { to: DataType.UINT8 }, present('depths'));
          g.output(present('depths'), DataType.UINT8, ['batch_size', 'present_length']);
          let joinedScales: string | null = null;
          if (scales) {
            g.op('Identity', [scales], {}, `new_scales.${i}.${kind}`);
            g.output(`new_scales.${i}.${kind}`, DataType.FLOAT16, ['batch_size', 'sequence_length', codec.numScales]);
            joinedScales = g.op('Concat', [past('scales'), scales], { axis: 1 }, present('scales'));
            g.output(present('scales'), DataType.FLOAT16, ['batch_size', 'present_length', codec.numScales]);
          }
          return { rows, records: { bytes: joinedBytes, recordBytes, depths: joinedDepths, scales: joinedScales } };
        });
        const heads = g.scope('decode', () => {
          const scales = records.scales ? g.op('Cast', [records.scales], { to: DataType.FLOAT }) : null;
          const decoded = codec.dequantize(codec.unpack(records.bytes, records.recordBytes), scales, depth, records.depths);
          const coded = g.op('Shape', [past('codes')], { start: 1, end: 2 });
          const pastRows = g.shape(g.op('Slice', [decoded, g.int64([0]), coded, g.int64([1])]), DataType.FLOAT, ['batch_size', 'past_coded_length', W]);
          const newRows = g.shape(g.op('Slice', [decoded, coded, g.int64([Number.MAX_SAFE_INTEGER]), g.int64([1])]), DataType.FLOAT, ['batch_size', 'sequence_length', W]);
          const roundedNew = g.op('Cast', [g.op('Cast', [rows], { to: DataType.FLOAT16 })], { to: DataType.FLOAT });
          const window = g.op('Cast', [past('window')], { to: DataType.FLOAT });
          const all = g.shape(g.op('Concat', [pastRows, window, g.op('Where', [shared!.inWindow, roundedNew, newRows])], { axis: 1 }), DataType.FLOAT, ['batch_size', 'total_sequence_length', W]);
          return g.op('Transpose', [g.op('Reshape', [all, g.int64([0, 0, kvh, d])])], { perm: [0, 2, 1, 3] });
        });
        attended[kind] = kind === 'key' ? g.scope('rope', () => ctx.m.rope(heads, shared!.tables)) : heads;
      }
      return { keys: attended.key, values: attended.value };
    },
  };
  return buildTransformerGraph(config, weights, rvq, { ...options, indexType: 'int32' }, 'reskv-rvq');
}

function checkCodebooksFit(config: ModelConfig, codebooks: CodebookSet): void {
  if (codebooks.layers.length !== config.numLayers) throw new Error(`codebooks are for ${codebooks.layers.length} layers, the model has ${config.numLayers}`);
  const check = (kind: string, spec: RvqSpec) => {
    if (spec.headDim !== config.headDim || spec.numKvHeads !== config.numKvHeads) {
      throw new Error(`${kind} codebook spec is for ${spec.numKvHeads} KV heads of ${spec.headDim} channels, the model has ${config.numKvHeads} of ${config.headDim}`);
    }
  };
  check('key', codebooks.keySpec);
  check('value', codebooks.valueSpec);
}
