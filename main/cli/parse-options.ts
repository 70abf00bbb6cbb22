// node:util parseArgs with its errors (unknown option, missing value) turned into usage errors.
import { parseArgs } from 'node:util';
import type { ParseArgsConfig } from 'node:util';
import { CliUsageError } from './command.js';

export function parseOptions<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (e) {
    throw new CliUsageError((e as Error).message);
  }
}
