// `reskv serve`: runs ResKV headless — the built renderer and its API on a loopback HTTP server.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startBackend } from '../backend/client.js';
import { defaultDataDir } from '../data-dir.js';
import { startHeadlessServer } from '../server/http-server.js';
import { CliUsageError, type CliCommand } from './command.js';

const repoRoot = join(import.meta.dirname, '..', '..');

const help = `usage: reskv serve [--port N] [--token SECRET] [--data-dir DIR]

Starts ResKV headless on 127.0.0.1 and prints the URL to open in a browser; the
OpenAI-compatible API answers under /v1 on the same address.
  --port N        port to listen on (default 8417; 0 picks a free one)
  --token SECRET  require "Authorization: Bearer SECRET" on API calls (/api, /v1)
                  (the printed URL carries it for the browser)
  --data-dir DIR  where models, hardware entries and results live
                  (default: RESKV_DATA_DIR or ${defaultDataDir()})`;

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'run ResKV headless: the app in your browser, API on loopback',
  async run(args) {
    const { values } = parseArgs({
      args,
      options: { port: { type: 'string', default: '8417' }, token: { type: 'string' }, 'data-dir': { type: 'string' }, help: { type: 'boolean' } },
      strict: true,
    });
    if (values.help) {
      console.log(help);
      return 0;
    }
    const port = Number(values.port);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new CliUsageError(`--port must be an integer 0..65535, got '${values.port}'`);
    if (values.token !== undefined && values.token.length < 8) throw new CliUsageError('--token must be at least 8 characters');
    const rendererDir = join(repoRoot, 'out', 'renderer');
    if (!existsSync(join(rendererDir, 'index.html'))) throw new Error(`no built renderer in ${rendererDir}: run \`npm run build\` first (\`npm run serve\` does both)`);
    const pkg = JSON.parse(readFileSync(join(repoRoot, 'package.json'), 'utf8')) as { productName: string; version: string };
    const host = { name: pkg.productName, version: pkg.version, dataDir: values['data-dir'] ?? defaultDataDir() };
    const backend = startBackend(new URL('../backend/worker-from-source.js', import.meta.url), host);
    const server = await startHeadlessServer({ port, rendererDir, token: values.token, backend });
    console.log(`ResKV headless: ${server.url}${values.token ? `#token=${encodeURIComponent(values.token)}` : ''}`);
    console.log(`OpenAI-compatible API: ${server.url}v1`);
    await new Promise<void>((resolve) => {
      const stop = () => resolve();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    await server.close();
    await backend.close();
    return 0;
  },
};
