// The API contract between the renderer and the main process (types only; runs nowhere).
// The renderer imports these types and reaches the implementation through `window.reskv`,
// which the preload script (Electron) or the headless HTTP bridge provides.
// Types come from the modules that own them, by file (not through index.ts files that pull in Node).
import type { CostReport } from '../cost/cost-table.js';
import type { CostEstimate } from '../cost/estimate.js';
import type { CatalogEntry, HardwareEntry } from '../cost/hardware.js';
import type { CostInput } from '../cost/input.js';
import type { WhatIf } from '../cost/what-if.js';
import type { ModelPreset } from '../cost/model-presets.js';
import type { ModelGeometry } from '../cost/model-geometry.js';
import type { ChangedTaskItem, TaskCacheResult, TaskComparison, TaskDrift, TaskKind } from '../task-results.js';
import type { ChatModelInfo } from '../chat-model-info.js';

export type { CatalogEntry, CostEstimate, CostInput, CostReport, HardwareEntry, ModelGeometry, ModelPreset };
export type { ChangedTaskItem, TaskCacheResult, TaskComparison, TaskDrift, TaskKind };

export interface AppInfo {
  name: string;
  version: string;
  /** Electron's version, or null when ResKV runs headless in plain Node. */
  electron: string | null;
  node: string;
  platform: string;
  arch: string;
  /** Folder holding the model library, user hardware entries and saved measurements. */
  dataDir: string;
}

export interface CostCatalog {
  hardware: CatalogEntry[];
  presets: ModelPreset[];
}

export interface CostResult {
  estimate: CostEstimate;
  report: CostReport;
  /** The headline with users, context or GPU changed. */
  whatIf: WhatIf;
}

export type JobKind = 'import' | 'calibrate' | 'sweep' | 'tasks';

export interface JobProgress {
  done: number;
  total: number;
  unit: string;
  /** What is happening now, e.g. "layer 3 key, stage 2". */
  stage?: string;
  /** Seconds left at the rate so far (set by the job registry once 2% is done). */
  secondsLeft?: number;
}

export interface JobSnapshot {
  id: number;
  kind: JobKind;
  title: string;
  /** The library model the job works on (calibrations and sweeps; null for imports), so a view reloaded mid-job finds it again. */
  model: string | null;
  state: 'running' | 'done' | 'failed' | 'cancelled';
  progress: JobProgress | null;
  /** Result summary when done, the error when failed. */
  message: string | null;
  startedAt: string;
  finishedAt: string | null;
}

/** How one kind (keys or values) of a codebook set quantizes (see quant/spec.ts). */
export interface CalibrationQuantizer {
  depth: number;
  codebookSize: number;
  groupSize: number;
  grouping: 'strided' | 'contiguous';
  groupSpan: 'head' | 'token';
  scale: 'head' | 'token' | 'none';
  /** Codes and scales at full depth. */
  bitsPerValue: number;
}

/** Where a codebook set's calibration tokens came from, as its file records it. */
export type CalibrationSource =
  | { kind: 'text'; files: { file: string; sha256: string; documents: number }[] }
  | { kind: 'self-generated'; tokens: number; samples: number };

/** An installed codebook set, read from its codebook file's header. */
export interface CalibrationSummary {
  name: string;
  /** null when the codebook file cannot be read; `problem` says why. */
  key: CalibrationQuantizer | null;
  value: CalibrationQuantizer | null;
  codebookFileBytes: number;
  /** null: the file records no calibration (made by another tool). */
  source: CalibrationSource | null;
  tokensSampled: number | null;
  seed: number | null;
  problem: string | null;
}

/** The text a calibration learns from. */
export type CalibrationTextChoice =
  | { kind: 'sample' }
  | { kind: 'files'; paths: string[] }
  | { kind: 'self-generated'; tokens: number };

/** Calibration settings; every field left out takes the default (the same as `reskv calibrate`'s). */
export interface CalibrationSettingsChoice {
  name?: string;
  depth?: number;
  codebookSize?: number;
  groupSize?: number;
  keyGrouping?: 'strided' | 'contiguous';
  valueGrouping?: 'strided' | 'contiguous';
  groupSpan?: 'head' | 'token';
  scale?: 'head' | 'token' | 'none';
  /** Token rows sampled per layer for training. */
  maxVectors?: number;
  seed?: number;
  kmeansSample?: number;
  kmeansIterations?: number;
  emaPasses?: number;
}

export interface CalibrationRequest {
  text: CalibrationTextChoice;
  settings: CalibrationSettingsChoice;
}

