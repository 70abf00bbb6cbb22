// The library folder setting and model removal touch only ResKV's own folders: settings.save refuses
// a libraryDir that holds anything but model folders, and removal deletes only a folder carrying our
// manifest (issue 17: settings.save + models.remove ran rm -rf on a folder that was not a model).
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ApiArgumentError } from '../../../main/backend/errors.js';
import { isModelFolder, libraryFolderProblem } from '../../../main/backend/library-folders.js';
import { listModelSummaries, removeModel } from '../../../main/backend/models.js';
import { defaultSettings, libraryFor, loadSettings, saveSettings } from '../../../main/backend/settings.js';

const freshDir = (name: string) => mkdtemp(join(tmpdir(), `reskv-${name}-`));

/** A model folder as the library lists it: our manifest (its other fields do not matter here). */
async function modelFolder(library: string, id: string, manifest: object = { format: 'reskv-model/1', id }): Promise<string> {
  const folder = join(library, id);
  await mkdir(folder, { recursive: true });
  await writeFile(join(folder, 'manifest.json'), JSON.stringify(manifest));
  await writeFile(join(folder, 'weights.bin'), 'w');
  return folder;
}

describe('library folder setting', () => {
  it('accepts a new folder, an empty folder and an existing ResKV library', async () => {
    const root = await freshDir('lib-ok');
    expect(libraryFolderProblem(join(root, 'not-yet'))).toBeNull();
    await mkdir(join(root, 'empty'));
    expect(libraryFolderProblem(join(root, 'empty'))).toBeNull();
    const library = join(root, 'library');
    await modelFolder(library, 'stories260K');
    await mkdir(join(library, '.importing-tiny-123-4')); // an unfinished import: hidden, ignored
    expect(libraryFolderProblem(library)).toBeNull();
  });

  it('refuses a folder holding anything else, a file, or a relative path, naming the field and the stranger', async () => {
    const home = await freshDir('lib-home');
    await writeFile(join(home, 'thesis.tex'), 'years of work');
    await modelFolder(home, 'stories260K');
    const data = await freshDir('lib-data');
    const save = (libraryDir: string) => () => saveSettings(data, { ...defaultSettings, libraryDir });
    expect(save(home)).toThrow(ApiArgumentError);
    expect(save(home)).toThrow(/^Library folder: .* is not a ResKV model library: it holds 'thesis\.tex'/);
    expect(save(join(home, 'thesis.tex'))).toThrow(/^Library folder: .*thesis\.tex is not a folder/);
    expect(save('models')).toThrow(/^Library folder: models is not an absolute path/);
    // a folder whose subfolder has a manifest of another format is not a library either
    const other = await freshDir('lib-other');
    await modelFolder(other, 'foreign', { format: 'someone-else/2' });
    expect(save(other)).toThrow(/it holds 'foreign'/);
    expect(loadSettings(data).settings.libraryDir).toBeNull(); // nothing was saved
  });

  it('does not re-check an unchanged libraryDir, so other settings still save when the library gained a stray file', async () => {
    const data = await freshDir('lib-data');
    const library = join(data, 'my-library');
    saveSettings(data, { ...defaultSettings, libraryDir: library });
    await mkdir(library, { recursive: true });
    await writeFile(join(library, 'notes.txt'), 'mine');
    expect(saveSettings(data, { ...defaultSettings, libraryDir: library, threads: 2 }).settings.threads).toBe(2);
  });
});

describe('model removal', () => {
  it('removes a folder that carries our manifest (damaged or not), and refuses any other folder in the library', async () => {
    const data = await freshDir('rm-data');
    const library = libraryFor(data);
    const damaged = await modelFolder(library, 'damaged'); // our format, the rest missing: listed with a problem
    const stranger = join(library, 'Documents');
    await mkdir(stranger, { recursive: true });
    await writeFile(join(stranger, 'thesis.tex'), 'years of work');
    const foreign = await modelFolder(library, 'foreign', { format: 'someone-else/2' });
    expect(listModelSummaries(data).map((m) => [m.id, m.problem !== null])).toEqual([
      ['Documents', true],
      ['damaged', true],
      ['foreign', true],
    ]);

    expect(() => removeModel(data, 'Documents')).toThrow(/Documents is not a ResKV model folder \(no manifest\.json of format reskv-model\/1\): ResKV does not delete it/);
    expect(() => removeModel(data, 'foreign')).toThrow(/not a ResKV model folder/);
    expect(existsSync(join(stranger, 'thesis.tex'))).toBe(true);
    expect(existsSync(join(foreign, 'weights.bin'))).toBe(true);

    removeModel(data, 'damaged');
    expect(existsSync(damaged)).toBe(false);
  });

  it('does not follow a link in the library to a folder elsewhere', async () => {
    const data = await freshDir('rm-link');
    const library = libraryFor(data);
    const elsewhere = await modelFolder(await freshDir('rm-elsewhere'), 'elsewhere');
    await mkdir(library, { recursive: true });
    await symlink(elsewhere, join(library, 'linked'));
    expect(isModelFolder(join(library, 'linked'))).toBe(false);
    expect(() => removeModel(data, 'linked')).toThrow(/not a ResKV model folder/);
    expect(existsSync(join(elsewhere, 'weights.bin'))).toBe(true);
  });
});
