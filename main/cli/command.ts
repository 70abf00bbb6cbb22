// The shape every `reskv` sub-command has (plain Node).
export interface CliCommand {
  name: string;
  summary: string;
  /** Runs the command with its own arguments; returns the process exit code. */
  run(args: string[]): Promise<number>;
}

/** Bad arguments: printed without a stack trace, exit code 2. */
export class CliUsageError extends Error {}
