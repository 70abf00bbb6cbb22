// The backend's callable methods (plain Node): argument schemas and implementations, one table shared
// by the Electron IPC handlers and the headless HTTP bridge. Every argument is parsed with zod first.
import { z } from 'zod';
import type { ApiMethodName } from '../api/methods.js';
import type { Same } from '../api/same-type.js';
import type { BackendEvent, CalibrationRequest, ChatMessage, CompletionRequest, ResKvBridge, SamplingOptions } from '../api/types.js';
import { describeRuntime } from '../app-info.js';
import {
  costInputSchema,
  costReport,
  estimateDeploymentCost,
  hardwareEntrySchema,
  loadHardwareCatalog,
  modelPresets,
  removeUserHardware,
  saveUserHardware,
  whatIf,
} from '../cost/index.js';
import { conversationIdSchema } from '../engine/conversation-id.js';
import { probeProviders } from '../engine/session.js';
import { listApiModels } from './completions.js';
import type { EngineHost } from './engine-host.js';
import { describeArgumentIssues } from './argument-errors.js';
import { ApiArgumentError } from './errors.js';
import { interactively } from './interactive.js';
import type { JobRegistry } from './jobs.js';
import { calibrationNameArgument, calibrationRequestSchema, planCalibrationRun, removeCalibration, startCalibration } from './calibrations.js';
import { importIntoLibrary, listModelSummaries, removeModel } from './models.js';
import type { BackendHost } from './protocol.js';
import { loadSettings, saveSettings, settingsSchema } from './settings.js';
import { modelIdSchema } from '../model/model-id.js';
import { readTaskHistory, startTaskCheck, taskRunOptionsSchema } from './tasks.js';
import { readTradeoffHistory, startTradeoffSweep, tradeoffSweepOptionsSchema } from './tradeoffs.js';

/** What every method runs with: the host's facts, the job registry, the engine and the event publisher. */
export interface BackendContext {
  host: BackendHost;
  jobs: JobRegistry;
  engine: EngineHost;
  publish(event: BackendEvent): void;
}

const samplingSchema = z.strictObject({
  maxTokens: z.number().int().min(1, 'must be at least 1').max(100_000, 'must be at most 100000'),
  temperature: z.number().min(0, 'must be at least 0').max(5, 'must be at most 5'),
  topK: z.number().int().min(0, 'must be at least 0'),
  topP: z.number().gt(0, 'must be greater than 0').max(1, 'must be at most 1'),
  repetitionPenalty: z.number().min(1, 'must be at least 1').max(5, 'must be at most 5'),
  seed: z.number().int().min(0).max(2 ** 32 - 1).nullable(),
  stop: z.array(z.string().min(1).max(200)).max(16),
});

const chatMessageSchema = z.strictObject({ role: z.enum(['system', 'user', 'assistant']), content: z.string().max(1_000_000) });
const completionRequestSchema = z.strictObject({
  requestId: z.string().regex(/^[A-Za-z0-9._-]{1,128}$/, 'must be 1..128 letters, digits, ., _ or -'),
  model: z.string().min(1, 'choose a model').max(4096),
  cache: z.string().min(1, 'choose a cache').max(200),
  depth: z.number().int().min(1).max(64).nullable(),
  input: z.discriminatedUnion('kind', [
    z.strictObject({ kind: z.literal('chat'), messages: z.array(chatMessageSchema).min(1, 'must hold at least one message').max(10_000) }),
    z.strictObject({ kind: z.literal('text'), prompt: z.string().min(1, 'must not be empty').max(1_000_000) }),
  ]),
  sampling: samplingSchema,
});

// Compile-time checks: the API's hand-written argument types are exactly what their schemas accept (the
// renderer cannot import zod schemas, only types).
const typesMatch: [
  Same<z.input<typeof samplingSchema>, SamplingOptions>,
  Same<z.input<typeof chatMessageSchema>, ChatMessage>,
  Same<z.input<typeof completionRequestSchema>, CompletionRequest>,
  Same<z.input<typeof calibrationRequestSchema>, CalibrationRequest>,
] = [true, true, true, true];
void typesMatch;

