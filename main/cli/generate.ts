// `reskv generate`: one completion from a prompt, printed as it streams (only the generated text, so
// scripts can use it); --json prints the text with the timing and cache figures instead.
import { EngineModel } from '../engine/engine-model.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { asUsage, modelArgs, modelHelp, modelOptions, samplingArgs, samplingFlags, samplingHelp } from './engine-args.js';
import { parseOptions } from './parse-options.js';

const help = `usage: reskv generate --model <id|path> --prompt <text> [options]

Generates a continuation of the prompt (for chat models: the assistant's reply to it as a user
message) and prints only the generated text.
${modelHelp}
  --prompt TEXT     the prompt; an empty one ('') samples from BOS alone (unconditional, as llama2.c does)
${samplingHelp}`;

export const generateCommand: CliCommand = {
  name: 'generate',
  summary: 'generate text from a prompt with a chosen KV cache format',
  async run(args) {
    const { values, positionals } = parseOptions({ args, allowPositionals: true, options: { ...modelOptions, ...samplingFlags, prompt: { type: 'string' } } });
    if (values.help) {
      console.log(help);
      return 0;
    }
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}' (see --help)`);
    if (values.prompt === undefined) throw new CliUsageError('--prompt is required (see --help)');
    const options = samplingArgs(values);
    const { folder, cache, session } = modelArgs(values);
    const model = await asUsage(() => EngineModel.open({ model: folder, cache, session }));
    const controller = new AbortController();
    const cancel = () => controller.abort();
    process.once('SIGINT', cancel);
    try {
      const id = model.createConversation();
      const stream = model.send(id, values.prompt, options, controller.signal);
      for (;;) {
        const next = await asUsage(() => stream.next());
        if (next.done) {
          if (values.json) console.log(JSON.stringify({ model: model.info, ...next.value }, null, 2));
          else process.stdout.write('\n');
          return 0;
        }
        if (!values.json) process.stdout.write(next.value.text);
      }
    } finally {
      process.removeListener('SIGINT', cancel);
      await model.release();
    }
  },
};
