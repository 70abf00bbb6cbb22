// The backend's engine host (runs in the backend worker): the one object the methods table calls for
// everything that runs a model. It wires the parts, each in its own module:
//   model-pool.ts          loaded models (one per model and cache) and their work queues
//   chat-conversations.ts  the Chat view's conversations, kept on disk (conversation-files.ts)
//   completion-runner.ts   the local API's one-shot completions (completion-prompt.ts routes the input,
//                          request-registry.ts tracks what a cancel can reach)
import { join } from 'node:path';
import type { BackendEvent, ChatModelInfo, CompletionRequest, CompletionResult } from '../api/types.js';
import { ChatConversations, type JobsDuring } from './chat-conversations.js';
import { CompletionRunner } from './completion-runner.js';
import { ConversationFiles } from './conversation-files.js';
import { ModelPool } from './model-pool.js';

export class EngineHost {
  private readonly pool: ModelPool;
  readonly chat: ChatConversations;
  private readonly completions: CompletionRunner;

  /** `jobsDuring` names the background jobs that ran during a reply (none by default). */
  constructor(dataDir: string, publish: (event: BackendEvent) => void, jobsDuring: JobsDuring = () => []) {
    this.pool = new ModelPool(dataDir);
    this.chat = new ChatConversations(this.pool, new ConversationFiles(join(dataDir, 'conversations')), publish, jobsDuring);
    this.completions = new CompletionRunner(this.pool, publish);
  }

  /** What each loaded model reports (its provider and those passed over among it); failed loads are left out. */
  loadedModels(): Promise<ChatModelInfo[]> {
    return this.pool.infos();
  }

  /**
   * A model's codebook sets changed (one calibrated again or removed): later loads of its rvq caches
   * read the files afresh; open conversations keep the cache they use until they are removed.
   */
  codebooksChanged(model: string): void {
    this.pool.codebooksChanged(model, (pooled) => this.chat.uses(pooled));
  }

  complete(request: CompletionRequest): Promise<CompletionResult> {
    return this.completions.complete(request);
  }

  /** Stops a local-API request, queued (it never runs) or running (at its next token). */
  cancelCompletion(requestId: string): boolean {
    return this.completions.cancel(requestId);
  }

  async close(): Promise<void> {
    this.chat.close();
    await this.pool.close();
  }
}
