// Chat state: saved conversations, the active one, tokens streaming in, live figures, and the
// sampling settings the operator chose.
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
  error: string | null;
  load(bridge: ResKvBridge): Promise<void>;
  start(bridge: ResKvBridge, model: string, cache: string, system: string | null): Promise<void>;
  select(bridge: ResKvBridge, id: string): Promise<void>;
  send(bridge: ResKvBridge, text: string): Promise<void>;
  cancel(bridge: ResKvBridge): Promise<void>;
  setDepth(bridge: ResKvBridge, depth: number): Promise<void>;
  remove(bridge: ResKvBridge, id: string): Promise<void>;
  setSampling(patch: Partial<SamplingOptions>): void;
  onEvent(event: BackendEvent): void;
}

const message = (err: unknown) => (err instanceof Error ? err.message : String(err));

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
        const id = get().activeId;
        if (!id) return;
        set((s) => ({ busy: { ...s.busy, [id]: true }, streaming: { ...s.streaming, [id]: '' } }));
        // Show the operator's message at once; the backend's transcript replaces it after the reply.
        set((s) => ({ sessions: s.sessions.map((x) => (x.id === id ? { ...x, messages: [...x.messages, { role: 'user', content: text }] } : x)) }));
        try {
          upsert(await bridge.chat.send(id, text, get().sampling));
        } finally {
          set((s) => ({ busy: { ...s.busy, [id]: false }, streaming: { ...s.streaming, [id]: '' } }));
        }
      }),
    cancel: (bridge) =>
      guard(async () => {
        const id = get().activeId;
        if (id) await bridge.chat.cancel(id);
      }),
    setDepth: (bridge, depth) =>
      guard(async () => {
        const id = get().activeId;
        if (id) {
          const figures = await bridge.chat.setDepth(id, depth);
          set((s) => ({ figures: { ...s.figures, [id]: figures } }));
        }
      }),
    remove: (bridge, id) =>
      guard(async () => {
        const sessions = await bridge.chat.remove(id);
        set((s) => ({ sessions, activeId: s.activeId === id ? null : s.activeId }));
      }),
    setSampling: (patch) => set((s) => ({ sampling: { ...s.sampling, ...patch } })),
    onEvent: (event) => {
      if (event.type === 'chat-token') set((s) => ({ streaming: { ...s.streaming, [event.conversationId]: (s.streaming[event.conversationId] ?? '') + event.text } }));
      else if (event.type === 'chat-figures') set((s) => ({ figures: { ...s.figures, [event.conversationId]: event.figures } }));
    },
  };
});
