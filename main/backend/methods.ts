// The backend's callable methods (plain Node): argument schemas and implementations, one table shared
// by the Electron IPC handlers and the headless HTTP bridge. Every argument is parsed with zod first.
import { z } from 'zod';
import type { ApiMethodName } from '../api/methods.js';
import type { ResKvBridge } from '../api/types.js';
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
} from '../cost/index.js';

/** Facts the host (Electron or the headless server) supplies. */
export interface BackendHost {
  name: string;
  version: string;
  /** Where user data lives (see data-dir.ts); tests pass a temporary folder. */
  dataDir: string;
}

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

type BridgeMethodName = { [A in keyof ResKvBridge]: `${A}.${keyof ResKvBridge[A] & string}` }[keyof ResKvBridge];
// Compile-time check: the name list the preload uses matches the bridge type exactly.
const namesMatchBridge: [ApiMethodName] extends [BridgeMethodName] ? ([BridgeMethodName] extends [ApiMethodName] ? true : never) : never = true;
void namesMatchBridge;

type MethodTable = {
  [N in ApiMethodName]: {
    args: z.ZodType<BridgeFunction<N>['args']>;
    run(host: BackendHost, ...args: BridgeFunction<N>['args']): Promise<BridgeFunction<N>['result']> | BridgeFunction<N>['result'];
  };
};

const methods: MethodTable = {
  'app.info': { args: z.tuple([]), run: (host) => describeRuntime(host.name, host.version, host.dataDir) },
  'cost.catalog': {
    args: z.tuple([]),
    run: (host) => ({ hardware: loadHardwareCatalog(host.dataDir), presets: [...modelPresets] }),
  },
  'cost.estimate': {
    args: z.tuple([costInputSchema]),
    run: (_host, input) => {
      const estimate = estimateDeploymentCost(input);
      return { estimate, report: costReport(estimate) };
    },
  },
  'cost.saveHardware': {
    args: z.tuple([hardwareEntrySchema]),
    run: (host, entry) => {
      saveUserHardware(host.dataDir, entry);
      return loadHardwareCatalog(host.dataDir);
    },
  },
  'cost.removeHardware': {
    args: z.tuple([z.string().min(1).max(200)]),
    run: (host, id) => {
      removeUserHardware(host.dataDir, id);
      return loadHardwareCatalog(host.dataDir);
    },
  },
};

/** Bad arguments from the renderer or an HTTP client; the message names the method and field. */
export class ApiArgumentError extends Error {}

export function isApiMethodName(name: string): name is ApiMethodName {
  return Object.hasOwn(methods, name);
}

/** Validates `args` for `name` and runs the method. */
export async function callBackendMethod(host: BackendHost, name: ApiMethodName, args: unknown): Promise<unknown> {
  const spec = methods[name] as { args: z.ZodType<unknown[]>; run(host: BackendHost, ...args: unknown[]): unknown };
  const parsed = spec.args.safeParse(args);
  if (!parsed.success) {
    // Paths start with the argument's index; name the field inside it instead.
    const field = (path: PropertyKey[]) => (path.length > 1 ? path.slice(1).join('.') : path.length ? `argument ${String(path[0])}` : '(arguments)');
    const issues = parsed.error.issues.map((i) => `${field(i.path)}: ${i.message}`).join('; ');
    throw new ApiArgumentError(`invalid arguments for ${name}: ${issues}`);
  }
  return spec.run(host, ...parsed.data);
}
