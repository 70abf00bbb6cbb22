// The table of `reskv` sub-commands; each lives in its own module beside this one.
import type { CliCommand } from './command.js';
import { serveCommand } from './serve.js';

export const commands: CliCommand[] = [
  serveCommand,
];
