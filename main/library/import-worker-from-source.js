// Starts the import worker from its TypeScript source (CLI, tests): registers tsx in this worker
// thread, then loads import-worker.ts. Built apps start the bundled out/main/import-worker.js instead.
import { register } from 'tsx/esm/api';

register();
await import('./import-worker.ts');
