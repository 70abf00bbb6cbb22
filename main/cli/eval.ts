// `reskv eval`: teacher-forced evaluation of a model's KV cache formats over a text: fp16 (the
// reference), q8_0, q4_0, KIVI-2 and every installed RVQ codebook set at chosen depths, each set also
// on the keys only and on the values only (the other kind fp16). Strided vs contiguous key grouping
// compares two sets calibrated with different --key-grouping. Mean NLL, perplexity, KL(fp16 ||
// format), top-1 agreement, bits per value and measured KV bytes. --siblings also evaluates the
// models imported from the same checkpoint with other weight formats (--weights at import), so the
// weight loss and the KV loss show separately and together.
import { readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { documentTokens, splitDocuments } from '../engine/calibration/calibration-text.js';
import { parseCacheChoice } from '../engine/cache-runtime.js';
import { choiceName, defaultChoices, evaluateLibraryModel, evaluationTable, perplexityChangePercent, textTable } from '../engine/evaluate-library.js';
import type { LibraryEvaluation, NamedChoice } from '../engine/evaluate-library.js';
import { loadLibraryTokenizer, weightSiblings } from '../model/library.js';
import { readManifest } from '../model/manifest.js';
import type { ModelManifest } from '../model/manifest.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { asUsage, modelArgs, modelOptions, numberList, numberOption } from './engine-args.js';
import { parseOptions } from './parse-options.js';

const help = `usage: reskv eval --model <id|path> --text FILE [options]

Reads the text teacher-forced through every cache format in lockstep (chunked prefill; texts longer
than the context are scored in back-to-back segments) and compares each with the fp16 cache.
  --model M         a model id in the library, a library model folder, or a checkpoint
  --library DIR     library folder (default: $RESKV_LIBRARY or the per-user data folder)
  --text FILE       the text; documents separated by <|endoftext|>, each starting with BOS
  --documents A:B   documents A..B-1 of the file only (0-based; default all)
  --max-tokens N    score at most N tokens (default all)
  --formats LIST    comma-separated caches (default fp16,q8_0,q4_0,kivi2 and, for every set,
                    rvq:<set>, rvq:<set>/keys and rvq:<set>/values); fp16 is always the reference;
                    /keys: RVQ on the keys only, values kept fp16; /values: the reverse
  --no-one-kind     default formats without the keys-only and values-only rows
  --siblings        also the library's models imported from the same checkpoint with other
                    weight formats (each with its own codebook sets), compared with the widest
                    weights' fp16 cache
  --depths LIST     rvq depths to evaluate, e.g. 8,4,2 (default: each set's full depth)
  --window R        rvq: newest tokens kept in fp16 (default 0)
  --context N       state the compression ratio with codebooks at N tokens (default: the model's context)
  --chunk N         tokens per forward pass (default 64)
  --threads N       ONNX Runtime threads
  --json            results as JSON`;

export const evalCommand: CliCommand = {
  name: 'eval',
  summary: 'teacher-forced quality and bytes of every KV cache format over a text',
  async run(args) {
    const { values, positionals } = parseOptions({
      args,
      allowPositionals: true,
      options: { ...modelOptions, text: { type: 'string' }, documents: { type: 'string' }, 'max-tokens': { type: 'string' }, formats: { type: 'string' }, depths: { type: 'string' }, context: { type: 'string' }, chunk: { type: 'string' }, 'no-one-kind': { type: 'boolean' }, siblings: { type: 'boolean' } },
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}' (see --help)`);
    if (values.cache !== undefined || values.depth !== undefined) throw new CliUsageError('eval compares caches: use --formats and --depths');
    if (!values.text) throw new CliUsageError('--text is required (see --help)');
    let text: string;
    try {
      text = readFileSync(values.text, 'utf8');
    } catch (e) {
      throw new CliUsageError(`--text: ${(e as Error).message}`);
    }
    let documents = splitDocuments(text);
    if (values.documents !== undefined) {
      const match = /^(\d+):(\d+)$/.exec(values.documents);
      if (!match || Number(match[1]) >= Number(match[2]) || Number(match[2]) > documents.length) throw new CliUsageError(`--documents must be A:B with 0 <= A < B <= ${documents.length}, got '${values.documents}'`);
      documents = documents.slice(Number(match[1]), Number(match[2]));
    }
    if (documents.length === 0) throw new CliUsageError(`--text: ${values.text} holds no text`);
    const maxTokens = numberOption('max-tokens', values['max-tokens']);
    if (maxTokens !== undefined && maxTokens < 2) throw new CliUsageError(`--max-tokens must be at least 2, got ${maxTokens}`);
    const depths = values.depths === undefined ? undefined : numberList('depths', values.depths);
    const chunk = numberOption('chunk', values.chunk) ?? 64;
    if (chunk < 1) throw new CliUsageError(`--chunk must be at least 1, got ${chunk}`);
    const { folder, session, cache } = modelArgs({ ...values, cache: 'rvq' });
    const manifest = readManifest(folder);
    const context = numberOption('context', values.context) ?? manifest.config.maxPositions;
    if (context < 1) throw new CliUsageError(`--context must be at least 1, got ${context}`);
    if (values['no-one-kind'] && values.formats !== undefined) throw new CliUsageError('--no-one-kind shapes the default formats; with --formats, list the caches wanted');
    const parsed = values.formats?.split(',').map((name) => {
      try {
        return { name, choice: parseCacheChoice(name) };
      } catch (e) {
        throw new CliUsageError(`--formats: ${(e as Error).message}`);
      }
    });
    const choicesFor = (m: ModelManifest): NamedChoice[] => {
      if (parsed === undefined) return defaultChoices(m, { depths, recentWindow: cache.recentWindow, oneKind: !values['no-one-kind'] });
      const choices: NamedChoice[] = [{ name: 'fp16', choice: { format: 'fp16' } }];
      for (const c of parsed.filter((p) => p.choice.format !== 'fp16')) {
        if (c.choice.format !== 'rvq') choices.push(c);
        else for (const depth of depths ?? [undefined]) choices.push({ name: choiceName(c.name, depth, cache.recentWindow), choice: { ...c.choice, depth, recentWindow: cache.recentWindow } });
      }
      return choices;
    };
    const models = values.siblings ? weightSiblings(dirname(folder), manifest) : [{ folder, manifest }];
    const tokenizer = loadLibraryTokenizer(folder, manifest);
    const tokens = documents.flatMap((d) => documentTokens(tokenizer, d)).slice(0, maxTokens);
    let lastShown = 0;
    const evaluated: { manifest: ModelManifest; rows: LibraryEvaluation[] }[] = [];
    for (const m of models) {
      const rows = await asUsage(() =>
        evaluateLibraryModel(m.folder, m.manifest, tokens, choicesFor(m.manifest), {
          chunk,
          session,
          onProgress: (done, total) => {
            if (Date.now() - lastShown < 250 && done < total) return;
            lastShown = Date.now();
            process.stderr.write(`\r${m.manifest.id}: evaluating ${done} / ${total} tokens`);
          },
        }),
      );
      process.stderr.write('\n');
      evaluated.push({ manifest: m.manifest, rows });
    }
    const header = { documents: documents.length, tokens: tokens.length, context };
    if (values.json) {
      const result = (e: (typeof evaluated)[number]) => ({ model: e.manifest.id, weights: e.manifest.weightType, results: e.rows });
      console.log(JSON.stringify(values.siblings ? { ...header, models: evaluated.map(result), weightTable: weightRows(evaluated) } : { ...result(evaluated[0]), ...header }, null, 2));
      return 0;
    }
    for (const { manifest: m, rows } of evaluated) {
      console.log(`${m.id} (${m.weightType} weights): ${tokens.length} tokens from ${documents.length} documents of ${values.text}, ${rows[0].positions} positions scored`);
      console.log(evaluationTable(rows, context));
      if (rows.some((r) => r.quantizes.endsWith('only'))) console.log('/keys: RVQ on the keys only (values fp16); /values: RVQ on the values only (keys fp16)');
    }
    if (values.siblings) {
      if (evaluated.length === 1) console.log(`no other weight format of ${manifest.source.path} in the library (import it again with --weights int8|int4|fp16|fp32 under another id)`);
      else {
        const table = weightRows(evaluated);
        const widest = evaluated[0].manifest;
        console.log(`\nweights x cache, against ${widest.id} (${widest.weightType} weights) with the fp16 cache:`);
        const pct = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}%`;
        console.log(textTable([['weights', 'model', 'cache', 'perplexity', `vs ${widest.weightType} fp16`, 'vs same weights fp16'], ...table.map((r) => [r.weights, r.model, r.cache, r.perplexity.toFixed(4), pct(r.vsWidestFp16Percent), pct(r.vsSameWeightsFp16Percent)])]));
      }
    }
    return 0;
  },
};

/** One row per model and cache: perplexity against the widest weights' fp16 cache and against the same weights' fp16 cache. */
function weightRows(evaluated: readonly { manifest: ModelManifest; rows: readonly LibraryEvaluation[] }[]) {
  const reference = evaluated[0].rows[0].perplexity;
  return evaluated.flatMap(({ manifest, rows }) =>
    rows.map((r) => ({ weights: manifest.weightType, model: manifest.id, cache: r.name, perplexity: r.perplexity, vsWidestFp16Percent: perplexityChangePercent(r.perplexity, reference), vsSameWeightsFp16Percent: r.perplexityChangePercent })),
  );
}
