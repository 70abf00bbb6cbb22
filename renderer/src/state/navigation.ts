// Which view the operator is looking at (zustand store; selectors keep re-renders narrow), kept in the
// URL's hash so a reload shows the same view.
import { create } from 'zustand';
import { readLocation, writeLocation } from './location-state.js';

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

const isView = (value: string | null): value is ViewId => (views as readonly (string | null)[]).includes(value);

export const useNavigation = create<NavigationState>((set) => ({
  view: ((v) => (isView(v) ? v : 'chat'))(readLocation('view')),
  show: (view) => {
    writeLocation('view', view);
    set({ view });
  },
}));
