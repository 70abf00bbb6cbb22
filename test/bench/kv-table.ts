// The error/bits table bench:quant prints for each data set (synthetic keys, stories260K's real K/V).
import { compressionVsFp16 } from '../../quant/index.js';

export interface ErrorRow {
  method: string;
  grouping: string;
  depth: string;
  bits: number;
  bytesPerToken: number;
  mse: number;
  snr: number;
  cos: number;
  attn: number;
}

export type Column<R> = [string, (r: R) => string];

export const errorColumns: Column<ErrorRow>[] = [
  ['method', (r) => r.method],
  ['grouping', (r) => r.grouping],
  ['depth', (r) => r.depth],
  ['bits/val', (r) => r.bits.toFixed(4)],
  ['B/token', (r) => r.bytesPerToken.toFixed(2)],
  ['x fp16', (r) => compressionVsFp16(r.bits).toFixed(3)],
  ['MSE', (r) => r.mse.toExponential(3)],
  ['SNR dB', (r) => r.snr.toFixed(2)],
  ['cos', (r) => r.cos.toFixed(5)],
  ['attn err', (r) => r.attn.toFixed(4)],
];

/** Prints rows under a header; the first three columns left-aligned, numbers right-aligned. */
export function printTable<R>(rows: readonly R[], columns: readonly Column<R>[]): void {
  const cells = rows.map((r) => columns.map(([, f]) => f(r)));
  const widths = columns.map(([h], i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (values: string[]) => values.map((v, i) => (i < 3 ? v.padEnd(widths[i]) : v.padStart(widths[i]))).join('  ');
  console.log('\n' + line(columns.map(([h]) => h)));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const c of cells) console.log(line(c));
}
