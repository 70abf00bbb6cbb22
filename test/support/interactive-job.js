// A job thread for test/unit/app/interactive-yield.test.ts: registers tsx in this worker thread, then
// runs interactive-job-steps.ts (as main/backend/calibration-worker-from-source.js does for the app).
import { register } from 'tsx/esm/api';

register();
await import('./interactive-job-steps.ts');
