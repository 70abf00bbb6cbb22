// The `rvq` decoder graph: the KV cache enters and leaves as RVQ codes (Kumar 2024) and exists in
// full precision only inside each layer's attention.
//   in:  past_codes.{i}.key|value   uint8   [batch, past, codeBytes]  (quant's token-record code part)
//        past_scales.{i}.key|value  float16 [batch, past, S]          (absent for scale 'none')
//        depth                      int64   [1]                       stages to decode (1..spec depth)
//   out: logits, new_codes.{i}.* / new_scales.{i}.* for the new tokens only (all spec.depth stages).
// Keys are coded pre-RoPE; past keys get RoPE at positions cumsum(attention_mask) - 1, which equals
// the position_ids they were written with for unpadded sequences (positions 0, 1, 2, ...).
// The new tokens' K/V are quantized in the graph and attention uses them dequantized at `depth`,
// like the past: the model sees exactly what a later step will read back.
import type { CodebookSet, RvqSpec } from '../../quant/index.js';
import type { ModelConfig } from '../model/config.js';
import type { WeightSource } from '../model/weights.js';
import { DataType } from './builder.js';
import type { CacheStrategy, DecoderGraphOptions } from './decoder.js';
import { buildTransformerGraph } from './decoder.js';
import { RvqGraphCodec } from './rvq-codec-graph.js';

export function buildRvqDecoderGraph(config: ModelConfig, weights: WeightSource, codebooks: CodebookSet, options: Omit<DecoderGraphOptions, 'cacheType'> = {}): Uint8Array {
  checkCodebooksFit(config, codebooks);
  const { numKvHeads: kvh, headDim: d } = config;
  const kinds = [
    ['key', codebooks.keySpec],
    ['value', codebooks.valueSpec],
  ] as const;
  const codecs: Record<'key' | 'value', RvqGraphCodec>[] = [];
  let pastTables: { cos: string; sin: string } | null = null;

  const rvq: CacheStrategy = {
    declareInputs(m) {
      m.g.input('depth', DataType.INT64, [1]);
      for (let i = 0; i < config.numLayers; i++) {
        const layer = {} as Record<'key' | 'value', RvqGraphCodec>;
        for (const [kind, spec] of kinds) {
          const codec = new RvqGraphCodec(m.g, spec, codebooks.layers[i][kind], `rvq.layers.${i}.${kind}.codebooks`);
          layer[kind] = codec;
          m.g.input(`past_codes.${i}.${kind}`, DataType.UINT8, ['batch_size', 'past_sequence_length', codec.codeBytes]);
          if (codec.numScales) m.g.input(`past_scales.${i}.${kind}`, DataType.FLOAT16, ['batch_size', 'past_sequence_length', codec.numScales]);
        }
        codecs.push(layer);
      }
    },
    layer(ctx, i, keysPreRope, values) {
      const { g } = ctx.m;
      if (!pastTables) {
        const positions = g.op('Sub', [g.op('CumSum', ['attention_mask', g.int64([1], [])]), g.int64([1], [])]);
        pastTables = ctx.m.ropeTables(g.op('Slice', [positions, g.int64([0]), ctx.pastLen, g.int64([1])]));
      }
      const attended = {} as Record<'key' | 'value', string>;
      for (const [kind] of kinds) {
        const codec = codecs[i][kind];
        const fresh = kind === 'key' ? keysPreRope : values;
        // [batch, kvh, n, d] <-> rows [batch, n, kvh*d]
        const rows = g.op('Reshape', [g.op('Transpose', [fresh], { perm: [0, 2, 1, 3] }), g.int64([0, 0, kvh * d])]);
        const toHeads = (r: string) => g.op('Transpose', [g.op('Reshape', [r, g.int64([0, 0, kvh, d])])], { perm: [0, 2, 1, 3] });
        const q = codec.quantize(rows);
        g.op('Identity', [codec.pack(q.codes)], {}, `new_codes.${i}.${kind}`);
        g.output(`new_codes.${i}.${kind}`, DataType.UINT8, ['batch_size', 'sequence_length', codec.codeBytes]);
        if (q.scales) {
          g.op('Identity', [q.scales], {}, `new_scales.${i}.${kind}`);
          g.output(`new_scales.${i}.${kind}`, DataType.FLOAT16, ['batch_size', 'sequence_length', codec.numScales]);
        }
        const pastScales = codec.numScales ? `past_scales.${i}.${kind}` : null;
        let past = toHeads(codec.dequantize(codec.unpack(`past_codes.${i}.${kind}`), pastScales, 'depth'));
        let now = toHeads(codec.dequantize(q.codes, q.scales, 'depth'));
        if (kind === 'key') {
          past = ctx.m.rope(past, pastTables);
          now = ctx.m.rope(now, ctx.newTables);
        }
        attended[kind] = g.op('Concat', [past, now], { axis: 2 });
      }
      return { keys: attended.key, values: attended.value };
    },
  };
  return buildTransformerGraph(config, weights, rvq, options, 'reskv-rvq');
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
