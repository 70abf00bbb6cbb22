// The page Tasks and Tradeoffs share: the title, what to do when the backend is not reachable or no
// library model fits the view yet, and the model's job panel (picker, form, progress, kept runs).
import { useEffect, type ReactNode } from 'react';
import type { JobSnapshot, ModelSummary, ResKvBridge } from '../../../main/api/types.js';
import { useConnection } from '../state/connection.js';
import { useModels } from '../state/models.js';
import { ModelJobPanel } from './KeptRuns.js';

/** The connected bridge (null when not connected) and the library's models, listed once on first use. */
export function useLibrary(): { bridge: ResKvBridge | null; models: ModelSummary[] | null } {
  const connection = useConnection((s) => s.connection);
  const bridge = connection.status === 'connected' ? connection.bridge : null;
  const models = useModels((s) => s.models);
  const refresh = useModels((s) => s.refresh);
  useEffect(() => {
    if (bridge && models === null) void refresh(bridge);
  }, [bridge, models, refresh]);
  return { bridge, models };
}

export function ModelJobPage(props: {
  title: string;
  /** What the page does in the backend, shown when it is not connected. */
  offline: string;
  /** What to do when no library model fits the page. */
  empty: string;
  bridge: ResKvBridge | null;
  /** The library's models (null until listed) and those this page can use. */
  models: readonly ModelSummary[] | null;
  usable: readonly string[];
  model: string | undefined;
  select(model: string): void;
  job: JobSnapshot | undefined;
  error: string | null;
  form(bridge: ResKvBridge, model: string, running: boolean): ReactNode;
  children(bridge: ResKvBridge, model: string): ReactNode;
}) {
  const { bridge, model, job } = props;
  return (
    <section className="view">
      <h1 id="view-title">{props.title}</h1>
      {!bridge && (
        <p className="notice" role="status">
          {props.offline}
        </p>
      )}
      {bridge && props.models && props.usable.length === 0 && (
        <p className="notice" role="status">
          {props.empty}
        </p>
      )}
      {bridge && model && (
        <ModelJobPanel bridge={bridge} models={[...props.usable]} model={model} select={props.select} job={job} error={props.error} form={props.form(bridge, model, job?.state === 'running')}>
          {props.children(bridge, model)}
        </ModelJobPanel>
      )}
    </section>
  );
}
