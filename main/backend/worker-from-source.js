// Starts the backend worker from its TypeScript source (CLI, tests): registers tsx in this worker
// thread, then loads worker.ts. Built apps start the bundled out/main/backend-worker.js instead.
import { register } from 'tsx/esm/api';

register();
await import('./worker.ts');
