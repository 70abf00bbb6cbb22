// Chat state: saved conversations, the active one (kept in the URL's hash across reloads), tokens
// streaming in with their live count and speed, figures, the sampling settings the operator chose,
// which conversations drop their oldest turns when full, and which are compared with a twin.
import { create } from 'zustand';
import type { BackendEvent, ChatFigures, ChatSession, ResKvBridge, SamplingOptions } from '../../../main/api/types.js';
import { readLocation, writeLocation } from './location-state.js';

export const defaultSampling: SamplingOptions = { maxTokens: 128, temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: null, stop: [] };

/** A reply in progress: tokens so far and the milliseconds they took (their latencies summed). */
export interface LiveReply {
  tokens: number;
  ms: number;
}

interface ChatState {
  sessions: ChatSession[];
  /** False until the first list arrives (the view then says it is loading, not that there are none). */
  listed: boolean;
  activeId: string | null;
  /** Text streamed so far for a reply in progress, by conversation. */
  streaming: Record<string, string>;
  live: Record<string, LiveReply>;
  /** Conversations the operator let drop their oldest turns when the context is full. */
  dropOldest: Record<string, boolean>;
  /** Conversations whose last send was refused for want of room in the context. */
  overflowed: Record<string, boolean>;
  /** The latest figures, by conversation (events update them between replies). */
  figures: Record<string, ChatFigures>;
  sampling: SamplingOptions;
  busy: Record<string, boolean>;
  /** Conversation id → its twin under another cache format (chat.fork) while they are compared. */
  twinOf: Record<string, string>;
  error: string | null;
  load(bridge: ResKvBridge): Promise<void>;
  start(bridge: ResKvBridge, model: string, cache: string, system: string | null): Promise<void>;
  select(bridge: ResKvBridge, id: string): Promise<void>;
  send(bridge: ResKvBridge, text: string): Promise<void>;
  /** Replaces the active conversation's last reply with a new one. */
  regenerate(bridge: ResKvBridge): Promise<void>;
  setDropOldest(id: string, drop: boolean): void;
  cancel(bridge: ResKvBridge): Promise<void>;
  setDepth(bridge: ResKvBridge, id: string, depth: number): Promise<void>;
  remove(bridge: ResKvBridge, id: string): Promise<void>;
  /** Forks the active conversation under `cache` and sends later messages to both. */
  compare(bridge: ResKvBridge, cache: string): Promise<void>;
  /** Stops comparing the active conversation; both stay saved. */
  stopComparing(): void;
  setSampling(patch: Partial<SamplingOptions>): void;
  onEvent(event: BackendEvent): void;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));
/** The backend's refusal of a prompt that does not fit (ContextOverflowError's wording). */
const isOverflow = (err: unknown) => /the prompt needs \d+ positions but the model's context holds \d+/.test(message(err));
const each = <T>(ids: readonly string[], value: T): Record<string, T> => Object.fromEntries(ids.map((id) => [id, value]));
/** A seed for one message sent to a pair, so both sample alike when the operator left the seed open. */
const randomSeed = () => crypto.getRandomValues(new Uint32Array(1))[0];

