// OpenAI-style input routed to an engine conversation (backend worker). Chat messages go through the
// model's chat template (the earlier ones as history, the last one, the user's, as the message); a
// model without a template continues the messages' text joined by newlines; a text prompt is
// continued as it is.
import type { CompletionRequest } from '../api/types.js';
import type { EngineModel } from '../engine/engine-model.js';

/** Opens conversation `id` on `engine` for `input` and returns the text to send in it. */
export function openCompletionConversation(engine: EngineModel, id: string, input: CompletionRequest['input']): string {
  if (input.kind === 'text') {
    engine.createConversation({ id });
    return input.prompt;
  }
  if (engine.info.chat) {
    const last = input.messages.at(-1);
    if (last?.role !== 'user') throw new Error('the last message must be the user\'s');
    engine.continueConversation(id, { preamble: [], turns: [], overflow: 'error', messages: input.messages.slice(0, -1) });
    return last.content;
  }
  engine.createConversation({ id });
  return input.messages.map((m) => m.content).join('\n');
}
