// The accelerator catalog: one validated entry per GPU (or unified-memory machine) with the figures
// the estimator needs, and where each price came from. Built-in entries ship in
// assets/hardware-catalog.json (bundled with the code, validated on first use); users add their own
// through hardware-store.ts.
import { z } from 'zod';
import catalogFile from '../../assets/hardware-catalog.json' with { type: 'json' };
import { describeIssues } from './validation.js';

const positive = z.number().positive('must be greater than 0');
const nonNegative = z.number().min(0, 'must not be negative');
const text = z.string().trim().min(1, 'must not be empty');

const priceProvenance = {
  approximate: z.boolean(),
  source: text,
  date: z.string().regex(/^\d{4}(-\d{2}(-\d{2})?)?$/, 'must be YYYY, YYYY-MM or YYYY-MM-DD'),
  note: text.optional(),
};

export const hardwareEntrySchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9][a-z0-9.-]{0,62}$/, 'must be 1-63 lower-case letters, digits, dots or dashes'),
  name: text,
  vendor: text,
  /** GiB = 2^30 bytes, GB = 10^9 bytes: write what the datasheet means. */
  memory: z.strictObject({ value: positive, unit: z.enum(['GiB', 'GB']), type: text.optional(), note: text.optional() }),
  /** Share of that memory the accelerator may use (Apple silicon: macOS's GPU wired-memory limit). */
  gpuAccessibleMemoryFraction: z.number().gt(0, 'must be greater than 0').max(1, 'must be at most 1').optional(),
  /** Decimal units: 1 GB/s = 10^9 B/s, 1 TB/s = 10^12 B/s. */
  memoryBandwidth: z.strictObject({ value: positive, unit: z.enum(['GB/s', 'TB/s']) }),
  /** Dense (not 2:4-sparse) FP16 tensor throughput, 10^12 FLOP/s. */
  fp16DenseTflops: positive,
  boardPowerW: positive,
  specSource: text,
  purchase: z.strictObject({ usd: nonNegative, ...priceProvenance }).nullable(),
  cloud: z.strictObject({ usdPerHour: nonNegative, ...priceProvenance }).nullable(),
  note: text.optional(),
});

export type HardwareEntry = z.infer<typeof hardwareEntrySchema>;

/** A catalog row as the app lists it: built into ResKV, or added by the user. */
export interface CatalogEntry {
  entry: HardwareEntry;
  origin: 'built-in' | 'user';
}

export const hardwareCatalogSchema = z
  .strictObject({
    format: z.literal('reskv-hardware-catalog/1'),
    about: text.optional(),
    entries: z.array(hardwareEntrySchema),
  })
  .superRefine((catalog, ctx) => {
    const seen = new Set<string>();
    catalog.entries.forEach((entry, i) => {
      if (seen.has(entry.id)) ctx.addIssue({ code: 'custom', path: ['entries', i, 'id'], message: `duplicate id '${entry.id}'` });
      seen.add(entry.id);
    });
  });

export type HardwareCatalogFile = z.infer<typeof hardwareCatalogSchema>;

export class HardwareCatalogError extends Error {}

/** Validates a whole catalog document; `where` names it in the error. */
export function parseHardwareCatalog(json: unknown, where: string): HardwareCatalogFile {
  const result = hardwareCatalogSchema.safeParse(json);
  if (!result.success) throw new HardwareCatalogError(`${where}: ${describeIssues(result.error)}`);
  return result.data;
}

/** Validates one entry (e.g. typed in by a user). */
export function parseHardwareEntry(json: unknown): HardwareEntry {
  const result = hardwareEntrySchema.safeParse(json);
  if (!result.success) throw new HardwareCatalogError(`invalid hardware entry: ${describeIssues(result.error)}`);
  return result.data;
}

let builtIn: readonly HardwareEntry[] | undefined;

/** The entries of assets/hardware-catalog.json, validated once. */
export function builtInHardware(): readonly HardwareEntry[] {
  builtIn ??= parseHardwareCatalog(catalogFile, 'assets/hardware-catalog.json').entries;
  return builtIn;
}

export function memoryBytes(entry: HardwareEntry): number {
  return entry.memory.value * (entry.memory.unit === 'GiB' ? 1024 ** 3 : 1e9);
}

export function bandwidthBytesPerSecond(entry: HardwareEntry): number {
  return entry.memoryBandwidth.value * (entry.memoryBandwidth.unit === 'TB/s' ? 1e12 : 1e9);
}

export function fp16FlopsPerSecond(entry: HardwareEntry): number {
  return entry.fp16DenseTflops * 1e12;
}