/** `'app.info'` → the type of `ResKvBridge['app']['info']`. */
type BridgeFunction<N extends string> = N extends `${infer A}.${infer B}`
  ? A extends keyof ResKvBridge
    ? B extends keyof ResKvBridge[A]
      ? ResKvBridge[A][B] extends (...args: infer P) => Promise<infer R>
        ? { args: P; result: R }
        : never
      : never
    : never
  : never;

/** `events` (a subscription) and `dialogs` (Electron's own windows) are provided by the transports. */
type MethodArea = Exclude<keyof ResKvBridge, 'events' | 'dialogs'>;
type BridgeMethodName = { [A in MethodArea]: `${A}.${keyof ResKvBridge[A] & string}` }[MethodArea];
// Compile-time check: the name list the preload uses matches the bridge type exactly.
const namesMatchBridge: [ApiMethodName] extends [BridgeMethodName] ? ([BridgeMethodName] extends [ApiMethodName] ? true : never) : never = true;
void namesMatchBridge;

type MethodTable = {
  [N in ApiMethodName]: {
    args: z.ZodType<BridgeFunction<N>['args']>;
    run(context: BackendContext, ...args: BridgeFunction<N>['args']): Promise<BridgeFunction<N>['result']> | BridgeFunction<N>['result'];
  };
};

