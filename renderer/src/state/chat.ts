// Chat state: saved conversations, the active one, tokens streaming in, live figures, the sampling
// settings the operator chose, and which conversations are compared with a twin under another cache.
import { create } from 'zustand';
import type { BackendEvent, ChatFigures, ChatSession, ResKvBridge, SamplingOptions } from '../../../main/api/types.js';

export const defaultSampling: SamplingOptions = { maxTokens: 128, temperature: 0.8, topK: 40, topP: 0.95, repetitionPenalty: 1.1, seed: null, stop: [] };

interface ChatState {
  sessions: ChatSession[];
  activeId: string | null;
  /** Text streamed so far for a reply in progress, by conversation. */
  streaming: Record<string, string>;
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
  return {
    sessions: [],
    activeId: null,
    streaming: {},
    figures: {},
    sampling: defaultSampling,
    busy: {},
    twinOf: {},
    error: null,
    load: (bridge) => guard(async () => set({ sessions: await bridge.chat.list() })),
    start: (bridge, model, cache, system) =>
      guard(async () => {
        const session = await bridge.chat.start(model, cache, system);
        upsert(session);
        set({ activeId: session.id });
      }),
    select: (bridge, id) =>
      guard(async () => {
        set({ activeId: id });
        const session = get().sessions.find((s) => s.id === id);
        if (!session?.open) upsert(await bridge.chat.resume(id));
      }),
    send: (bridge, text) =>
      guard(async () => {
        const { activeId: id, twinOf, sampling } = get();
        if (!id) return;
        const ids = twinOf[id] ? [id, twinOf[id]] : [id];
        const options = ids.length > 1 && sampling.seed === null ? { ...sampling, seed: randomSeed() } : sampling;
        set((s) => ({
          busy: { ...s.busy, ...each(ids, true) },
          streaming: { ...s.streaming, ...each(ids, '') },
          // Show the operator's message at once; the backend's transcript replaces it after the reply.
          sessions: s.sessions.map((x) => (ids.includes(x.id) ? { ...x, messages: [...x.messages, { role: 'user', content: text }] } : x)),
        }));
        let answered = 0;
        try {
          // One after the other, so neither reply's speed is measured while the other competes for the CPU.
          for (const target of ids) {
            upsert(await bridge.chat.send(target, text, options));
            set((s) => ({ busy: { ...s.busy, [target]: false } }));
            answered++;
          }
        } catch (err) {
          // the unanswered ones show their saved transcripts again (without the message shown early)
          for (const target of ids.slice(answered)) upsert(await bridge.chat.resume(target));
          throw err;
        } finally {
          set((s) => ({ busy: { ...s.busy, ...each(ids, false) } }));
        }
      }),
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
        set((s) => ({
          sessions,
          activeId: s.activeId === id ? null : s.activeId,
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
      if (event.type === 'chat-token') set((s) => ({ streaming: { ...s.streaming, [event.conversationId]: (s.streaming[event.conversationId] ?? '') + event.text } }));
      else if (event.type === 'chat-figures') set((s) => ({ figures: { ...s.figures, [event.conversationId]: event.figures } }));
    },
  };
});
