// What the API reports of an open model (a chat's model and cache). The engine fills it in and the API
// contract (main/api/types.ts) re-exports it, so both use one definition; dependency-free, so any layer,
// the renderer's types included, may import it.

export interface ChatModelInfo {
  id: string;
  /** The cache format it runs, e.g. "rvq:default". */
  cache: string;
  /** The execution provider that actually runs the model, and those passed over with why. */
  provider: string;
  skippedProviders: { provider: string; reason: string }[];
  /** false: the model has no chat template; prompts continue text after BOS. */
  chat: boolean;
  contextLength: number;
  /** rvq: the codebooks' depth (the largest residual depth); else null. */
  maxDepth: number | null;
  codebookBytes: number;
}
