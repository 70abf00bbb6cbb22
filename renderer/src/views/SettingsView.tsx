// Settings: for now, what the renderer knows about the backend it is connected to.
import { useConnection } from '../state/connection.js';

export function SettingsView() {
  const connection = useConnection((s) => s.connection);
  return (
    <section className="view">
      <h1 id="view-title">Settings</h1>
      <h2>Backend</h2>
      {connection.status === 'connecting' && <p role="status">Connecting…</p>}
      {connection.status === 'absent' && (
        <p className="notice" role="status">
          No ResKV backend: this page runs without the Electron app or the headless server, so nothing can be configured.
        </p>
      )}
      {connection.status === 'error' && (
        <p className="error" role="alert">
          The backend did not answer: {connection.message}
        </p>
      )}
      {connection.status === 'connected' && (
        <dl className="facts">
          <dt>Version</dt>
          <dd>{`${connection.info.name} ${connection.info.version}`}</dd>
          <dt>Runtime</dt>
          <dd>{connection.info.electron ? `Electron ${connection.info.electron}` : 'Headless (plain Node)'}</dd>
          <dt>Node</dt>
          <dd>{connection.info.node}</dd>
          <dt>Platform</dt>
          <dd>{`${connection.info.platform} / ${connection.info.arch}`}</dd>
          <dt>Data folder</dt>
          <dd>{connection.info.dataDir}</dd>
        </dl>
      )}
      <p className="notice">Execution provider, thread count, the data folder and the local API are not configurable from the app yet (the data folder follows RESKV_DATA_DIR).</p>
    </section>
  );
}
