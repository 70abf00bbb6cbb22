// The manifest.json of a model in the library: what was imported, how, and which files hold it.
// Validated with zod whenever it is read.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../atomic-file.js';
import { z } from 'zod';
import { modelConfigSchema } from './config.js';
import { fileHashSchema, verifyFiles } from './file-hashes.js';
import type { VerifyOptions } from './file-hashes.js';
import { weightTypes } from './weights.js';

export const manifestFileName = 'manifest.json';
export const manifestFormat = 'reskv-model/1';

const positiveInt = z.number().int().positive();

export const manifestSchema = z.object({
  format: z.literal(manifestFormat),
  id: z.string().min(1),
  source: z.object({ format: z.enum(['llama2c', 'huggingface']), path: z.string() }),
  importedAt: z.string(),
  config: modelConfigSchema,
  parameterCount: positiveInt,
  weightType: z.enum(weightTypes),
  /** ONNX external data file shared by every graph of the model. */
  weightsFile: z.string(),
  weightsBytes: z.number().int().nonnegative(),
  /** Offset and length of every initializer in weightsFile, so graphs built later share it. */
  weightsTable: z.record(z.string(), z.object({ offset: z.number().int().nonnegative(), length: z.number().int().nonnegative() })),
  /** fp: float32 cache; fpHalfCache: the same with a float16 past/present; capture: calibration. */
  graphs: z.object({ fp: z.string(), fpHalfCache: z.string(), capture: z.string() }),
  /**
   * rvq graphs installed for codebook sets, by name, with the version of the builder that wrote the
   * graph (rvqGraphVersion; absent: before versions were recorded): an older graph is rebuilt on open.
   */
  rvq: z.record(z.string(), z.object({ graph: z.string(), codebooks: z.string(), version: positiveInt.optional() })),
  tokenizer: z.discriminatedUnion('format', [
    z.object({ format: z.literal('llama2c'), file: z.string() }),
    z.object({ format: z.literal('huggingface'), files: z.array(z.string()) }),
  ]),
  /**
   * The fused CPU path's segment graphs, derived from the weights and written on first use (hashes in
   * `files`), and the version of the builder that wrote them (splitGraphVersion).
   */
  split: z.strictObject({ version: positiveInt, files: z.array(z.string()) }).optional(),
  bosId: z.number().int().nonnegative().nullable(),
  eosIds: z.array(z.number().int().nonnegative()),
  /** Size and sha256 of every file above, by name (absent in manifests written before they were recorded). */
  files: z.record(z.string(), fileHashSchema).optional(),
  /** sha256 of this manifest's JSON without this field (absent in manifests written before it was recorded). */
  checksum: z.string().optional(),
});

export type ModelManifest = z.infer<typeof manifestSchema>;

export function readManifest(modelFolder: string): ModelManifest {
  const path = join(modelFolder, manifestFileName);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: ${(e as Error).message}`, { cause: e });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) throw new Error(`${path}: invalid manifest (${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')})`);
  const { checksum, ...content } = parsed.data;
  if (checksum !== undefined && checksum !== contentChecksum(content)) throw new Error(`${path}: the manifest is damaged (its content does not match its checksum); re-import the model`);
  return content;
}

function contentChecksum(content: Omit<ModelManifest, 'checksum'>): string {
  return createHash('sha256').update(JSON.stringify(content)).digest('hex');
}

/** Replaces the manifest atomically (write beside, then rename), with a checksum of its content. */
export function writeManifest(modelFolder: string, manifest: ModelManifest): void {
  const content: ModelManifest = manifestSchema.parse(manifest);
  delete content.checksum;
  writeFileAtomic(join(modelFolder, manifestFileName), JSON.stringify({ ...content, checksum: contentChecksum(content) }, null, 2));
}

/** The tokenizer's files in the model folder. */
export function tokenizerFileNames(manifest: ModelManifest): string[] {
  return manifest.tokenizer.format === 'llama2c' ? [manifest.tokenizer.file] : manifest.tokenizer.files;
}

/** The files every use of the model reads: weights and tokenizer. */
export function baseFileNames(manifest: ModelManifest): string[] {
  return [manifest.weightsFile, ...tokenizerFileNames(manifest)];
}

/** Every file the manifest names. */
export function allFileNames(manifest: ModelManifest): string[] {
  return [...baseFileNames(manifest), ...Object.values(manifest.graphs), ...Object.values(manifest.rvq).flatMap((set) => [set.graph, set.codebooks])];
}

/** Checks files of the model against the sizes and sha256 its manifest records (see file-hashes.ts). */
export function verifyModelFiles(folder: string, manifest: ModelManifest, names: readonly string[], options?: VerifyOptions): void {
  verifyFiles(folder, manifest.id, manifest.files, names, options);
}
