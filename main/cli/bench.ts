// `reskv bench`: decode tokens/s, latency and cache bytes of a model at given context lengths, per
// cache format. The context is prefilled with seeded random tokens through the model itself.
import { createRng } from '../../quant/index.js';
import { openCacheRuntime, parseCacheChoice } from '../engine/cache-runtime.js';
import type { CacheChoice } from '../engine/cache-runtime.js';
import { describeDecode, measureDecode, prefill, speedVsFp16 } from '../engine/decode-measure.js';
import type { DecodeMeasurement } from '../engine/decode-measure.js';
import { readManifest } from '../model/manifest.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { asUsage, modelArgs, modelOptions, numberList, numberOption } from './engine-args.js';
import { parseOptions } from './parse-options.js';

const help = `usage: reskv bench --model <id|path> [options]

Measures decode speed (tokens/s, p50/p95 latency), KV bytes held vs fp16, bytes fed per step and
resident memory after prefilling each context length, for each cache.
  --model M          a model id in the library, a library model folder, or a checkpoint
  --library DIR      library folder (default: $RESKV_LIBRARY or the per-user data folder)
  --caches LIST      comma-separated caches (default fp16,rvq when codebooks are installed, else fp16)
  --depths LIST      rvq depths (default: the codebooks' depth)
  --contexts LIST    context lengths (default 128,512, within the model's context)
  --steps N          tokens decoded per measurement (default 16)
  --threads N        ONNX Runtime threads
  --json             results as JSON (speedVsFp16: fp16's p50 token latency over the format's)`;

export const benchCommand: CliCommand = {
  name: 'bench',
  summary: 'decode speed and KV bytes at given context lengths per cache format',
  async run(args) {
    const { values, positionals } = parseOptions({
      args,
      allowPositionals: true,
      options: { ...modelOptions, caches: { type: 'string' }, depths: { type: 'string' }, contexts: { type: 'string' }, steps: { type: 'string' } },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}' (see --help)`);
    if (values.cache !== undefined || values.depth !== undefined) throw new CliUsageError('bench compares caches: use --caches and --depths');
    const steps = numberOption('steps', values.steps) ?? 16;
    if (steps < 2) throw new CliUsageError(`--steps must be at least 2, got ${steps}`);
    const { folder, session } = modelArgs(values);
    const manifest = readManifest(folder);
    const limit = manifest.config.maxPositions - steps - 1;
    const contexts = values.contexts === undefined ? [128, 512].filter((c) => c <= limit) : numberList('contexts', values.contexts);
    const tooLong = contexts.find((c) => c < 1 || c > limit);
    if (tooLong !== undefined) throw new CliUsageError(`--contexts: ${tooLong} is outside 1..${limit} (the model's ${manifest.config.maxPositions} positions less ${steps + 1} decoded)`);
    if (contexts.length === 0) throw new CliUsageError(`the model's context of ${manifest.config.maxPositions} holds none of the default contexts: give --contexts`);
    const depths = values.depths === undefined ? [undefined] : numberList('depths', values.depths);
    const caches = (values.caches ?? (Object.keys(manifest.rvq).length > 0 ? 'fp16,rvq' : 'fp16')).split(',').map((name) => {
      try {
        return parseCacheChoice(name);
      } catch (e) {
        throw new CliUsageError(`--caches: ${(e as Error).message}`);
      }
    });
    const choices: CacheChoice[] = caches.flatMap((c) => (c.format === 'rvq' ? depths.map((depth) => ({ ...c, depth })) : [c]));
    const rng = createRng(1);
    const results: (DecodeMeasurement & { speedVsFp16?: number })[] = [];
    const json = values.json === true;
    for (const context of contexts) {
      if (!json) console.log(`context ${context} (+${steps} decoded):`);
      const tokens = Array.from({ length: context }, () => rng.int(manifest.config.vocabSize));
      let fp16: DecodeMeasurement | undefined;
      for (const choice of choices) {
        const runtime = await asUsage(() => openCacheRuntime(folder, manifest, choice, session));
        try {
          const store = runtime.stores.create();
          await prefill(runtime.decoder, store, tokens);
          const label = choice.depth ? `${runtime.label} d${choice.depth}` : runtime.label;
          const m = await measureDecode(label, runtime.decoder, store, steps);
          if (choice.format === 'fp16') fp16 = m;
          const baseline = m === fp16 ? undefined : fp16;
          results.push(baseline ? { ...m, speedVsFp16: speedVsFp16(m, baseline) } : m);
          if (!json) console.log(describeDecode(m, baseline));
        } finally {
          await runtime.release();
        }
      }
    }
    if (json) console.log(JSON.stringify({ model: manifest.id, steps, results }, null, 2));
    return 0;
  },
};
