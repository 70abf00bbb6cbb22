// The `reskv` command line (runs in plain Node): dispatches to one module per command under cli/.
import { commands } from './cli/commands.js';
import { CliUsageError } from './cli/command.js';

function printHelp(): void {
  const lines = ['usage: reskv <command> [options]', '', 'commands:'];
  for (const c of commands) lines.push(`  ${c.name.padEnd(10)} ${c.summary}`);
  lines.push('', 'Run `reskv <command> --help` for a command\'s options.');
  console.log(lines.join('\n'));
}

export async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    printHelp();
    return name ? 0 : 2;
  }
  const command = commands.find((c) => c.name === name);
  if (!command) {
    console.error(`reskv: unknown command '${name}'. Known: ${commands.map((c) => c.name).join(', ')}`);
    return 2;
  }
  try {
    return await command.run(rest);
  } catch (err) {
    if (err instanceof CliUsageError) {
      console.error(`reskv ${name}: ${err.message}`);
      return 2;
    }
    console.error(`reskv ${name}: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
