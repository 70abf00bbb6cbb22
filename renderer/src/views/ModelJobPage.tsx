// The page Tasks and Tradeoffs share: the title, what to do when the backend is not reachable or no
// library model fits the view yet, and the shown model's job panel (picker, form, progress, kept runs).
import { useEffect, type ReactNode } from 'react';
import type { JobSnapshot, ModelSummary, ResKvBridge } from '../../../main/api/types.js';
import { useConnection } from '../state/connection.js';
import { useModels } from '../state/models.js';
import { ModelJobPanel, useModelJob } from './KeptRuns.js';

/** What the page needs of its view's store (tasks.ts, tradeoffs.ts). */
interface ModelJobStore {
  model: string | null;
  error: string | null;
  select(model: string): void;
  load(bridge: ResKvBridge, model: string): Promise<void>;
}

export function ModelJobPage<M extends ModelSummary>(props: {
  title: string;
  /** What the page does in the backend, shown when it is not connected. */
  offline: string;
  /** What to do when no library model fits the page. */
  empty: string;
  kind: JobSnapshot['kind'];
  useStore: <T>(selector: (state: ModelJobStore) => T) => T;
  /** The library models this page can use. */
  usable(models: readonly ModelSummary[] | null): M[];
  form(bridge: ResKvBridge, model: M, running: boolean): ReactNode;
  children(bridge: ResKvBridge, model: M): ReactNode;
}) {
  const connection = useConnection((s) => s.connection);
  const bridge = connection.status === 'connected' ? connection.bridge : null;
  const models = useModels((s) => s.models);
  const refresh = useModels((s) => s.refresh);
  useEffect(() => {
    if (bridge && models === null) void refresh(bridge);
  }, [bridge, models, refresh]);
  const { useStore, usable } = props;
  const selected = useStore((s) => s.model);
  const select = useStore((s) => s.select);
  const error = useStore((s) => s.error);
  const candidates = usable(models);
  // the one chosen on the page, else the first that fits
  const model = candidates.find((m) => m.id === selected) ?? candidates[0];
  const job = useModelJob(bridge, props.kind, model?.id, useStore((s) => s.load));
  return (
    <section className="view">
      <h1 id="view-title">{props.title}</h1>
      {!bridge && (
        <p className="notice" role="status">
          {props.offline}
        </p>
      )}
      {bridge && models && candidates.length === 0 && (
        <p className="notice" role="status">
          {props.empty}
        </p>
      )}
      {bridge && model && (
        <ModelJobPanel bridge={bridge} models={candidates.map((m) => m.id)} model={model.id} select={select} job={job} error={error} form={props.form(bridge, model, job?.state === 'running')}>
          {props.children(bridge, model)}
        </ModelJobPanel>
      )}
    </section>
  );
}
