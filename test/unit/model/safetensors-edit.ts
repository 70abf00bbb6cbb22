// Rewrites a safetensors file's JSON header in place of the original, for tests of headers that lie.
import { writeFileSync } from 'node:fs';

export type SafetensorsJsonHeader = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>;

/** Writes `original` (a safetensors file's bytes) to `path` with its JSON header changed by `edit`. */
export function rewriteSafetensorsHeader(path: string, original: Buffer, edit: (header: SafetensorsJsonHeader) => void): void {
  const length = Number(original.readBigUInt64LE(0));
  const header = JSON.parse(original.subarray(8, 8 + length).toString('utf8'));
  edit(header);
  const text = Buffer.from(JSON.stringify(header).padEnd(length, ' '));
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(text.length));
  writeFileSync(path, Buffer.concat([prefix, text, original.subarray(8 + length)]));
}
