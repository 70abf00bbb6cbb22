// Conversation ids are checked once, by one schema, at the API boundary: a path-like or over-long id is
// an argument error naming the argument before any method runs; the ids the backend makes pass.
import { describe, expect, it } from 'vitest';
import { ApiArgumentError } from '../../../main/backend/errors.js';
import { callBackendMethod } from '../../../main/backend/methods.js';
import type { BackendContext } from '../../../main/backend/methods.js';
import { conversationIdSchema } from '../../../main/engine/conversation-id.js';

// Every method below must refuse its arguments before touching the context.
const untouchable = new Proxy({} as BackendContext, {
  get: (_target, key) => {
    throw new Error(`the method ran (read context.${String(key)}) although its id was invalid`);
  },
});

describe('conversation ids', () => {
  it.each(['../etc', '.hidden', 'a/b', 'a b', '', 'x'.repeat(129)])('refuses %j in every chat method', async (id) => {
    for (const [method, args] of [
      ['chat.resume', [id]],
      ['chat.cancel', [id]],
      ['chat.remove', [id]],
      ['chat.setDepth', [id, 2]],
      ['chat.fork', [id, 'fp16']],
      ['chat.regenerate', [id, {}]],
    ] as const) {
      const call = callBackendMethod(untouchable, method, args);
      await expect(call).rejects.toThrow(ApiArgumentError);
      await expect(call).rejects.toThrow(/^Conversation: may hold only letters, digits/);
    }
  });

  it('accepts the shape of the ids the backend makes, and 128 characters', () => {
    for (const id of ['chat-mbx2k9q1-1a2b3c4d', 'A.b_c-9', 'x'.repeat(128)]) expect(conversationIdSchema.safeParse(id).success).toBe(true);
  });
});
