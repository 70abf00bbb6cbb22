// `reskv cost`: the table for the issue's case, JSON output, models from paths, and bad arguments
// answered with a message naming the option and exit code 2.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { CliUsageError } from '../../../main/cli/command.js';
import { costCommand } from '../../../main/cli/cost.js';
import type { CostEstimate } from '../../../main/cost/estimate.js';

const repoRoot = join(import.meta.dirname, '..', '..', '..');
const issueCase = ['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', '32', '--context', '8192', '--kv', 'fp16', '--kv', 'q4_0', '--kv', 'rvq:4', '--kv', 'rvq:8'];

async function runCost(args: string[]): Promise<{ code: number; out: string }> {
  const lines: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => {
    lines.push(parts.join(' '));
  });
  try {
    const code = await costCommand.run(args);
    return { code, out: lines.join('\n') };
  } finally {
    log.mockRestore();
  }
}

describe('reskv cost (in process)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'reskv-cost-cli-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  afterEach(() => vi.restoreAllMocks());

  it('prints one column per KV format with the hand-computed bytes', async () => {
    const { code, out } = await runCost(issueCase);
    expect(code).toBe(0);
    const header = out.split('\n').find((l) => l.trim().startsWith('fp16'))!;
    expect(header.trim().split(/\s+/)).toEqual(['fp16', 'q4_0', 'rvq:4', 'rvq:8']);
    const row = (label: string) => out.split('\n').find((l) => l.startsWith(label))!.slice(label.length).trim().split(/\s{2,}/);
    expect(row('KV bytes per token')).toEqual(['131,072', '36,864', '12,352', '23,616']);
    expect(row('bits per value')).toEqual(['16', '4.5', '1.508', '2.883']);
    expect(row('compression vs fp16')).toEqual(['1.00x', '3.56x', '10.61x', '5.55x']);
    expect(row('GPUs needed')).toEqual(['2 (memory)', '1 (memory)', '1 (memory)', '1 (memory)']);
    expect(out).toMatch(/notes:\n/);
    expect(out).toMatch(/approximate price/);
  });

  it('leads with the headline: with no quality measured on the command line, fp16 and what the others would save', async () => {
    const { out } = await runCost([...issueCase, '--acceptable-loss', '5']);
    expect(out).toContain('\nRecommended: fp16, 2 GPUs, $502/month: no format that needs fewer GPUs is known to stay within the acceptable 5%.');
    expect(out).toContain('q4_0 would need 1 GPU ($251/month), but its quality was not measured on this model');
  });

  it('prints the whole estimate as JSON', async () => {
    const { out } = await runCost([...issueCase, '--json', '--weights', 'int8', '--pricing', 'cloud']);
    const estimate = JSON.parse(out) as CostEstimate;
    // int8 blocks of 128 (128 + 4 B scale) over the 6,979,321,856 linear values, then the lm_head, fp16 embedding and norms
    expect(estimate.model.weightBytes.value).toBe(7_197_425_664 + 541_753_344 + 1_050_673_152 + 532_480);
    expect(estimate.formats.map((f) => f.label)).toEqual(['fp16', 'q4_0', 'rvq:4', 'rvq:8']);
    expect(estimate.hardware.monthlyCostPerGpu.value).toBeCloseTo(730, 9);
  });

  it('reads a Hugging Face config.json given as --model', async () => {
    const config = {
      model_type: 'llama', hidden_size: 576, intermediate_size: 1536, num_hidden_layers: 30, num_attention_heads: 9, num_key_value_heads: 3,
      vocab_size: 49152, max_position_embeddings: 8192, rms_norm_eps: 1e-5, rope_theta: 100000, tie_word_embeddings: true, hidden_act: 'silu',
    };
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config));
    const { out } = await runCost(['--model', dir, '--gpu', 'rtx-3090', '--users', '4', '--context', '8192', '--kv', 'rvq:8', '--json']);
    const estimate = JSON.parse(out) as CostEstimate;
    expect(estimate.model.parameters.value).toBe(134_515_008);
    expect(estimate.formats[0].kv.bytesPerToken.value).toBe(2 * 30 * (Math.ceil((6 * 8 * 11) / 8) + 6 + 1)); // codes + 3 fp16 scales + the depth byte
  });

  it('lists presets and hardware, including the user\'s entries', async () => {
    writeFileSync(
      join(dir, 'hardware-user.json'),
      JSON.stringify({
        format: 'reskv-hardware-catalog/1',
        entries: [{ id: 'lab-box', name: 'Lab box', vendor: 'NVIDIA', memory: { value: 24, unit: 'GiB' }, memoryBandwidth: { value: 900, unit: 'GB/s' }, fp16DenseTflops: 70, boardPowerW: 300, specSource: 'ours', purchase: null, cloud: null }],
      }),
    );
    const { out } = await runCost(['--list', '--hardware-dir', dir]);
    expect(out).toMatch(/llama-3-8b\s+8\.03B parameters, 8192 tokens max/);
    expect(out).toMatch(/lab-box\s+Lab box: .*\[yours\]/);
    await expect(runCost(['--model', 'llama-3-8b', '--gpu', 'lab-box', '--hardware-dir', dir, '--users', '1', '--context', '1024', '--kv', 'fp16'])).rejects.toThrow(
      /--purchase-usd: the catalog has no purchase price for lab-box/,
    );
  });

  it.each([
    [['--gpu', 'l40s', '--users', '1', '--context', '8', '--kv', 'fp16'], /missing --model/],
    [['--model', 'gpt-5', '--gpu', 'l40s', '--users', '1', '--context', '8', '--kv', 'fp16'], /--model: 'gpt-5' is not a preset/],
    [['--model', 'llama-3-8b', '--gpu', 'tpu-v5', '--users', '1', '--context', '8', '--kv', 'fp16'], /--gpu: unknown id 'tpu-v5'/],
    [['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', '1', '--context', '9000', '--kv', 'fp16'], /--context: 9000 tokens is beyond Llama-3-8B's limit of 8192/],
    [['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', 'many', '--context', '8', '--kv', 'fp16'], /--users must be a number, got 'many'/],
    [['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', '1', '--context', '8', '--kv', 'fp16', '--tp', '0'], /--tp: must be at least 1/],
    [['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', '1', '--context', '8', '--kv', 'fp16', '--purchase-usd=-5'], /--purchase-usd: must not be negative/],
    [['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', '1', '--context', '8', '--kv', 'rvq:8:1000'], /--kv #1: .*codebookSize: must be a power of two/],
    [['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', '1', '--context', '8', '--kv', 'q3_k'], /--kv: unknown KV format 'q3_k'/],
    [['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', '1', '--context', '8', '--kv', 'fp16', '--weights', 'fp8'], /--weights: /],
    [['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', '1', '--context', '8', '--kv', 'fp16', '--turbo'], /Unknown option '--turbo'/],
  ])('rejects %j', async (args, message) => {
    const error = await runCost(args).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CliUsageError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('reskv cost (as a process)', () => {
  const reskv = (args: string[]) => spawnSync(process.execPath, [join(repoRoot, 'bin', 'reskv.js'), 'cost', ...args], { cwd: repoRoot, encoding: 'utf8' });

  it('exits 0 with the table', () => {
    const result = reskv(issueCase);
    expect(result.stderr).toBe('');
    expect(result.status).toBe(0);
    expect(result.stdout).toMatch(/KV bytes per token\s+131,072\s+36,864\s+12,352\s+23,616/);
  });

  it('exits 2 with a message naming the option for bad arguments', () => {
    const result = reskv(['--model', 'llama-3-8b', '--gpu', 'l40s', '--users', '0', '--context', '8192', '--kv', 'fp16']);
    expect(result.status).toBe(2);
    expect(result.stderr).toMatch(/^reskv cost: --users: must be at least 1/);
  });
});
