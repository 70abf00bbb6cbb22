// `reskv chat`: an interactive conversation in the terminal (readline). Models with a chat template
// answer as an assistant; others continue the text. Commands: /depth N (rvq), /stats, /reset, /quit.
// Ctrl-C stops a reply at its next token; at the prompt it quits.
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { EngineModel } from '../engine/engine-model.js';
import type { ConversationFigures } from '../engine/engine-model.js';
import { parseGenerationOptions } from '../engine/generate.js';
import type { GenerationOptionsInput } from '../engine/generate.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { asUsage, mib, modelArgs, modelHelp, modelOptions, samplingArgs, samplingFlags, samplingHelp } from './engine-args.js';
import { parseOptions } from './parse-options.js';

const help = `usage: reskv chat --model <id|path> [options]

Talks with a model in the terminal. Type a message (or, for models without a chat template, text to
continue). Commands:
  /depth N   change the RVQ depth from the next token on (rvq cache)
  /stats     the conversation's cache bytes, compression, speed and memory
  /reset     forget the conversation
  /quit      leave (also Ctrl-D)
${modelHelp}
  --system TEXT     a system message (chat models)
${samplingHelp}`;

/** One line per figure, for /stats. */
export function describeFigures(f: ConversationFigures): string {
  const t = f.lastReply;
  const lines = [
    `tokens ${f.tokens} (${f.cachedTokens} cached)`,
    `KV held ${mib(f.kv.held)} MiB (codes ${mib(f.kv.codes)} + scales ${mib(f.kv.scales)} + fp16 ${mib(f.kv.uncoded)} + depths ${mib(f.kv.bookkeeping)}), fp16 would take ${mib(f.kv.fp16)} MiB: ${f.compressionRatio.toFixed(2)}x smaller, ${f.bitsPerValue.toFixed(3)} bits/value`,
    `codebooks ${mib(f.codebookBytes)} MiB (with them: ${f.compressionWithCodebooks.toFixed(3)}x); fed per step ${mib(f.kv.fedPerStep)} MiB`,
  ];
  if (f.depths) lines.push(`depths: keys [${f.depths.key.join(' ')}], values [${f.depths.value.join(' ')}]`);
  if (t) lines.push(`last reply: prefill ${t.prefillTokensPerSecond.toFixed(1)} tok/s, decode ${t.decodeTokensPerSecond.toFixed(1)} tok/s, p50 ${t.latencyP50Ms.toFixed(1)} ms, p95 ${t.latencyP95Ms.toFixed(1)} ms`);
  lines.push(`resident memory ${mib(f.residentBytes)} MiB`);
  return lines.join('\n');
}

/** The chat loop over any line source (the terminal, or a test's stream). */
export async function chatLoop(model: EngineModel, id: string, input: Readable, output: Writable, options: GenerationOptionsInput): Promise<void> {
  const rl = createInterface({ input, output, terminal: (input as { isTTY?: boolean }).isTTY === true });
  const write = (text: string) => output.write(text);
  let reply: AbortController | null = null;
  rl.on('SIGINT', () => (reply ? reply.abort() : rl.close()));
  write(`${model.info.id} with the ${model.info.cache} cache on ${model.info.provider}${model.info.chat ? '' : ' (no chat template: text continuation)'}; /quit to leave\n`);
  rl.setPrompt('> ');
  rl.prompt();
  for await (const line of rl) {
    const text = line.trim();
    try {
      if (text === '/quit') break;
      else if (text === '/stats') write(`${describeFigures(model.figures(id))}\n`);
      else if (text === '/reset') {
        model.reset(id);
        write('conversation reset\n');
      } else if (text.startsWith('/depth')) {
        const depth = Number(text.slice(6).trim());
        const f = model.setDepth(id, { depth });
        write(`depth ${depth}: ${mib(f.kv.held)} MiB held, ${f.bitsPerValue.toFixed(3)} bits/value\n`);
      } else if (text.startsWith('/')) write('commands: /depth N, /stats, /reset, /quit\n');
      else if (text) {
        reply = new AbortController();
        const stream = model.send(id, line, options, reply.signal);
        for (;;) {
          const next = await stream.next();
          if (next.done) {
            write(next.value.stopReason === 'cancelled' ? ' [stopped]\n' : '\n');
            break;
          }
          write(next.value.text);
        }
      }
    } catch (e) {
      write(`error: ${(e as Error).message}\n`);
    } finally {
      reply = null;
    }
    rl.prompt();
  }
  rl.close();
}

export const chatCommand: CliCommand = {
  name: 'chat',
  summary: 'talk with a model in the terminal (/depth N, /stats, /reset, /quit)',
  async run(args) {
    const { values, positionals } = parseOptions({ args, allowPositionals: true, options: { ...modelOptions, ...samplingFlags, system: { type: 'string' } } });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}' (see --help)`);
    if (values.json) throw new CliUsageError('chat is interactive: use reskv generate --json for machine-readable output');
    const options = samplingArgs(values);
    await asUsage(async () => parseGenerationOptions(options));
    const { folder, cache, session } = modelArgs(values);
    const model = await asUsage(() => EngineModel.open({ model: folder, cache, session }));
    try {
      const id = await asUsage(async () => model.createConversation({ system: values.system }));
      await chatLoop(model, id, process.stdin, process.stdout, options);
    } finally {
      await model.release();
    }
    return 0;
  },
};
