// Starts the calibration worker from its TypeScript source (CLI, tests): registers tsx in this worker
// thread, then loads calibration-worker.ts. Built apps start the bundled out/main/calibration-worker.js.
import { register } from 'tsx/esm/api';

register();
await import('./calibration-worker.ts');