const methods: MethodTable = {
  'app.info': { args: z.tuple([]), run: ({ host }) => describeRuntime(host.name, host.version, host.dataDir) },
  'cost.catalog': {
    args: z.tuple([]),
    run: ({ host }) => ({ hardware: loadHardwareCatalog(host.dataDir), presets: [...modelPresets] }),
  },
  'cost.estimate': {
    args: z.tuple([costInputSchema]),
    run: ({ host }, input) => {
      const estimate = estimateDeploymentCost(input);
      const hardware = loadHardwareCatalog(host.dataDir).map((h) => h.entry);
      return { estimate, report: costReport(estimate), whatIf: whatIf(input, hardware) };
    },
  },
  'cost.saveHardware': {
    args: z.tuple([hardwareEntrySchema]),
    run: ({ host }, entry) => {
      saveUserHardware(host.dataDir, entry);
      return loadHardwareCatalog(host.dataDir);
    },
  },
  'cost.removeHardware': {
    args: z.tuple([z.string().min(1).max(200)]),
    run: ({ host }, id) => {
      removeUserHardware(host.dataDir, id);
      return loadHardwareCatalog(host.dataDir);
    },
  },
  'models.list': { args: z.tuple([]), run: ({ host }) => listModelSummaries(host.dataDir) },
  'models.import': {
    args: z.tuple([z.string().trim().min(1, 'give the path of a checkpoint file or folder').max(4096)]),
    run: ({ host, jobs, publish }, path) =>
      jobs.start(
        { kind: 'import', title: `Import ${path}`, model: null },
        async (control) => {
          const id = await importIntoLibrary(host.dataDir, path, control);
          publish({ type: 'models-changed' });
          return id;
        },
        (id) => `imported as '${id}'`,
      ),
  },
  'models.remove': {
    args: z.tuple([modelIdSchema]),
    run: ({ host, publish }, id) => {
      removeModel(host.dataDir, id);
      publish({ type: 'models-changed' });
      return listModelSummaries(host.dataDir);
    },
  },
  'models.calibrate': {
    args: z.tuple([modelIdSchema, calibrationRequestSchema]),
    run: ({ host, jobs, engine, publish }, id, request) =>
      startCalibration(host.dataDir, jobs, id, request, () => {
        engine.codebooksChanged(id);
        publish({ type: 'models-changed' });
      }),
  },
  'models.planCalibration': {
    args: z.tuple([modelIdSchema, calibrationRequestSchema]),
    run: ({ host }, id, request) => planCalibrationRun(host.dataDir, id, request),
  },
  'models.removeCalibration': {
    args: z.tuple([modelIdSchema, calibrationNameArgument]),
    run: ({ host, engine, publish }, id, name) => {
      removeCalibration(host.dataDir, id, name);
      engine.codebooksChanged(id);
      publish({ type: 'models-changed' });
      return listModelSummaries(host.dataDir);
    },
  },
  'chat.list': { args: z.tuple([]), run: ({ engine }) => engine.chat.list() },
  'chat.start': {
    args: z.tuple([z.string().min(1, 'choose a model').max(4096), z.string().min(1, 'choose a cache').max(200), z.string().max(20_000).nullable()]),
    run: ({ engine }, model, cache, system) => engine.chat.start(model, cache, system),
  },
  'chat.resume': { args: z.tuple([conversationIdSchema]), run: ({ engine }, id) => engine.chat.resume(id) },
  'chat.send': {
    args: z.tuple([conversationIdSchema, z.string().min(1, 'write a message').max(200_000), samplingSchema, z.boolean().optional()]),
    run: ({ engine }, id, text, options, dropOldestTurns) => interactively(() => engine.chat.send(id, text, options, dropOldestTurns)),
  },
  'chat.regenerate': { args: z.tuple([conversationIdSchema, samplingSchema]), run: ({ engine }, id, options) => interactively(() => engine.chat.regenerate(id, options)) },
  'chat.cancel': { args: z.tuple([conversationIdSchema]), run: ({ engine }, id) => engine.chat.cancel(id) },
  'chat.setDepth': { args: z.tuple([conversationIdSchema, z.number().int().min(1).max(64)]), run: ({ engine }, id, depth) => engine.chat.setDepth(id, depth) },
  'chat.fork': {
    args: z.tuple([conversationIdSchema, z.string().min(1, 'choose a cache to compare with').max(200)]),
    run: ({ engine }, id, cache) => engine.chat.fork(id, cache),
  },
  'chat.remove': { args: z.tuple([conversationIdSchema]), run: ({ engine }, id) => engine.chat.remove(id) },
  'completions.models': { args: z.tuple([]), run: ({ host }) => listApiModels(host.dataDir) },
  'completions.create': { args: z.tuple([completionRequestSchema]), run: ({ engine }, request) => interactively(() => engine.complete(request)) },
  'completions.cancel': { args: z.tuple([z.string().min(1).max(128)]), run: ({ engine }, requestId) => engine.cancelCompletion(requestId) },
  'tradeoffs.run': {
    args: z.tuple([modelIdSchema, tradeoffSweepOptionsSchema]),
    run: ({ host, jobs }, model, options) => startTradeoffSweep(host.dataDir, jobs, model, options),
  },
  'tradeoffs.list': { args: z.tuple([modelIdSchema]), run: ({ host }, model) => readTradeoffHistory(host.dataDir, model) },
  'tasks.run': {
    args: z.tuple([modelIdSchema, taskRunOptionsSchema]),
    run: ({ host, jobs }, model, options) => startTaskCheck(host.dataDir, jobs, model, options),
  },
  'tasks.list': { args: z.tuple([modelIdSchema]), run: ({ host }, model) => readTaskHistory(host.dataDir, model) },
  'settings.get': { args: z.tuple([]), run: ({ host }) => loadSettings(host.dataDir) },
  'settings.providers': { args: z.tuple([]), run: async ({ engine }) => ({ providers: await probeProviders(), models: await engine.loadedModels() }) },
  'settings.save': {
    args: z.tuple([settingsSchema]),
    run: ({ host, publish }, settings) => {
      const state = saveSettings(host.dataDir, settings);
      publish({ type: 'settings-changed', settings: state.settings });
      publish({ type: 'models-changed' });
      return state;
    },
  },
  'jobs.list': { args: z.tuple([]), run: ({ jobs }) => jobs.list() },
  'jobs.cancel': { args: z.tuple([z.number().int().positive()]), run: ({ jobs }, id) => jobs.cancel(id) },
  'jobs.dismiss': { args: z.tuple([z.number().int().positive()]), run: ({ jobs }, id) => jobs.dismiss(id) },
};

/** Validates `args` for `name` and runs the method. */
export async function callBackendMethod(context: BackendContext, name: ApiMethodName, args: unknown): Promise<unknown> {
  const spec = methods[name] as { args: z.ZodType<unknown[]>; run(context: BackendContext, ...args: unknown[]): unknown };
  const parsed = spec.args.safeParse(args);
  if (!parsed.success) throw new ApiArgumentError(describeArgumentIssues(name, parsed.error.issues, Array.isArray(args) ? args.length : 0));
  return spec.run(context, ...parsed.data);
}
