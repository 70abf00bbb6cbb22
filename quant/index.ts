// Public API of quant/: the RVQ KV codec, its storage formats, codebook learning, the scalar baselines
// and the metrics that compare them.
export * from './fp16.js';
export * from './bitpack.js';
export * from './spec.js';
export * from './accounting.js';
export * from './safetensors.js';
export * from './grouping.js';
export { assignNearest, prepareCodebook } from './nearest.js';
export type { PreparedCodebook } from './nearest.js';
export * from './rvq-codec.js';
export * from './train.js';
export * from './codebook-file.js';
export * from './metrics.js';
export { createRng } from './prng.js';
export type { Rng } from './prng.js';
export * from './synthetic.js';
export * from './quantizer.js';
export * from './scalar-quantizers.js';
export { blockQuantizer } from './block-quant.js';
export { kiviQuantizer } from './kivi.js';
