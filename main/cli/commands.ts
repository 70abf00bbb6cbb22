// The table of `reskv` sub-commands; each lives in its own module beside this one.
import { calibrateCommand } from './calibrate.js';
import type { CliCommand } from './command.js';
import { costCommand } from './cost.js';
import { importCommand } from './import.js';
import { inspectCommand } from './inspect.js';
import { modelsCommand } from './models.js';
import { serveCommand } from './serve.js';

export const commands: CliCommand[] = [
  serveCommand,
  importCommand,
  modelsCommand,
  inspectCommand,
  costCommand,
  calibrateCommand,
];
