// The table of `reskv` sub-commands; each lives in its own module beside this one.
import { benchCommand } from './bench.js';
import { calibrateCommand } from './calibrate.js';
import { chatCommand } from './chat.js';
import type { CliCommand } from './command.js';
import { costCommand } from './cost.js';
import { evalCommand } from './eval.js';
import { generateCommand } from './generate.js';
import { importCommand } from './import.js';
import { inspectCommand } from './inspect.js';
import { modelsCommand } from './models.js';
import { serveCommand } from './serve.js';
import { tasksCommand } from './tasks.js';

export const commands: CliCommand[] = [
  serveCommand,
  importCommand,
  modelsCommand,
  inspectCommand,
  costCommand,
  calibrateCommand,
  generateCommand,
  chatCommand,
  evalCommand,
  tasksCommand,
  benchCommand,
];
