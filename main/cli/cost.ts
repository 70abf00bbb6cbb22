// `reskv cost`: the deployment cost estimator on the command line, one column per KV format.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import {
  CostInputError,
  estimateDeploymentCost,
  findModelPreset,
  formatCostTable,
  geometryFromModelConfig,
  KV_FORMAT_SYNTAX,
  loadHardwareCatalog,
  modelPresets,
  parameterBreakdown,
  parseKvFormatName,
  weightPrecisions,
} from '../cost/index.js';
import type { CatalogEntry, CostInput, ModelGeometry } from '../cost/index.js';
import { defaultLibraryDir, listModels } from '../model/library.js';
import { manifestFileName, readManifest } from '../model/manifest.js';
import { modelConfigFromHf } from '../model/hf-config.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { parseOptions } from './parse-options.js';

/** Numeric options and where each lands in the estimator's input (also used to name them in errors). */
const numericOptions: Array<{ flag: string; path: string[]; help: string; efficiency?: true }> = [
  { flag: 'context', path: ['workload', 'context'], help: 'tokens per conversation (at most the model\'s limit)' },
  { flag: 'users', path: ['workload', 'users'], help: 'concurrent conversations' },
  { flag: 'prompt-tokens', path: ['workload', 'promptTokens'], help: 'average prompt (default min(1024, context - answer))' },
  { flag: 'answer-tokens', path: ['workload', 'answerTokens'], help: 'average answer (default min(256, context/4))' },
  { flag: 'requests-per-day', path: ['workload', 'requestsPerDay'], help: 'daily demand in requests ...' },
  { flag: 'tokens-per-day', path: ['workload', 'tokensPerDay'], help: '... or in prompt + answer tokens' },
  { flag: 'target-tps', path: ['workload', 'targetDecodeTokensPerSecondPerUser'], help: 'decode tokens/s each user should get (default 10)' },
  { flag: 'purchase-usd', path: ['money', 'purchaseUsdPerGpu'], help: 'purchase price per GPU (default: catalog)' },
  { flag: 'cloud-usd-per-hour', path: ['money', 'cloudUsdPerGpuHour'], help: 'cloud price per GPU-hour (default: catalog)' },
  { flag: 'months', path: ['money', 'amortisationMonths'], help: 'amortisation period (default 36)' },
  { flag: 'kwh-usd', path: ['money', 'electricityUsdPerKWh'], help: 'electricity price per kWh (default 0.15)' },
  { flag: 'pue', path: ['money', 'pue'], help: 'data-centre power usage effectiveness (default 1.5)' },
  { flag: 'utilisation', path: ['money', 'utilisation'], help: 'share of the month the GPUs are busy, 0-1 (default 0.5)' },
  { flag: 'reserve', path: ['deployment', 'runtimeReserveFraction'], help: 'share of GPU memory kept for the runtime (default 0.1)' },
  { flag: 'tp', path: ['deployment', 'tensorParallel'], help: 'GPUs per model replica (default: the smallest that works)' },
  { flag: 'gpus-available', path: ['deployment', 'gpusAvailable'], help: 'GPUs you have: says whether they suffice' },
  { flag: 'acceptable-loss', path: ['acceptableLossPercent'], help: 'perplexity increase (%) you accept: the headline picks the cheapest format within it' },
  { flag: 'decode-efficiency', path: ['efficiency', 'decode'], help: 'share of peak bandwidth decode reaches (default 0.6, assumed)', efficiency: true },
  { flag: 'compute-efficiency', path: ['efficiency', 'prefill'], help: 'share of peak FLOP/s reached (default 0.5, assumed)', efficiency: true },
];

const help = [
  'usage: reskv cost --model M --gpu ID --context N --users N --kv FORMAT [--kv FORMAT ...] [options]',
  '',
  'Estimates memory, GPUs, speed and money of serving a model with each KV-cache format.',
  '  --model M              a preset (see --list), a model id in the library, a library model folder,',
  '                         or a Hugging Face folder or config.json',
  '  --gpu ID               hardware catalog id (see --list)',
  `  --kv FORMAT            repeatable: ${KV_FORMAT_SYNTAX}`,
  `  --weights P            weight precision: ${weightPrecisions.join(', ')} (default fp16)`,
  '  --pricing own|cloud    amortised purchase + power (default), or cloud hourly price',
  ...numericOptions.map((o) => `  --${`${o.flag} N`.padEnd(21)}${o.help}`),
  '  --library DIR          model library (default: $RESKV_LIBRARY or the per-user data folder)',
  '  --hardware-dir DIR     folder with your own hardware entries (hardware-user.json)',
  '  --json                 print the whole estimate as JSON',
  '  --list                 list model presets and hardware',
].join('\n');

function parseNumber(flag: string, text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value)) throw new CliUsageError(`--${flag} must be a number, got '${text}'`);
  return value;
}

function setPath(target: Record<string, unknown>, path: string[], value: unknown): void {
  let node = target;
  for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
  node[path[path.length - 1]] = value;
}

