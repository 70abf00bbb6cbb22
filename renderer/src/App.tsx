// The app frame: navigation rail, the current view, and a status line about the backend.
import { useEffect } from 'react';
import { useConnection } from './state/connection.js';
import { useNavigation, views, viewTitles, type ViewId } from './state/navigation.js';
import { ChatView } from './views/ChatView.js';
import { CostView } from './views/CostView.js';
import { ModelsView } from './views/ModelsView.js';
import { ReportView } from './views/ReportView.js';
import { RunningJobs } from './views/RunningJobs.js';
import { SettingsView } from './views/SettingsView.js';
import { TasksView } from './views/TasksView.js';
import { TradeoffsView } from './views/TradeoffsView.js';

function CurrentView({ view }: { view: ViewId }) {
  if (view === 'settings') return <SettingsView />;
  if (view === 'cost') return <CostView />;
  if (view === 'models') return <ModelsView />;
  if (view === 'chat') return <ChatView />;
  if (view === 'report') return <ReportView />;
  if (view === 'tasks') return <TasksView />;
  return <TradeoffsView />;
}

export function App() {
  const view = useNavigation((s) => s.view);
  const show = useNavigation((s) => s.show);
  const connect = useConnection((s) => s.connect);
  useEffect(() => {
    void connect();
  }, [connect]);

  return (
    <div className="frame">
      <nav className="rail" aria-label="Views">
        <div className="brand">ResKV</div>
        {views.map((id) => (
          <button key={id} type="button" className="nav-item" aria-current={id === view ? 'page' : undefined} onClick={() => show(id)}>
            {viewTitles[id]}
          </button>
        ))}
        <RunningJobs />
      </nav>
      <main className="content" aria-labelledby="view-title">
        <CurrentView view={view} />
      </main>
    </div>
  );
}
