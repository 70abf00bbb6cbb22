// `reskv inspect <path>`: architecture, parameter count and fp16 KV bytes per token of a checkpoint
// (Hugging Face folder or llama2.c file) or of a model already in the library.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { ModelConfig } from '../model/config.js';
import { kvBytesPerTokenFp16, parameterCount } from '../model/config.js';
import { openCheckpoint } from '../model/checkpoint.js';
import { manifestFileName, readManifest } from '../model/manifest.js';
import type { WeightType } from '../model/weights.js';
import { defaultWeightType, weightBytes, weightTypes } from '../model/weights.js';
import { paperRvqBytesPerToken } from '../model/memory.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { parseOptions } from './parse-options.js';

export const inspectCommand: CliCommand = {
  name: 'inspect',
  summary: 'show a model\'s architecture, parameter count and KV-cache bytes per token',
  async run(args) {
    const { values, positionals } = parseOptions({ args, allowPositionals: true, options: { tokenizer: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' } } });
    if (values.help) {
      console.log('usage: reskv inspect <checkpoint or library model folder> [--json] [--tokenizer FILE]');
      return 0;
    }
    if (positionals.length !== 1) throw new CliUsageError('expected exactly one path (see --help)');
    const path = positionals[0];
    let config: ModelConfig;
    let format: string;
    let stored: { type: WeightType; bytes: number } | null = null;
    if (existsSync(join(path, manifestFileName))) {
      const manifest = readManifest(path);
      config = manifest.config;
      stored = { type: manifest.weightType, bytes: manifest.weightsBytes };
      format = 'ResKV library model';
    } else {
      const ck = openCheckpoint(path, { tokenizer: values.tokenizer });
      ck.weights.close();
      config = ck.config;
      format = ck.format === 'llama2c' ? 'llama2.c checkpoint' : 'Hugging Face folder';
    }
    const params = parameterCount(config);
    const kvBytes = kvBytesPerTokenFp16(config);
    // the stored format for a library model, else every format an import could choose
    const weights = (stored ? [stored.type] : weightTypes).map((type) => ({ type, ...weightBytes(config, type), ...(stored ? { onDisk: stored.bytes } : {}) }));
    if (values.json) {
      console.log(JSON.stringify({ format, config, parameterCount: params, kvBytesPerTokenFp16: kvBytes, weights }, null, 2));
      return 0;
    }
    const s = config.rope.scaling;
    const lines: [string, string][] = [
      ['format', format],
      ['architecture', config.architecture],
      ['parameters', `${params.toLocaleString('en-US')} (${(params / 1e6).toFixed(2)}M)`],
      ['layers', String(config.numLayers)],
      ['hidden size', String(config.hiddenSize)],
      ['heads / KV heads', `${config.numHeads} / ${config.numKvHeads} (head dim ${config.headDim})`],
      ['MLP', `${config.intermediateSize} (${config.activation})`],
      ['vocabulary', String(config.vocabSize)],
      ['context', String(config.maxPositions)],
      ['RoPE', `theta ${config.rope.theta}, ${config.rope.style}${s ? `, ${s.type} scaling x${s.factor}` : ''}`],
      ['embeddings', config.tiedEmbeddings ? 'tied' : 'untied'],
      ['KV cache fp16', `${kvBytes.toLocaleString('en-US')} bytes/token (${((kvBytes * 1024) / 2 ** 20).toFixed(2)} MiB per 1k tokens)`],
    ];
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    for (const w of weights) {
      const label = stored ? `weights ${w.type}` : `as ${w.type}${w.type === defaultWeightType(config) ? ' (default)' : ''}`;
      lines.push([label, `${mib(w.onDisk)} on disk, ${mib(w.inMemory)} in memory (CPU)`]);
    }
    const rvq = paperRvqBytesPerToken(config);
    if (rvq) lines.push(['KV cache RVQ', `${rvq.toLocaleString('en-US')} bytes/token with groups of 32, 2048-entry codebooks, depth 8 (${(kvBytes / rvq).toFixed(2)}x smaller)`]);
    for (const [k, v] of lines) console.log(`${k.padEnd(17)} ${v}`);
    return 0;
  },
};