/** A calibration before it runs, on this machine: its size, time, and settings sized for the text. */
export interface CalibrationPlan {
  /** Tokens the text yields (estimated from the first MiB of each large file when `estimated`). */
  textTokens: number;
  estimated: boolean;
  /** For the request's settings. */
  tokensSampled: number;
  vectorsPerLayer: number;
  vectorsPerEntry: number;
  seconds: { capture: number; train: number };
  /** Too few training vectors per codebook entry: what is wrong and what to do; null when enough. */
  warning: string | null;
  /** Settings that fit this text with enough vectors per entry, in about `budgetSeconds`. */
  sized: { codebookSize: number; maxVectors: number; kmeansIterations: number };
  budgetSeconds: number;
}

/** What the calibration form starts from for a model (the defaults `reskv calibrate` uses). */
export interface CalibrationDefaults {
  settings: Required<Omit<CalibrationSettingsChoice, 'groupSpan' | 'scale' | 'kmeansSample' | 'kmeansIterations' | 'emaPasses'>>;
  selfGeneratedTokens: number;
  /** The bundled sample text: its file name and what it is. */
  sample: { name: string; about: string; documents: number; bytes: number };
}

/** A model folder in the library, as the Models view lists it. */
export interface ModelSummary {
  id: string;
  folder: string;
  bytesOnDisk: number;
  /** Absent when the folder is damaged; `problem` says why. */
  info: {
    architecture: string;
    parameterCount: number;
    weightType: string;
    /** Weights file bytes, and the bytes ONNX Runtime holds for them on CPU (float16 matrices widened). */
    weightBytesOnDisk: number;
    weightBytesInMemory: number;
    numLayers: number;
    numKvHeads: number;
    headDim: number;
    maxPositions: number;
    kvBytesPerTokenFp16: number;
    importedAt: string;
    source: string;
    /** Installed codebook sets (calibrations), by name. */
    calibrations: CalibrationSummary[];
    calibrationDefaults: CalibrationDefaults;
  } | null;
  problem: string | null;
}

export type ExecutionProviderName = 'cuda' | 'dml' | 'coreml' | 'webgpu' | 'cpu';

export interface Settings {
  providers: ExecutionProviderName[];
  threads: number;
  libraryDir: string | null;
  localApi: { enabled: boolean; port: number; token: string | null };
}

/** One execution provider as probed on this machine: a tiny graph created and run, float16 kernels included. */
export interface ProviderStatus {
  provider: ExecutionProviderName;
  available: boolean;
  /** false: graphs run float16-free on it (same values in float32), e.g. a WebGPU adapter without shader-f16. */
  halfFloats: boolean;
  /** Why it is unavailable or runs without float16; null when it runs everything. */
  reason: string | null;
}

/** The providers this machine has, and which one runs each loaded model (and why others were passed over). */
export interface ProvidersReport {
  providers: ProviderStatus[];
  models: ChatModelInfo[];
}

export interface SettingsState {
  settings: Settings;
  /** Set when the saved file is damaged and defaults are in use. */
  problem: string | null;
}

/** A KV cache choice: fp16, q8_0, q4_0, kivi2, rvq (default codebook set) or rvq:<set>. */
export type CacheName = string;

export interface SamplingOptions {
  maxTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topK: number;
  topP: number;
  repetitionPenalty: number;
  /** null: a random seed (reported with the reply). */
  seed: number | null;
  stop: string[];
}

export type { ChatModelInfo };

