// The operator's settings (plain Node, backend worker): execution-provider preference, threads, the
// model library location and the local API. Stored as settings.json in the data folder, validated
// with zod on every read and write. A damaged file is reported and left untouched until the operator
// saves new settings (the damaged file is then kept beside as settings.json.damaged).
import { copyFileSync, existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { Settings, SettingsState } from '../api/types.js';
import { writeFileAtomic } from '../atomic-file.js';
import { executionProviders } from '../engine/session.js';
import { libraryDirIn } from '../model/library.js';
import { ApiArgumentError } from './errors.js';
import { libraryFolderProblem } from './library-folders.js';
import type { Same } from '../api/same-type.js';

export const settingsSchema = z.strictObject({
  /** Tried in order; CPU is always the last resort. */
  providers: z.array(z.enum(executionProviders)).min(1, 'must name at least one provider').max(executionProviders.length),
  /** Threads inside one ONNX Runtime operator; 0 lets ONNX Runtime decide. */
  threads: z.number().int('must be a whole number').min(0, 'must be at least 0').max(256, 'must be at most 256'),
  /** Where imported models live; null: the data folder's models/ (or RESKV_LIBRARY). */
  libraryDir: z.string().trim().min(1, 'must not be empty').max(4096).nullable(),
  localApi: z.strictObject({
    enabled: z.boolean(),
    port: z.number().int('must be a whole number').min(1024, 'must be at least 1024').max(65535, 'must be at most 65535'),
    /** Bearer token clients must send; null: none (loopback only either way). */
    token: z.string().min(8, 'must be at least 8 characters').max(256).nullable(),
  }),
});

// Compile-time check: the renderer's Settings type (main/api) is exactly what the schema accepts.
const settingsTypeMatches: Same<z.infer<typeof settingsSchema>, Settings> = true;
void settingsTypeMatches;

export const defaultSettings: Settings = {
  providers: [...executionProviders],
  threads: 0,
  libraryDir: null,
  localApi: { enabled: false, port: 8418, token: null },
};

const settingsFile = (dataDir: string) => join(dataDir, 'settings.json');

/** The saved settings, or the defaults with `problem` set when the file is damaged. */
export function loadSettings(dataDir: string): SettingsState {
  const file = settingsFile(dataDir);
  if (!existsSync(file)) return { settings: defaultSettings, problem: null };
  try {
    const parsed = settingsSchema.safeParse(JSON.parse(readFileSync(file, 'utf8')));
    if (parsed.success) return { settings: parsed.data, problem: null };
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(file)'}: ${i.message}`).join('; ');
    return { settings: defaultSettings, problem: `${file} is invalid (${issues}); using defaults until you save` };
  } catch (err) {
    return { settings: defaultSettings, problem: `${file} cannot be read (${(err as Error).message}); using defaults until you save` };
  }
}

/**
 * Saves `settings`. A changed libraryDir must be an empty or new folder or a ResKV library
 * (ApiArgumentError otherwise): removal deletes model folders inside it.
 */
export function saveSettings(dataDir: string, settings: Settings): SettingsState {
  const file = settingsFile(dataDir);
  const { libraryDir } = settings;
  const problem = libraryDir !== null && libraryDir !== loadSettings(dataDir).settings.libraryDir ? libraryFolderProblem(libraryDir) : null;
  if (problem) throw new ApiArgumentError(`Library folder: ${problem}`);
  if (loadSettings(dataDir).problem) copyFileSync(file, `${file}.damaged`);
  writeFileAtomic(file, `${JSON.stringify(settingsSchema.parse(settings), null, 2)}\n`);
  return { settings, problem: null };
}

/** The model library the backend uses: RESKV_LIBRARY, the configured folder, or <data>/models. */
export function libraryFor(dataDir: string): string {
  return process.env.RESKV_LIBRARY ?? loadSettings(dataDir).settings.libraryDir ?? libraryDirIn(dataDir);
}
