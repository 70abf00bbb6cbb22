// The estimate as a table, one column per KV format: structured (costReport, for the app and the
// PoC report) and as plain text (formatCostTable, for the CLI).
import type { CostEstimate } from './estimate.js';
import type { FormatEstimate, FormatPlanEstimate } from './format-estimate.js';

const en = (digits: number) => new Intl.NumberFormat('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
const whole = en(0);

export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${whole.format(value)} B` : `${value.toFixed(2)} ${units[unit]}`;
}

function usd(value: number): string {
  return Math.abs(value) >= 100 ? `$${whole.format(value)}` : `$${value.toFixed(2)}`;
}

function significant(value: number): string {
  return value >= 100 ? whole.format(value) : en(value >= 10 ? 1 : 2).format(value);
}

type Row = [label: string, cell: (plan: FormatPlanEstimate, format: FormatEstimate) => string];

/** The estimate laid out for people: header lines, one column per KV format, and the notes. */
export interface CostReport {
  header: string[];
  columns: string[];
  rows: Array<{ label: string; cells: string[] }>;
  notes: string[];
}

const PROJECTED = 'decode tokens/s per user, with a fused RVQ attention kernel (projection)';
const MEASURED = 'decode tokens/s per user, as measured by ResKV on this machine';

/** Both decode speeds, labelled; the one the user leads with first (measured unless they pick the projection). */
function decodeRows(headline: CostEstimate['decodeHeadline']): Row[] {
  const projected: Row = [PROJECTED, (p) => significant(p.throughput.decodePerUser.value)];
  const measured: Row = [MEASURED, (p) => (p.throughput.decodePerUserMeasured ? significant(p.throughput.decodePerUserMeasured.value) : 'not measured')];
  return headline === 'measured' ? [measured, projected] : [projected, measured];
}

export function costReport(e: CostEstimate): CostReport {
  const users = whole.format(e.workload.users.value);
  const context = whole.format(e.workload.context.value);
  const assumedMark = (q: { note?: string }) => (q.note?.startsWith('assumed') ? ' (assumed)' : '');
  const header = [
    `${e.model.name}${e.model.source ? ` (${e.model.source})` : ''}: ${whole.format(e.model.parameters.value)} parameters, ` +
      `weights ${e.model.weightPrecision} = ${formatBytes(e.model.weightBytes.value)}`,
    `${e.hardware.name}: ${formatBytes(e.hardware.memoryPerGpu.value)}, ${whole.format(e.hardware.memoryBandwidth.value / 1e9)} GB/s, ` +
      `${significant(e.hardware.fp16DenseCompute.value / 1e12)} dense FP16 TFLOPS, ${e.hardware.boardPower.value} W; ` +
      `${formatBytes(e.hardware.usableMemoryPerGpu.value)} usable per GPU after a ${formatBytes(e.hardware.runtimeReservePerGpu.value)} runtime reserve`,
    `workload: ${users} conversations x ${context} tokens; prompt ${whole.format(e.workload.promptTokens.value)}${assumedMark(e.workload.promptTokens)}, ` +
      `answer ${whole.format(e.workload.answerTokens.value)}${assumedMark(e.workload.answerTokens)} tokens; ` +
      `target ${significant(e.workload.targetDecodeSpeedPerUser.value)} tokens/s per user${assumedMark(e.workload.targetDecodeSpeedPerUser)}` +
      (e.workload.demand ? `; ${whole.format(e.workload.demand.value)} requests/day` : ''),
    `efficiency: decode ${e.efficiency.decode.value} of peak bandwidth (${e.efficiency.decode.source}), ` +
      `compute ${e.efficiency.compute.value} of peak FLOP/s (${e.efficiency.compute.source})`,
  ];

  const kvRows: Array<[string, (f: FormatEstimate) => string]> = [
    ['KV bytes per token', (f) => whole.format(f.kv.bytesPerToken.value)],
    ['bits per value', (f) => en(3).format(f.kv.bitsPerValue.value)],
    ['compression vs fp16', (f) => `${f.kv.compressionVsFp16.value.toFixed(2)}x`],
    [`KV per conversation (${context} tokens)`, (f) => formatBytes(f.kv.bytesPerConversation.value)],
    ['codebooks per GPU', (f) => formatBytes(f.kv.codebooksPerGpu.value)],
  ];
  const planRows: Row[] = [
    ['GPUs per replica (tensor parallel)', (p) => whole.format(p.tensorParallel.value)],
    ['KV token budget per replica', (p) => whole.format(p.memory.kvTokenBudgetPerReplica.value)],
    [`max conversations at ${context} tokens`, (p) => whole.format(p.memory.maxConversationsAtContext.value)],
    [`max context at ${users} conversations`, (p) => whole.format(p.memory.maxContextAtUsers.value)],
    ['KV share of GPU memory at load', (p) => `${p.memory.kvShareOfGpuMemory.value.toFixed(1)}%`],
    ['GPUs, memory-bound', (p) => whole.format(p.gpus.memoryBound.value)],
    ['GPUs, throughput-bound', (p) => whole.format(p.gpus.throughputBound.value)],
    ['GPUs needed', (p) => `${p.gpus.needed.value} (${p.gpus.decidedBy})`],
    ...decodeRows(e.decodeHeadline),
    ['decode bound by', (p) => p.throughput.decodeBoundBy],
    ['decode tokens/s, all users', (p) => whole.format(p.throughput.decodeTotal.value)],
    ['prefill tokens/s per replica', (p) => whole.format(p.throughput.prefillPerReplica.value)],
    ['time to first token', (p) => `${p.throughput.timeToFirstToken.value.toFixed(3)} s`],
    ['requests/day capacity', (p) => whole.format(p.throughput.requestsPerDayCapacity.value)],
    [`monthly cost (${e.pricing === 'own' ? 'owned' : 'cloud'})`, (p) => usd(p.money.monthly.value)],
    ['$ per 1M generated tokens', (p) => usd(p.money.perMillionGeneratedTokens.value)],
    ['savings vs fp16 per month', (p) => (p.money.savingsVsFp16 ? `${usd(p.money.savingsVsFp16.value)} (${p.money.savingsVsFp16Percent!.value.toFixed(0)}%)` : 'n/a')],
  ];

  const rows: CostReport['rows'] = [];
  for (const [label, cell] of kvRows) rows.push({ label, cells: e.formats.map(cell) });
  for (const [label, cell] of planRows) rows.push({ label, cells: e.formats.map((f) => (f.plan.feasible ? cell(f.plan, f) : 'does not fit')) });
  const measured = e.formats.find((f) => f.measuredQuality)?.measuredQuality;
  if (measured) {
    rows.push({
      label: measured.carriedFrom ? `perplexity change measured on ${measured.carriedFrom} (carried over, not this model)` : 'measured perplexity change',
      cells: e.formats.map((f) => (f.measuredQuality?.perplexityDeltaPercent === undefined ? '-' : `${f.measuredQuality.perplexityDeltaPercent.toFixed(2)}%`)),
    });
  }

  const notes = [
    `monthly cost per GPU ${usd(e.hardware.monthlyCostPerGpu.value)}: ${e.hardware.monthlyCostPerGpu.note}`,
    ...e.notes,
    ...e.formats.flatMap((f) => (f.plan.feasible ? [] : [`${f.label}: ${f.plan.problem}`])),
    ...e.formats.flatMap((f) => [f.kv.bitsPerValue.note, f.kv.codebooksPerGpu.note].filter((n): n is string => n !== undefined).map((n) => `${f.label}: ${n}`)),
  ];
  return { header, columns: e.formats.map((f) => f.label), rows, notes: [...new Set(notes)] };
}

export function formatCostTable(e: CostEstimate): string {
  const report = costReport(e);
  const lines = [['', ...report.columns], ...report.rows.map((r) => [r.label, ...r.cells])];
  const widths = lines[0].map((_, c) => Math.max(...lines.map((r) => r[c].length)));
  const table = lines.map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ').trimEnd());
  return [...report.header, '', e.recommendation.sentence, '', ...table, '', 'notes:', ...report.notes.map((n) => `  - ${n}`)].join('\n');
}
