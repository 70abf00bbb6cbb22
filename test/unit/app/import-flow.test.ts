// The import flow DEVELOPERS.md fixes is enforced by ESLint; these cases prove the rules fire.
import { ESLint } from 'eslint';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../../support/paths.js';

const eslint = new ESLint({ cwd: repoRoot });

async function restrictedImportMessages(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(repoRoot, file) });
  return result.messages.filter((m) => m.ruleId === '@typescript-eslint/no-restricted-imports').map((m) => m.message);
}

describe('import flow lint rules', () => {
  it('quant/ imports nothing from main/, renderer/ or Node', async () => {
    expect(await restrictedImportMessages('quant/probe.ts', "import { x } from '../main/cost/index.js';\nexport const y = x;\n")).toHaveLength(1);
    expect(await restrictedImportMessages('quant/probe.ts', "import { readFileSync } from 'node:fs';\nexport const y = readFileSync;\n")).toHaveLength(1);
    expect(await restrictedImportMessages('quant/probe.ts', "import { a } from './spec.js';\nexport const y = a;\n")).toEqual([]);
  });

  it('renderer/ imports only types, and only from main/api/', async () => {
    const file = 'renderer/src/probe.ts';
    expect(await restrictedImportMessages(file, "import type { AppInfo } from '../../main/api/types.js';\nexport type A = AppInfo;\n")).toEqual([]);
    expect(await restrictedImportMessages(file, "import { getAppInfo } from '../../main/api/types.js';\nexport const a = getAppInfo;\n")).not.toEqual([]);
    expect(await restrictedImportMessages(file, "import type { X } from '../../main/engine/engine.js';\nexport type A = X;\n")).not.toEqual([]);
    expect(await restrictedImportMessages(file, "import { encode } from '../../quant/index.js';\nexport const a = encode;\n")).not.toEqual([]);
  });

  it('main/ never imports renderer/', async () => {
    expect(await restrictedImportMessages('main/probe.ts', "import { App } from '../renderer/src/App.js';\nexport const a = App;\n")).not.toEqual([]);
  });
});
