// A child process for the fault-injection suite (fault-suite.test.ts), killed with SIGKILL at a
// random moment of its work: `import <checkpoint> <library> <id>`, `calibrate <model folder> <seed>`
// (replaces the model's "default" codebook set), or `save <data dir> <conversation id> <turns>`
// (sends turns to a saved conversation, each reply saved). Prints "done" when it finishes unharmed.
import { EngineHost } from '../../../main/backend/engine-host.js';
import { calibrateModel } from '../../../main/engine/calibration/calibrate.js';
import { importModel } from '../../../main/library/import-model.js';
import { faultCalibration, faultGreedy, faultPrompts } from './fault-setup.js';

const [action, ...args] = process.argv.slice(2);
if (action === 'import') {
  const [checkpoint, library, id] = args;
  importModel(checkpoint, { library, id });
} else if (action === 'calibrate') {
  const [folder, seed] = args;
  await calibrateModel(folder, { text: { kind: 'text', name: 'stories', text: faultCalibration.text }, settings: { ...faultCalibration.settings, seed: Number(seed) } });
} else if (action === 'save') {
  const [dataDir, id, turns] = args;
  const host = new EngineHost(dataDir, () => {});
  const session = await host.chat.resume(id);
  const done = session.messages.length / 2;
  for (let turn = done; turn < done + Number(turns); turn++) await host.chat.send(id, faultPrompts[turn % faultPrompts.length], faultGreedy);
  await host.close();
} else throw new Error(`unknown action ${action}`);
console.log('done');
