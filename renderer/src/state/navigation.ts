// Which view the operator is looking at (zustand store; selectors keep re-renders narrow).
import { create } from 'zustand';

export const views = ['chat', 'tradeoffs', 'tasks', 'cost', 'report', 'models', 'settings'] as const;
export type ViewId = (typeof views)[number];

export const viewTitles: Record<ViewId, string> = {
  chat: 'Chat',
  tradeoffs: 'Tradeoffs',
  tasks: 'Tasks',
  cost: 'Cost',
  report: 'Report',
  models: 'Models',
  settings: 'Settings',
};

interface NavigationState {
  view: ViewId;
  show(view: ViewId): void;
}

export const useNavigation = create<NavigationState>((set) => ({
  view: 'chat',
  show: (view) => set({ view }),
}));
