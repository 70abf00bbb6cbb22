// `reskv models`: lists the models in the library.
import { defaultLibraryDir, listModels } from '../model/library.js';
import type { CliCommand } from './command.js';
import { CliUsageError } from './command.js';
import { parseOptions } from './parse-options.js';

export const modelsCommand: CliCommand = {
  name: 'models',
  summary: 'list the models imported into the library',
  async run(args) {
    const { values, positionals } = parseOptions({ args, allowPositionals: true, options: { library: { type: 'string' }, help: { type: 'boolean' } } });
    if (values.help) {
      console.log('usage: reskv models [--library DIR]\n\nLists imported models (library: $RESKV_LIBRARY or the per-user data folder).');
      return 0;
    }
    if (positionals.length > 0) throw new CliUsageError(`unexpected argument '${positionals[0]}'`);
    const library = values.library ?? defaultLibraryDir();
    const entries = listModels(library);
    if (entries.length === 0) {
      console.log(`no models in ${library} (add one with \`reskv import <path>\`)`);
      return 0;
    }
    const rows = [['id', 'architecture', 'parameters', 'weights', 'on disk', 'imported']];
    const unusable: string[] = [];
    for (const e of entries) {
      const m = e.manifest;
      if (!m) unusable.push(`${e.folder}: unusable (${e.problem}); remove it and import again`);
      else {
        if (e.problem) unusable.push(`${m.id}: damaged (${e.problem})`);
        rows.push([m.id, m.config.architecture, `${(m.parameterCount / 1e6).toFixed(2)}M`, m.weightType, `${(e.bytesOnDisk / 1e6).toFixed(1)} MB`, m.importedAt.slice(0, 19).replace('T', ' ')]);
      }
    }
    const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
    if (rows.length > 1) for (const r of rows) console.log(r.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd());
    for (const line of unusable) console.log(line);
    console.log(`\nlibrary: ${library}`);
    return 0;
  },
};
