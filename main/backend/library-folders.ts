// Which folders the app may treat as its own (plain Node, backend worker): a model folder carries our
// manifest, a library holds only model folders. Settings and removal check them, so a request (or a
// slip) can neither point the library at an arbitrary folder nor delete a folder that is not a model.
import { existsSync, lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { manifestFileName, manifestFormat } from '../model/manifest.js';

/**
 * True when `folder` is a directory (not a link) holding a manifest.json of ResKV's format. The rest of
 * the manifest may be damaged: such a model is listed with its problem and may still be removed.
 */
export function isModelFolder(folder: string): boolean {
  if (!lstatSync(folder, { throwIfNoEntry: false })?.isDirectory()) return false;
  try {
    const manifest = JSON.parse(readFileSync(join(folder, manifestFileName), 'utf8')) as unknown;
    return typeof manifest === 'object' && manifest !== null && (manifest as { format?: unknown }).format === manifestFormat;
  } catch {
    return false;
  }
}

/**
 * Why `folder` cannot be the model library, or null when it can: an absolute path to a folder that
 * does not exist yet, an empty folder, or a ResKV library (every entry a model folder; hidden entries
 * such as unfinished imports are ignored).
 */
export function libraryFolderProblem(folder: string): string | null {
  if (!isAbsolute(folder)) return `${folder} is not an absolute path`;
  if (!existsSync(folder)) return null;
  if (!statSync(folder).isDirectory()) return `${folder} is not a folder`;
  const stranger = readdirSync(folder).find((name) => !name.startsWith('.') && !isModelFolder(join(folder, name)));
  if (stranger === undefined) return null;
  return `${folder} is not a ResKV model library: it holds '${stranger}', which is not a model folder (no ${manifestFileName} of format ${manifestFormat}); choose an empty folder or an existing library`;
}
