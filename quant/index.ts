// Public API of quant/: the RVQ KV codec, its storage formats, the scalar baselines and the metrics.
export * from './fp16.js';
export * from './bitpack.js';
export * from './spec.js';
export * from './accounting.js';
export * from './safetensors.js';