export interface ChatFigures {
  tokens: number;
  cachedTokens: number;
  kv: { codes: number; scales: number; uncoded: number; bookkeeping: number; held: number; fp16: number; fedPerStep: number };
  /** compressionRatio, compressionWithCodebooks, bitsPerValue, bytesPerToken: quant's kvFigures of the held bytes (one truth per figure). */
  compressionRatio: number;
  compressionWithCodebooks: number;
  codebookBytes: number;
  bitsPerValue: number;
  bytesPerToken: number;
  /** rvq: depth for new tokens (the deepest layer's); else null. */
  depth: number | null;
  /** The last reply's timing; prefillTokens: tokens fed before its first (a forked conversation's first reply prefills its whole history). */
  lastReply: { prefillTokens: number; prefillTokensPerSecond: number; decodeTokensPerSecond: number; firstTokenMs: number; latencyP50Ms: number; latencyP95Ms: number } | null;
  residentBytes: number;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

/** How a reply ended: its own end (eos, a stop string), cut (max tokens, context full), or stopped by the operator. */
export type ReplyEnd = 'eos' | 'stop-string' | 'max-tokens' | 'context-full' | 'cancelled';

/** What was measured for one reply (kept with it in the transcript). */
export interface ReplyFacts {
  /** Residual depth the reply was generated at (rvq; null for other caches). */
  depth: number | null;
  tokens: number;
  decodeTokensPerSecond: number;
  end: ReplyEnd;
  /** Oldest turns dropped from the context to make room before this reply. */
  droppedTurns: number;
  /** Background jobs (calibration, import, sweep, task check) that ran while it was generated: its speed is not representative. */
  duringJobs: string[];
}

/** A transcript message; an assistant's carries its reply facts (absent in conversations saved before they were kept). */
export interface TranscriptMessage extends ChatMessage {
  reply?: ReplyFacts;
}

/** A conversation as saved (survives restarts); `open` when its cache is loaded now. */
export interface ChatSession {
  id: string;
  model: string;
  cache: CacheName;
  createdAt: string;
  updatedAt: string;
  /** The conversation this one was forked from (chat.fork), when it was. */
  forkedFrom?: string;
  messages: TranscriptMessage[];
  open: { info: ChatModelInfo; figures: ChatFigures } | null;
  /** Set when the saved conversation cannot be read: why (it is listed, not hidden; model and messages are then empty). */
  problem?: string;
}

/** A library model as the local API offers it (GET /v1/models). */
export interface ApiModel {
  id: string;
  /** When it was imported (ISO time). */
  importedAt: string;
  /**
   * Caches a request may choose (reskv_cache): the scalar formats, rvq:<set> for each readable codebook
   * set, and plain rvq (the default set) when one is the default.
   */
  caches: CacheName[];
  /** Each rvq cache's largest reskv_depth (the depth both kinds of its codebooks have). */
  maxDepths: Record<CacheName, number>;
}

/** One local-API request (POST /v1/chat/completions or /v1/completions) as the backend runs it. */
export interface CompletionRequest {
  /** Chosen by the caller: completion-delta events carry it and completions.cancel takes it. */
  requestId: string;
  model: string;
  cache: CacheName;
  /** rvq: residual depth for this request; null: the codebooks' full depth. */
  depth: number | null;
  /** Chat messages (rendered with the model's chat template; joined by newlines for a model without one) or text to continue. */
  input: { kind: 'chat'; messages: ChatMessage[] } | { kind: 'text'; prompt: string };
  sampling: SamplingOptions;
}

export interface CompletionResult {
  text: string;
  finishReason: 'stop' | 'length';
  promptTokens: number;
  completionTokens: number;
  /** KV cache bytes the request's tokens held at its end, and what fp16 holds for the same tokens. */
  kvBytes: number;
  kvBytesFp16: number;
  /** The cache that ran it (e.g. "rvq:default") and the residual depth used (rvq), else null. */
  cache: string;
  depth: number | null;
  seed: number;
}

/** What a residual-depth sweep (Tradeoffs view) measures; every field is checked by the backend. */
export interface TradeoffSweepOptions {
  /** A plain-text file on this machine (documents separated by <|endoftext|>), scored from its start. */
  textPath: string;
  /** Tokens of the text scored teacher-forced. */
  maxTokens: number;
  /** Codebook sets swept; empty: every set the model has. */
  codebookSets: string[];
  /** Depths 1..maxDepth of each set (at most the set's depth); null: every depth the set has. */
  maxDepth: number | null;
  /** Also measure q8_0, q4_0 and KIVI-2 (fp16, the reference, is always measured). */
  scalarBaselines: boolean;
  /** Decode latency is measured with this many tokens in the cache ... */
  latencyContext: number;
  /** ... over this many decoded tokens ... */
  latencySteps: number;
  /** ... in this many interleaved rounds over all caches (default 5; runs kept before rounds existed: 1). */
  latencyRounds?: number;
}

export type RvqGroupingName = 'strided' | 'contiguous';

/** One measured cache format (an rvq set at one depth, or fp16 / a scalar format). */
export interface TradeoffPoint {
  /** e.g. "fp16", "q4_0", "rvq:default d3". */
  label: string;
  format: 'fp16' | 'q8_0' | 'q4_0' | 'kivi2' | 'rvq';
  rvq: { set: string; depth: number; maxDepth: number; keyGrouping: RvqGroupingName; valueGrouping: RvqGroupingName; codebookSize: number; groupSize: number } | null;
  bitsPerValue: number;
  /** Measured bytes held per token (codes, scales, fp16 values and per-token depth bytes; every layer, K and V). */
  kvBytesPerToken: number;
  perplexity: number;
  /** Against fp16 on the same text, in percent. */
  perplexityChangePercent: number;
  /** Mean KL(fp16 || format) per position, in nats. */
  meanKl: number;
  /** Share of positions whose most likely next token matches fp16's (0..1). */
  top1Agreement: number;
  /** Median milliseconds per decoded token at the sweep's latency context (the median over rounds of each round's median). */
  decodeMsPerToken: number;
  decodeTokensPerSecond: number;
  /** The rounds' range of decodeMsPerToken (absent in runs kept before repeats were measured). */
  decodeMsRange?: { low: number; high: number; rounds: number };
}

/** A finished sweep as kept in the data folder. */
export interface TradeoffRun {
  id: string;
  model: string;
  startedAt: string;
  finishedAt: string;
  options: TradeoffSweepOptions;
  text: { file: string; sha256: string; documents: number; tokens: number; positions: number };
  machine: { platform: string; arch: string; cpu: string; cores: number; provider: string; threads: number };
  /** The model's shape as the cost estimator takes it (so the Cost view can cost the measured model). */
  geometry: ModelGeometry;
  /** The model's weight format (float32, float16, int8, int4); absent in runs kept before it was recorded. */
  weights?: string;
  fp16BytesPerToken: number;
  points: TradeoffPoint[];
  /** Background jobs that ran while the latency was measured (its figures are then not representative). */
  latencyDuringJobs?: string[];
}

/** A model imported from the same checkpoint (any weight format, the model itself included) and its newest kept sweep. */
export interface TradeoffSibling {
  model: string;
  weights: string;
  run: TradeoffRun | null;
}

/** A model's kept sweeps, newest first; `problem` says why a damaged results file could not be read. */
export interface TradeoffHistory {
  model: string;
  runs: TradeoffRun[];
  problem: string | null;
  /** The models imported from its checkpoint, itself included, widest weights first (the Tradeoffs view's weights column). */
  siblings: TradeoffSibling[];
}

/** What a task check (Tasks view, `reskv tasks`) runs; every field is checked by the backend. */
export interface TaskRunOptions {
  /** A JSONL task file on this machine (multiple-choice and generation items). */
  taskPath: string;
  /** Caches compared with fp16, e.g. "q8_0", "kivi2", "rvq" or "rvq:<set>" (each rvq one at every depth). */
  formats: string[];
  /** RVQ depths; empty: 1..the set's depth. */
  depths: number[];
  /** Drift: prompts (the file's first ones) and greedy tokens per prompt; 0 prompts: no drift. */
  driftPrompts: number;
  driftTokens: number;
  /** Seed of the paired bootstrap. */
  seed: number;
}

/** A finished task check. */
export interface TaskRun {
  id: string;
  model: string;
  startedAt: string;
  finishedAt: string;
  options: TaskRunOptions;
  file: { path: string; sha256: string };
  items: { line: number; kind: TaskKind; prompt: string; expected: string }[];
  caches: TaskCacheResult[];
  changed: ChangedTaskItem[];
  drift: TaskDrift[];
}

/** A model's kept task checks, newest first; `problem` says why a damaged results file could not be read. */
export interface TaskHistory {
  model: string;
  runs: TaskRun[];
  problem: string | null;
}

/** The desktop app's local API server as it runs now (the Electron main process runs it). */
export type LocalApiStatus = { state: 'off' } | { state: 'listening'; url: string } | { state: 'failed'; error: string };

/** Pushed from the backend to the renderer. */
export type BackendEvent =
  | { type: 'job'; job: JobSnapshot }
  | { type: 'models-changed' }
  | { type: 'settings-changed'; settings: Settings }
  | { type: 'chat-token'; conversationId: string; index: number; text: string; latencyMs: number }
  | { type: 'chat-figures'; conversationId: string; figures: ChatFigures }
  | { type: 'completion-delta'; requestId: string; text: string }
  /** From the Electron main process, not the backend: the local API server started, stopped or failed. */
  | { type: 'local-api-status'; status: LocalApiStatus };

export interface ResKvBridge {
  app: {
    info(): Promise<AppInfo>;
  };
  cost: {
    /** Built-in and user hardware, and the built-in model presets. */
    catalog(): Promise<CostCatalog>;
    estimate(input: CostInput): Promise<CostResult>;
    /** Adds or replaces a user hardware entry; returns the new catalog. */
    saveHardware(entry: HardwareEntry): Promise<CatalogEntry[]>;
    removeHardware(id: string): Promise<CatalogEntry[]>;
  };
  models: {
    list(): Promise<ModelSummary[]>;
    /** Starts importing a checkpoint (llama2.c file or Hugging Face folder) at a path on this machine. */
    import(path: string): Promise<JobSnapshot>;
    remove(id: string): Promise<ModelSummary[]>;
    /** Starts calibrating a codebook set of a library model (a 'calibrate' job); a set of the same name is replaced when it succeeds. */
    calibrate(id: string, request: CalibrationRequest): Promise<JobSnapshot>;
    /** How long a calibration would take here, whether its text is enough, and settings sized for it. */
    planCalibration(id: string, request: CalibrationRequest): Promise<CalibrationPlan>;
    removeCalibration(id: string, name: string): Promise<ModelSummary[]>;
  };
  chat: {
    /** Saved conversations, newest first. */
    list(): Promise<ChatSession[]>;
    /** Opens the model with the cache (loading it if needed) and starts a conversation. */
    start(model: string, cache: CacheName, system: string | null): Promise<ChatSession>;
    /** Loads a saved conversation's cache back (no recomputation). */
    resume(id: string): Promise<ChatSession>;
    /**
     * Sends a message; tokens arrive as chat-token events; resolves after the reply. With
     * dropOldestTurns the conversation from now on drops its oldest turns when the context is full
     * (instead of refusing the message or cutting the reply).
     */
    send(id: string, text: string, options: SamplingOptions, dropOldestTurns?: boolean): Promise<ChatSession>;
    /** Replaces the last reply with a new one to the same message. */
    regenerate(id: string, options: SamplingOptions): Promise<ChatSession>;
    cancel(id: string): Promise<boolean>;
    /** Residual depth from the next token on (rvq caches). */
    setDepth(id: string, depth: number): Promise<ChatFigures>;
    /**
     * A twin under another cache format of the same model, to compare replies: a new saved
     * conversation with the same messages, its cache filled by prefilling them on its next reply.
     */
    fork(id: string, cache: CacheName): Promise<ChatSession>;
    remove(id: string): Promise<ChatSession[]>;
  };
  /** The local API's work (see main/server/openai.ts): one-shot completions on a model's queue. */
  completions: {
    models(): Promise<ApiModel[]>;
    /** Text arrives as completion-delta events while it runs; resolves when it ends. */
    create(request: CompletionRequest): Promise<CompletionResult>;
    /** Stops a queued or running request (its create call then rejects); false when none has that id. */
    cancel(requestId: string): Promise<boolean>;
  };
  tradeoffs: {
    /** Starts a residual-depth sweep of a library model as a 'sweep' job; the result is kept. */
    run(model: string, options: TradeoffSweepOptions): Promise<JobSnapshot>;
    list(model: string): Promise<TradeoffHistory>;
  };
  tasks: {
    /** Starts a task check of a library model as a 'tasks' job; the result is kept. */
    run(model: string, options: TaskRunOptions): Promise<JobSnapshot>;
    list(model: string): Promise<TaskHistory>;
  };
  settings: {
    get(): Promise<SettingsState>;
    save(settings: Settings): Promise<SettingsState>;
    providers(): Promise<ProvidersReport>;
  };
  jobs: {
    list(): Promise<JobSnapshot[]>;
    cancel(id: number): Promise<JobSnapshot>;
    /** Forgets a finished job (its card goes away, also after a reload); a running job must be cancelled first. */
    dismiss(id: number): Promise<JobSnapshot[]>;
  };
  /** Electron only (native file dialogs); absent in headless mode, where the operator types a path. */
  dialogs?: {
    pickCheckpoint(kind: 'file' | 'folder'): Promise<string | null>;
    /** Plain-text files to calibrate on; empty when cancelled. */
    pickTextFiles(): Promise<string[]>;
    /** Renders the report's HTML to PDF and asks where to save it; the path, or null if cancelled. */
    exportReportPdf(html: string, suggestedName: string): Promise<string | null>;
  };
  /** Electron only: the local API server the main process runs from settings.localApi. */
  localApi?: {
    status(): Promise<LocalApiStatus>;
  };
  /** Not a method: the bridge delivers backend events to the listener until unsubscribed. */
  events: {
    subscribe(listener: (event: BackendEvent) => void): () => void;
  };
}

declare global {
  interface Window {
    /** Present inside the Electron app (preload) or headless mode; absent in a bare browser. */
    reskv?: ResKvBridge;
  }
}
