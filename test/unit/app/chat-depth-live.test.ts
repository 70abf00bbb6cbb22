// A depth change sent through the backend worker while a reply runs lands at the reply's next token:
// the worker reads its messages between tokens although the default CPU step (the kernel layers) never
// waits. The reply is held at a streamed token by the reply gate, so the test does not race the decode.
import { describe, expect, it } from 'vitest';
import type { BackendEvent, ChatSession, ChatFigures, SamplingOptions } from '../../../main/api/types.js';
import { calibrateStoriesSmall, importStories260K, startSourceBackend } from '../../support/backend.js';
import { ReplyGate } from '../../support/reply-gate.js';
import { fixtures, haveFixtures } from '../../support/shared.js';

const greedy: SamplingOptions = { maxTokens: 40, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: null, stop: [] };

describe.skipIf(!haveFixtures(fixtures.stories260K, fixtures.tok512, fixtures.validSample))('a live depth change through the backend worker (stories260K, rvq)', () => {
  it('is answered at the running reply\'s next token and applies to the rest of it', async () => {
    const gate = new ReplyGate();
    const { backend, dataDir } = await startSourceBackend(undefined, gate);
    try {
      await calibrateStoriesSmall(await importStories260K(backend, dataDir));
      const start = async () => {
        const session = (await backend.call('chat.start', ['stories260K', 'rvq:small', null])) as ChatSession;
        expect(session.open!.figures.depth).toBe(4);
        return session.id;
      };
      const text: Record<string, string[]> = {};
      backend.subscribe((e: BackendEvent) => {
        if (e.type === 'chat-token') (text[e.conversationId] ??= []).push(e.text);
      });
      // the same prompt at depth 4 throughout, for reference
      const reference = await start();
      await backend.call('chat.send', [reference, 'Once upon a time', greedy]);
      const id = await start();
      gate.hold();
      let replied = false;
      const reply = backend.call('chat.send', [id, 'Once upon a time', greedy]).then((session) => ((replied = true), session as ChatSession));
      while (!text[id]) await new Promise((r) => setTimeout(r, 5));
      // the worker is held after its first token with the change in its queue: it must read it before the next
      // token (one more may pass), while the reply is still running; the change applies from the next token
      const changed = backend.call('chat.setDepth', [id, 1]) as Promise<ChatFigures>;
      gate.pass();
      await changed;
      expect(replied).toBe(false);
      expect(text[id].length).toBeLessThanOrEqual(2);
      gate.open();
      const after = await reply;
      expect(after.messages.at(-1)!.reply!.tokens).toBe(greedy.maxTokens);
      expect(after.open!.figures.depth).toBe(1);
      // the same first token, then the shallower cache's continuation
      expect(text[id][0]).toBe(text[reference][0]);
      expect(text[id].join('')).not.toBe(text[reference].join(''));
    } finally {
      gate.open();
      await backend.close();
    }
  });
});
