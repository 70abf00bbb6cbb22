// One-shot completions for the local API (backend worker): a throwaway conversation on the model's
// queue, streaming its text as completion-delta events, cancellable while queued or running.
import { randomUUID } from 'node:crypto';
import type { BackendEvent, CompletionRequest, CompletionResult } from '../api/types.js';
import { deepest, generationOptions } from './api-shapes.js';
import { openCompletionConversation } from './completion-prompt.js';
import type { ModelPool } from './model-pool.js';
import { RequestRegistry } from './request-registry.js';

export class CompletionRunner {
  private readonly requests = new RequestRegistry();

  constructor(
    private readonly pool: ModelPool,
    private readonly publish: (event: BackendEvent) => void,
  ) {}

  async complete(request: CompletionRequest): Promise<CompletionResult> {
    const { requestId, input, depth } = request;
    const signal = this.requests.add(requestId);
    const cancelled = () => new Error(`request '${requestId}' was cancelled`);
    try {
      return await this.pool.open(request.model, request.cache).run(async (engine) => {
        if (signal.aborted) throw cancelled();
        const id = `api-${randomUUID()}`;
        const text = openCompletionConversation(engine, id, input);
        try {
          if (depth !== null) engine.setDepth(id, { depth });
          const stream = engine.send(id, text, generationOptions(request.sampling), signal);
          let next = await stream.next();
          while (!next.done) {
            if (next.value.text) this.publish({ type: 'completion-delta', requestId, text: next.value.text });
            next = await stream.next();
          }
          const { figures, tokens, stopReason, seed } = next.value;
          if (stopReason === 'cancelled') throw cancelled();
          return {
            text: next.value.text,
            finishReason: stopReason === 'max-tokens' || stopReason === 'context-full' ? 'length' : 'stop',
            promptTokens: figures.tokens - tokens.length,
            completionTokens: tokens.length,
            kvBytes: figures.kv.held,
            kvBytesFp16: figures.kv.fp16,
            cache: engine.info.cache,
            depth: deepest(figures),
            seed,
          };
        } finally {
          engine.close(id);
        }
      });
    } finally {
      this.requests.remove(requestId);
    }
  }

  /** Stops a local-API request, queued (it never runs) or running (at its next token). */
  cancel(requestId: string): boolean {
    return this.requests.cancel(requestId);
  }
}
