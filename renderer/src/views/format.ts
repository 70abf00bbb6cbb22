// Number formatting for the views (en-US grouping, binary byte units).
import type { ChatFigures } from '../../../main/api/types.js';

const whole = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

export const formatCount = (n: number) => whole.format(n);

const upToHundredths = new Intl.NumberFormat('en-US', { maximumFractionDigits: 2 });

/** A percentage someone typed, as read back to them: 75.74939 -> "75.75%", 10 -> "10%". */
export const formatPercent = (percent: number) => `${upToHundredths.format(percent)}%`;

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${whole.format(value)} B` : `${value.toFixed(2)} ${units[unit]}`;
}

/** n to `digits` decimals, or a dash where there is no figure yet (NaN). */
export const formatFixed = (n: number, digits: number) => (Number.isFinite(n) ? n.toFixed(digits) : '—');

/**
 * A conversation's memory figures as Chat and the Report print them. The numbers are the backend's
 * (quant's kvFigures of the held bytes); this is the one place they are formatted.
 */
export function memoryCells(f: Pick<ChatFigures, 'kv' | 'bytesPerToken' | 'bitsPerValue' | 'compressionRatio' | 'compressionWithCodebooks'>) {
  return {
    held: formatBytes(f.kv.held),
    fp16: formatBytes(f.kv.fp16),
    bytesPerToken: `${formatFixed(f.bytesPerToken, 1)} B`,
    bitsPerValue: formatFixed(f.bitsPerValue, 3),
    compression: `${formatFixed(f.compressionRatio, 2)}x`,
    compressionWithCodebooks: `${formatFixed(f.compressionWithCodebooks, 2)}x`,
  };
}
