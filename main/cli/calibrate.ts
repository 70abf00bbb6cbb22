// `reskv calibrate`: learns a model's RVQ codebooks from text (or from text it samples itself) and
// installs them with an rvq graph in its library folder. Progress on stderr; Ctrl-C cancels.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { KvKind } from '../../quant/index.js';
import { calibrateModel, calibrationSettingsSchema, defaultSelfGeneratedTokens, describeCalibrationProgress, planCalibration } from '../engine/calibration/calibrate.js';
import type { CalibrationText } from '../engine/calibration/calibrate.js';
import { defaultLibraryDir, listModels } from '../model/library.js';
import { importModel } from '../library/import-model.js';
import { manifestFileName, readManifest } from '../model/manifest.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { parseOptions } from './parse-options.js';

const help = `usage: reskv calibrate --model <id|path> [--text FILE ...] [options]

Learns the RVQ codebooks of a model (one residual quantizer per layer for keys and one for values,
k-means init + EMA, stage by stage) from the pre-RoPE K/V its capture graph produces on calibration
text, saves them in the model's library folder and installs an rvq graph for them.
  --model M                  a model id in the library, a library model folder, or a checkpoint
                             (llama2.c .bin or Hugging Face folder; imported first if needed)
  --text FILE                calibration text (repeatable); documents separated by <|endoftext|>
  --self-generated-tokens N  data-free calibration: N tokens the model samples at temperature 1
                             (the default, with 16384 tokens, when no --text is given)
  --depth D                  residual stages (default 8)
  --codebook-size C          entries per stage, a power of two (default 2048)
  --group-size G             channels per group (default 32)
  --key-grouping MODE        strided (default) or contiguous
  --value-grouping MODE      strided or contiguous (default)
  --group-span head|token    groups inside each head, or across the token's KV heads
                             (default head when G divides head_dim, else token)
  --scale head|token|none    fp16 std scale per head vector, per token, or none
                             (default head for head-span groups, else token)
  --max-vectors N            token rows sampled per layer for training (default 65536, less for big models)
  --kmeans-sample N          group vectors in each stage's k-means initialisation (default 32 x C)
  --kmeans-iterations N      k-means iterations per stage (default 10)
  --ema-passes N             EMA passes over the sample per stage (default 1)
  --seed S                   seed of sampling and training (default 0); the same seed gives the same
                             codebook bytes (same machine and --threads)
  --name NAME                codebook set name in the model folder (default "default")
  --library DIR              library folder (default: $RESKV_LIBRARY or the per-user data folder)
  --threads N                ONNX Runtime threads (default: its own choice)
  --json                     print the result as JSON`;

function integer(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const value = Number(text);
  if (text.trim() === '' || !Number.isSafeInteger(value)) throw new CliUsageError(`--${flag} must be a whole number, got '${text}'`);
  return value;
}

/** A library folder for --model: a model folder, an id in the library, or a checkpoint (imported when not yet). */
export function resolveLibraryModel(spec: string, library: string, onImport: (message: string) => void): string {
  if (existsSync(join(spec, manifestFileName))) return spec;
  if (!spec.includes('/') && !spec.includes('\\') && existsSync(join(library, spec, manifestFileName))) return join(library, spec);
  if (!existsSync(spec)) throw new CliUsageError(`--model: '${spec}' is neither a model in ${library} nor an existing path`);
  const imported = listModels(library).find((e) => e.manifest && resolve(e.manifest.source.path) === resolve(spec));
  if (imported) return imported.folder;
  onImport(`importing ${spec} into ${library}`);
  const isFile = statSync(spec).isFile();
  return importModel(spec, {
    library,
    onProgress: ({ bytesDone, bytesTotal }) => onImport(`converting weights${isFile ? '' : ' of the folder'}: ${((100 * bytesDone) / Math.max(1, bytesTotal)).toFixed(0)}%`),
  }).folder;
}