function resolveModel(spec: string, library: string): ModelGeometry {
  const preset = findModelPreset(spec);
  if (preset) return preset.geometry;
  if (existsSync(spec)) {
    const isFolder = statSync(spec).isDirectory();
    if (isFolder && existsSync(join(spec, manifestFileName))) {
      const manifest = readManifest(spec);
      return geometryFromModelConfig(manifest.id, `ResKV library model (${manifest.source.path})`, manifest.config);
    }
    const configFile = isFolder ? join(spec, 'config.json') : spec;
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(configFile, 'utf8'));
    } catch (err) {
      throw new CliUsageError(`--model: cannot read ${configFile} as JSON (${(err as Error).message})`);
    }
    return geometryFromModelConfig(spec, configFile, modelConfigFromHf(json, configFile));
  }
  const entry = listModels(library).find((e) => e.manifest?.id === spec);
  if (entry?.manifest) return geometryFromModelConfig(entry.manifest.id, `ResKV library model (${entry.manifest.source.path})`, entry.manifest.config);
  throw new CliUsageError(
    `--model: '${spec}' is not a preset (${modelPresets.map((p) => p.id).join(', ')}), a model in ${library}, or an existing path`,
  );
}

function resolveGpu(id: string, catalog: CatalogEntry[]): CatalogEntry['entry'] {
  const found = catalog.find((c) => c.entry.id === id.toLowerCase());
  if (!found) throw new CliUsageError(`--gpu: unknown id '${id}' (known: ${catalog.map((c) => c.entry.id).join(', ')})`);
  return found.entry;
}

function listing(catalog: CatalogEntry[]): string {
  const lines = ['model presets:'];
  for (const p of modelPresets) {
    const g = p.geometry;
    lines.push(`  ${p.id.padEnd(16)} ${(parameterBreakdown(g).total / 1e9).toFixed(2)}B parameters, ${g.maxPositions} tokens max  (${g.source})`);
  }
  lines.push('', 'hardware:');
  for (const { entry: h, origin } of catalog) {
    const price = h.purchase ? `$${h.purchase.usd}${h.purchase.approximate ? ' approx.' : ''}` : 'no purchase price';
    const cloud = h.cloud ? `$${h.cloud.usdPerHour}/h${h.cloud.approximate ? ' approx.' : ''}` : 'no cloud price';
    lines.push(
      `  ${h.id.padEnd(16)} ${h.name}: ${h.memory.value} ${h.memory.unit}, ${h.memoryBandwidth.value} ${h.memoryBandwidth.unit}, ` +
        `${h.fp16DenseTflops} TFLOPS, ${h.boardPowerW} W, ${price}, ${cloud}${origin === 'user' ? ' [yours]' : ''}`,
    );
  }
  return lines.join('\n');
}

/** Names the command-line option behind an input field, so errors speak the user's language. */
function optionName(path: PropertyKey[]): string {
  const key = path.join('.');
  const numeric = numericOptions.find((o) => key === o.path.join('.') || key.startsWith(`${o.path.join('.')}.`));
  if (numeric) return `--${numeric.flag}`;
  if (path[0] === 'kv') return `--kv #${Number(path[1]) + 1}`;
  if (key === 'money.pricing') return '--pricing';
  return key === 'weights' ? '--weights' : key;
}

export const costCommand: CliCommand = {
  name: 'cost',
  summary: 'estimate memory, GPUs, speed and money per KV-cache format for a model on some hardware',
  async run(args) {
    const numericConfig = Object.fromEntries(numericOptions.map((o) => [o.flag, { type: 'string' as const }]));
    const { values, positionals } = parseOptions({
      args,
      allowPositionals: true,
      options: {
        ...numericConfig,
        model: { type: 'string' },
        gpu: { type: 'string' },
        kv: { type: 'string', multiple: true },
        weights: { type: 'string' },
        pricing: { type: 'string' },
        library: { type: 'string' },
        'hardware-dir': { type: 'string' },
        json: { type: 'boolean' },
        list: { type: 'boolean' },
        help: { type: 'boolean' },
      },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}' (see --help)`);
    const catalog = loadHardwareCatalog(values['hardware-dir']);
    if (values.list) {
      console.log(listing(catalog));
      return 0;
    }
    const given = values as Record<string, string | undefined>;
    const { model, gpu, kv } = values;
    const missing = ['model', 'gpu', 'context', 'users', 'kv'].filter((flag) => given[flag] === undefined);
    if (!model || !gpu || !kv || missing.length > 0) throw new CliUsageError(`missing ${missing.map((m) => `--${m}`).join(', ')} (see --help)`);

    const input: Record<string, unknown> = {
      model: resolveModel(model, values.library ?? defaultLibraryDir()),
      hardware: resolveGpu(gpu, catalog),
      kv: kv.map((name) => {
        try {
          return { format: parseKvFormatName(name) };
        } catch (err) {
          throw new CliUsageError(`--kv: ${(err as Error).message}`);
        }
      }),
    };
    if (values.weights !== undefined) input.weights = values.weights;
    if (values.pricing !== undefined) setPath(input, ['money', 'pricing'], values.pricing);
    for (const option of numericOptions) {
      const text = given[option.flag];
      if (text === undefined) continue;
      const value = parseNumber(option.flag, text);
      setPath(input, option.path, option.efficiency ? { value, source: 'assumed', note: 'given on the command line' } : value);
    }

    let estimate;
    try {
      estimate = estimateDeploymentCost(input as CostInput);
    } catch (err) {
      if (!(err instanceof CostInputError)) throw err;
      throw new CliUsageError(err.issues.map((i) => `${optionName(i.path)}: ${i.message}`).join('; '));
    }
    console.log(values.json ? JSON.stringify(estimate, null, 2) : formatCostTable(estimate));
    return 0;
  },
};