export const useChat = create<ChatState>((set, get) => {
  const upsert = (session: ChatSession) =>
    set((s) => ({
      sessions: [session, ...s.sessions.filter((x) => x.id !== session.id)],
      figures: session.open ? { ...s.figures, [session.id]: session.open.figures } : s.figures,
    }));
  const guard = async (work: () => Promise<void>) => {
    try {
      await work();
      set({ error: null });
    } catch (err) {
      set({ error: message(err) });
    }
  };
  const activate = (id: string | null) => {
    writeLocation('conversation', id);
    set({ activeId: id });
  };
  /** Runs one reply of each of `ids` after the other, showing `text` as asked at once. */
  const reply = async (bridge: ResKvBridge, ids: string[], text: string | null, call: (id: string) => Promise<ChatSession>) => {
    set((s) => ({
      busy: { ...s.busy, ...each(ids, true) },
      streaming: { ...s.streaming, ...each(ids, '') },
      live: { ...s.live, ...each(ids, { tokens: 0, ms: 0 }) },
      overflowed: { ...s.overflowed, ...each(ids, false) },
      // Show the operator's message at once; the backend's transcript replaces it after the reply.
      sessions:
        text === null ? s.sessions : s.sessions.map((x) => (ids.includes(x.id) ? { ...x, messages: [...x.messages, { role: 'user', content: text }] } : x)),
    }));
    let answered = 0;
    try {
      // One after the other, so neither reply's speed is measured while the other competes for the CPU.
      for (const target of ids) {
        upsert(await call(target));
        set((s) => ({ busy: { ...s.busy, [target]: false } }));
        answered++;
      }
    } catch (err) {
      // the unanswered ones show their saved transcripts again (without the message shown early)
      for (const target of ids.slice(answered)) upsert(await bridge.chat.resume(target));
      if (isOverflow(err)) set((s) => ({ overflowed: { ...s.overflowed, ...each(ids.slice(answered), true) } }));
      throw err;
    } finally {
      set((s) => ({ busy: { ...s.busy, ...each(ids, false) } }));
    }
  };
  return {
    sessions: [],
    listed: false,
    activeId: null,
    streaming: {},
    live: {},
    dropOldest: {},
    overflowed: {},
    figures: {},
    sampling: defaultSampling,
    busy: {},
    twinOf: {},
    error: null,
    load: (bridge) =>
      guard(async () => {
        const sessions = await bridge.chat.list();
        set({ sessions, listed: true });
        // a reload reopens the conversation it showed
        const kept = readLocation('conversation');
        if (get().activeId === null && kept !== null && sessions.some((s) => s.id === kept && !s.problem)) await get().select(bridge, kept);
      }),
    start: (bridge, model, cache, system) =>
      guard(async () => {
        const session = await bridge.chat.start(model, cache, system);
        upsert(session);
        activate(session.id);
      }),
    select: (bridge, id) =>
      guard(async () => {
        activate(id);
        const session = get().sessions.find((s) => s.id === id);
        if (!session?.open) upsert(await bridge.chat.resume(id));
      }),
    send: (bridge, text) =>
      guard(async () => {
        const { activeId: id, twinOf, sampling, dropOldest } = get();
        if (!id) return;
        const ids = twinOf[id] ? [id, twinOf[id]] : [id];
        const options = ids.length > 1 && sampling.seed === null ? { ...sampling, seed: randomSeed() } : sampling;
        await reply(bridge, ids, text, (target) => bridge.chat.send(target, text, options, dropOldest[id] === true));
      }),
    regenerate: (bridge) =>
      guard(async () => {
        const { activeId: id, sampling } = get();
        if (!id) return;
        set((s) => ({ sessions: s.sessions.map((x) => (x.id === id ? { ...x, messages: x.messages.slice(0, -1) } : x)) }));
        await reply(bridge, [id], null, (target) => bridge.chat.regenerate(target, sampling));
      }),
    setDropOldest: (id, drop) => set((s) => ({ dropOldest: { ...s.dropOldest, [id]: drop } })),
    cancel: (bridge) =>
      guard(async () => {
        const { activeId: id, twinOf, busy } = get();
        // the reply running now: with a twin, the other one's reply still follows (Stop again stops it)
        const running = [id, id && twinOf[id]].find((x): x is string => !!x && busy[x] === true);
        if (running) await bridge.chat.cancel(running);
      }),
    setDepth: (bridge, id, depth) =>
      guard(async () => {
        const figures = await bridge.chat.setDepth(id, depth);
        set((s) => ({ figures: { ...s.figures, [id]: figures } }));
      }),
    remove: (bridge, id) =>
      guard(async () => {
        const sessions = await bridge.chat.remove(id);
        if (get().activeId === id) activate(null);
        set((s) => ({
          sessions,
          twinOf: Object.fromEntries(Object.entries(s.twinOf).filter(([a, b]) => a !== id && b !== id)),
        }));
      }),
    compare: (bridge, cache) =>
      guard(async () => {
        const id = get().activeId;
        if (!id) return;
        const twin = await bridge.chat.fork(id, cache);
        upsert(twin);
        set((s) => ({ twinOf: { ...s.twinOf, [id]: twin.id } }));
      }),
    stopComparing: () => set((s) => ({ twinOf: Object.fromEntries(Object.entries(s.twinOf).filter(([id]) => id !== s.activeId)) })),
    setSampling: (patch) => set((s) => ({ sampling: { ...s.sampling, ...patch } })),
    onEvent: (event) => {
      if (event.type === 'chat-token') {
        const id = event.conversationId;
        set((s) => {
          const live = s.live[id] ?? { tokens: 0, ms: 0 };
          return {
            streaming: { ...s.streaming, [id]: (s.streaming[id] ?? '') + event.text },
            live: { ...s.live, [id]: { tokens: live.tokens + 1, ms: live.ms + event.latencyMs } },
          };
        });
      }
      else if (event.type === 'chat-figures') set((s) => ({ figures: { ...s.figures, [event.conversationId]: event.figures } }));
    },
  };
});
