// Bad arguments are described in the app's words at the API boundary: the method's argument or the
// form's field by the name the operator sees, the list row counted from 1, and zod's type wording
// ("expected number, received null") said plainly. Only argument checking runs: every call here is
// refused before a method would use the backend context.
import { describe, expect, it } from 'vitest';
import type { ApiMethodName } from '../../../main/api/methods.js';
import { ApiArgumentError } from '../../../main/backend/errors.js';
import { callBackendMethod, type BackendContext } from '../../../main/backend/methods.js';

const refused = async (method: ApiMethodName, args: unknown[]) => {
  const call = callBackendMethod({} as BackendContext, method, args);
  await expect(call).rejects.toThrow(ApiArgumentError);
  return ((await call.catch((e: unknown) => e)) as Error).message;
};

const sample = { text: { kind: 'sample' } };

describe('argument errors in the operator\'s words', () => {
  it.each([
    ['models.import', [''], 'Checkpoint path: give the path of a checkpoint file or folder'],
    ['models.import', [], 'Checkpoint path: is missing'],
    ['chat.send', ['abc'], 'Message: is missing'],
    ['models.calibrate', ['stories260K', { ...sample, settings: { depth: null } }], 'Depth: is empty: give a number'],
    ['models.calibrate', ['stories260K', { ...sample, settings: { depth: 0, maxVectors: 'many' } }], 'Depth: must be at least 1; Max vectors: must be a number'],
    ['models.calibrate', ['stories260K', { ...sample, settings: { keyGrouping: 'diagonal' } }], 'Key grouping: must be one of strided, contiguous'],
    ['models.calibrate', ['stories260K', { text: { kind: 'files', paths: [] }, settings: {} }], 'Text files: choose at least one text file'],
    ['models.calibrate', ['../x', { ...sample, settings: {} }], "Model: must be the id of a model in the library (letters, digits, '.', '_' and '-', at most 128)"],
    ['chat.fork', ['abc', ''], 'Cache to compare with: choose a cache to compare with'],
    ['chat.send', ['abc', 'hi', { maxTokens: 0, temperature: 1, topK: 0, topP: 1, repetitionPenalty: 1, seed: null, stop: [] }], 'Max tokens: must be at least 1'],
  ] as const)('%s %j: %s', async (method, args, message) => {
    expect(await refused(method, [...args])).toBe(message);
  });

  it('names unknown fields and every missing one', async () => {
    const message = await refused('tradeoffs.run', ['stories260K', { extra: 1 }]);
    expect(message).toMatch(/^Text file: is empty: give text; Tokens to score: is empty: give a number; .*; Sweep: has unknown field extra$/);
  });

  it('names a field inside a list by its row, counted from 1 (not kv.6.format.depth)', async () => {
    const kv = [...Array.from({ length: 6 }, () => ({ format: { kind: 'fp16' } })), { format: { kind: 'rvq', depth: null } }];
    const message = await refused('cost.estimate', [{ kv }]);
    expect(message).toContain('Depth (KV formats, row 7): is empty: give a number');
    expect(message).not.toMatch(/kv\.6|expected number|received null|argument \d/);
  });
});
