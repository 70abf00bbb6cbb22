// Codebook sets in words, for the Models view and the report.
import type { CalibrationQuantizer, CalibrationSource, CalibrationSummary } from '../../../../main/api/types.js';
import { formatCount } from '../format.js';

export const formatBits = (bits: number) => bits.toFixed(2);

/** e.g. "depth 4 × 256 entries, groups of 32 (strided, token span, fp16 scale per token)". */
export function describeQuantizer(q: CalibrationQuantizer): string {
  const scale = q.scale === 'none' ? 'no scale' : `fp16 scale per ${q.scale}`;
  return `depth ${q.depth} × ${formatCount(q.codebookSize)} entries, groups of ${q.groupSize} (${q.grouping}, ${q.groupSpan} span, ${scale})`;
}

/** Where the calibration tokens came from; data-free is said as such. */
export function describeSource(source: CalibrationSource | null): string {
  if (!source) return 'source not recorded';
  if (source.kind === 'self-generated') return `data-free: ${formatCount(source.tokens)} tokens the model sampled itself`;
  return source.files.map((f) => `${f.file} (${formatCount(f.documents)} documents)`).join(', ');
}

/** One line per set: name, depth and codebook size, bits per value, source. */
export function describeCalibration(c: CalibrationSummary): string {
  if (!c.key || !c.value) return `${c.name}: unreadable (${c.problem ?? 'unknown problem'})`;
  return `${c.name}: depth ${c.key.depth} × ${formatCount(c.key.codebookSize)}, ${formatBits(c.key.bitsPerValue)}/${formatBits(c.value.bitsPerValue)} bits per key/value, from ${describeSource(c.source)}`;
}
