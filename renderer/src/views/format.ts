// Number formatting for the views (en-US grouping, binary byte units).
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
