// `reskv import <path>`: converts a llama2.c checkpoint or Hugging Face folder into the model library.
import { importModel } from '../library/import-model.js';
import { parseWeightType, weightBytes } from '../model/weights.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { parseOptions } from './parse-options.js';

const help = `usage: reskv import <checkpoint> [--library DIR] [--id NAME] [--weights int4|int8|fp16|fp32] [--tokenizer FILE]

Converts a model into ResKV's library: ONNX graphs (fp baseline, capture) sharing one weights file,
the tokenizer and a manifest. <checkpoint> is a Hugging Face folder (config.json + safetensors) or a
llama2.c .bin file.
  --library DIR     library folder (default: $RESKV_LIBRARY or the per-user data folder)
  --id NAME         folder name in the library (default: from the checkpoint's name)
  --weights TYPE    stored weight format: int4 or int8 (linear layers block-quantized, MatMulNBits;
                    float16 embedding, 8-bit classifier), fp16, fp32. Default by size: fp32 under
                    500M parameters, int8 under 3B, int4 above
  --tokenizer FILE  llama2.c only: its tokenizer.bin (default: tokenizer.bin or tok*.bin beside it)`;

export const importCommand: CliCommand = {
  name: 'import',
  summary: 'convert a Hugging Face folder or llama2.c checkpoint into the model library',
  async run(args) {
    const { values, positionals } = parseOptions({
      args,
      allowPositionals: true,
      options: { library: { type: 'string' }, id: { type: 'string' }, weights: { type: 'string' }, tokenizer: { type: 'string' }, help: { type: 'boolean' } },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length !== 1) throw new CliUsageError('expected exactly one checkpoint path (see --help)');
    let weightType;
    try {
      weightType = values.weights === undefined ? undefined : parseWeightType(values.weights);
    } catch (e) {
      throw new CliUsageError(`--${(e as Error).message}`);
    }
    const started = Date.now();
    let lastShown = 0;
    const { folder, manifest } = importModel(positionals[0], {
      library: values.library,
      id: values.id,
      tokenizer: values.tokenizer,
      weightType,
      onProgress: ({ bytesDone, bytesTotal }) => {
        const now = Date.now();
        if (now - lastShown < 200 && bytesDone < bytesTotal) return;
        lastShown = now;
        const pct = bytesTotal ? ((100 * bytesDone) / bytesTotal).toFixed(0) : '100';
        process.stderr.write(`\rconverting weights: ${mb(bytesDone)} / ${mb(bytesTotal)} MB (${pct}%)`);
      },
    });
    process.stderr.write('\n');
    const c = manifest.config;
    const bytes = weightBytes(c, manifest.weightType);
    console.log(`imported ${manifest.id} (${c.architecture}, ${(manifest.parameterCount / 1e6).toFixed(2)}M parameters, ${manifest.weightType} weights: ${mb(manifest.weightsBytes)} MB on disk, ~${mb(bytes.inMemory)} MB in memory) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    console.log(folder);
    return 0;
  },
};

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}