export const calibrateCommand: CliCommand = {
  name: 'calibrate',
  summary: 'learn a model\'s RVQ codebooks from text (or data-free) and install them',
  async run(args) {
    const { values, positionals } = parseOptions({
      args,
      allowPositionals: true,
      options: {
        model: { type: 'string' },
        text: { type: 'string', multiple: true },
        'self-generated-tokens': { type: 'string' },
        depth: { type: 'string' },
        'codebook-size': { type: 'string' },
        'group-size': { type: 'string' },
        'key-grouping': { type: 'string' },
        'value-grouping': { type: 'string' },
        'group-span': { type: 'string' },
        scale: { type: 'string' },
        'max-vectors': { type: 'string' },
        'kmeans-sample': { type: 'string' },
        'kmeans-iterations': { type: 'string' },
        'ema-passes': { type: 'string' },
        seed: { type: 'string' },
        name: { type: 'string' },
        library: { type: 'string' },
        threads: { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}' (see --help)`);
    if (!values.model) throw new CliUsageError('--model is required (see --help)');
    const selfTokens = integer('self-generated-tokens', values['self-generated-tokens']);
    if (values.text && selfTokens !== undefined) throw new CliUsageError('give either --text files or --self-generated-tokens, not both');
    if (selfTokens !== undefined && selfTokens < 1) throw new CliUsageError(`--self-generated-tokens must be at least 1, got ${selfTokens}`);
    for (const file of values.text ?? []) {
      if (!existsSync(file) || !statSync(file).isFile()) throw new CliUsageError(`--text: ${file} is not a file`);
    }
    const text: CalibrationText = values.text ? { kind: 'files', paths: values.text } : { kind: 'self-generated', tokens: selfTokens ?? defaultSelfGeneratedTokens };
    const settingsInput: Record<string, unknown> = {
      depth: integer('depth', values.depth),
      codebookSize: integer('codebook-size', values['codebook-size']),
      groupSize: integer('group-size', values['group-size']),
      keyGrouping: values['key-grouping'],
      valueGrouping: values['value-grouping'],
      groupSpan: values['group-span'],
      scale: values.scale,
      maxVectors: integer('max-vectors', values['max-vectors']),
      kmeansSample: integer('kmeans-sample', values['kmeans-sample']),
      kmeansIterations: integer('kmeans-iterations', values['kmeans-iterations']),
      emaPasses: integer('ema-passes', values['ema-passes']),
      seed: integer('seed', values.seed),
      name: values.name,
    };
    const flags: Record<string, string> = { codebookSize: 'codebook-size', groupSize: 'group-size', keyGrouping: 'key-grouping', valueGrouping: 'value-grouping', groupSpan: 'group-span', maxVectors: 'max-vectors', kmeansSample: 'kmeans-sample', kmeansIterations: 'kmeans-iterations', emaPasses: 'ema-passes' };
    const checked = calibrationSettingsSchema.safeParse(Object.fromEntries(Object.entries(settingsInput).filter(([, v]) => v !== undefined)));
    if (!checked.success) {
      throw new CliUsageError(checked.error.issues.map((i) => `--${flags[String(i.path[0])] ?? String(i.path[0])}: ${i.message}`).join('; '));
    }
    const threads = integer('threads', values.threads) ?? 0;
    if (threads < 0) throw new CliUsageError(`--threads must be at least 0, got ${threads}`);

    // at most four updates a second, but the first of every phase always shows
    let lastShown = 0;
    let lastPhase = '';
    const show = (message: string, phase: string) => {
      const now = Date.now();
      if (phase === lastPhase && now - lastShown < 250) return;
      lastShown = now;
      lastPhase = phase;
      process.stderr.write(`\r${message.padEnd(100)}`);
    };
    const folder = resolveLibraryModel(values.model, values.library ?? defaultLibraryDir(), (m) => show(m, 'import'));
    try {
      planCalibration(readManifest(folder).config, checked.data);
    } catch (e) {
      // a configuration this model cannot take, e.g. a group size dividing neither head_dim nor the token width
      throw new CliUsageError((e as Error).message);
    }
    const controller = new AbortController();
    const cancel = () => controller.abort(new Error('calibration cancelled (Ctrl-C)'));
    process.once('SIGINT', cancel);
    let result;
    try {
      result = await calibrateModel(folder, {
        text,
        settings: checked.data,
        session: { providers: ['cpu'], threads },
        signal: controller.signal,
        onProgress: (p) => show(`${p.phase === 'train' ? `${(100 * p.fraction).toFixed(1)}% ` : ''}${describeCalibrationProgress(p)}`, p.phase),
      });
    } finally {
      process.removeListener('SIGINT', cancel);
      process.stderr.write('\n');
    }
    if (values.json) {
      console.log(JSON.stringify(result, null, 2));
      return 0;
    }
    const { specs, record, seconds } = result;
    const source = record.source.kind === 'text' ? `text: ${record.source.files.map((f) => `${f.file} (${f.documents} documents)`).join(', ')}` : `data-free: ${record.source.tokens} tokens sampled by the model at temperature 1`;
    const describeSpec = (s: typeof specs.key) => `C ${s.codebookSize}, depth ${s.depth}, groups of ${s.groupSize} (${s.grouping}, ${s.groupSpan} span), ${s.scale === 'none' ? 'no scale' : `fp16 scale per ${s.scale}`}`;
    console.log(`calibrated ${record.model} codebook set "${result.name}" from ${source}`);
    console.log(`tokens seen ${record.tokensSeen}, sampled per layer ${record.tokensSampled}, seed ${record.settings.seed}`);
    console.log(`keys:   ${describeSpec(specs.key)}: ${result.bitsPerValue.key} bits/value`);
    console.log(`values: ${describeSpec(specs.value)}: ${result.bitsPerValue.value} bits/value`);
    const last = (kind: KvKind) => result.residualMse.map((m) => m[kind][m[kind].length - 1].toFixed(4)).join(' ');
    console.log(`final training residual MSE per layer (scaled units): keys ${last('key')}; values ${last('value')}`);
    console.log(`time: text ${seconds.text.toFixed(1)} s, capture ${seconds.capture.toFixed(1)} s, training ${seconds.train.toFixed(1)} s, save ${seconds.save.toFixed(1)} s`);
    console.log(result.codebookFile);
    console.log(result.graphFile);
    return 0;
  },
};
