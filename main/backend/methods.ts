// The backend's callable methods (plain Node): argument schemas and implementations, one table shared
// by the Electron IPC handlers and the headless HTTP bridge. Every argument is parsed with zod first.
import { z } from 'zod';
import type { ApiMethodName } from '../api/methods.js';
import type { ResKvBridge } from '../api/types.js';
import { describeRuntime } from '../app-info.js';

/** Facts the host (Electron or the headless server) supplies. */
export interface BackendHost {
  name: string;
  version: string;
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
  'app.info': { args: z.tuple([]), run: (host) => describeRuntime(host.name, host.version) },
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
    const issues = parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(arguments)'}: ${i.message}`).join('; ');
    throw new ApiArgumentError(`invalid arguments for ${name}: ${issues}`);
  }
  return spec.run(host, ...parsed.data);
}
