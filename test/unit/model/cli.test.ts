// reskv import / models / inspect as a user runs them.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { CliUsageError } from '../../../main/cli/command.js';
import { importCommand } from '../../../main/cli/import.js';
import { inspectCommand } from '../../../main/cli/inspect.js';
import { modelsCommand } from '../../../main/cli/models.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { modelConfigFromHf } from '../../../main/model/hf-config.js';
import type { ModelManifest } from '../../../main/model/manifest.js';
import { writeManifest } from '../../../main/model/manifest.js';
import { tinyModels } from './tiny-models.js';

const dir = mkdtempSync(join(tmpdir(), 'reskv-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => vi.restoreAllMocks());

function captured(): { out: () => string; err: () => string } {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  return { out: () => log.mock.calls.map((c) => c.join(' ')).join('\n'), err: () => err.mock.calls.map((c) => String(c[0])).join('') };
}

describe('reskv import / models / inspect', () => {
  const config = tinyModels['llama3 (GQA 2, theta 500000, llama3 scaling, untied)'];
  const source = join(dir, 'tiny-llama3');
  writeHfFolder(source, config, new RandomWeights(config, 2));
  const library = join(dir, 'library');

  it('imports with progress on stderr, then lists and inspects the model', async () => {
    let io = captured();
    expect(await importCommand.run([source, '--library', library, '--weights', 'float16'])).toBe(0);
    expect(io.out()).toMatch(/^imported tiny-llama3 \(llama, 0\.03M parameters, float16 weights: 0\.1 MB on disk, ~0\.1 MB in memory\) in /);
    expect(io.err()).toMatch(/converting weights: .* \(100%\)/);
    vi.restoreAllMocks();

    io = captured();
    expect(await modelsCommand.run(['--library', library])).toBe(0);
    expect(io.out()).toMatch(/tiny-llama3\s+llama\s+0\.03M\s+float16/);
    vi.restoreAllMocks();

    io = captured();
    expect(await inspectCommand.run([source])).toBe(0);
    expect(io.out()).toContain('Hugging Face folder');
    expect(io.out()).toContain('heads / KV heads  4 / 2 (head dim 8)');
    expect(io.out()).toContain('RoPE              theta 500000, half, llama3 scaling x8');
    expect(io.out()).toContain(`KV cache fp16     ${2 * 2 * 2 * 8 * 2} bytes/token`);
    expect(io.out()).toMatch(/as float32 \(default\)\s+0\.1 MiB on disk, 0\.1 MiB in memory/);
    expect(io.out()).toMatch(/as int4 +\d+\.\d MiB on disk, \d+\.\d MiB in memory/);
    vi.restoreAllMocks();

    io = captured();
    expect(await inspectCommand.run([join(library, 'tiny-llama3'), '--json'])).toBe(0);
    expect(JSON.parse(io.out())).toMatchObject({ format: 'ResKV library model', kvBytesPerTokenFp16: 128, config: { numKvHeads: 2 } });
  });

  it('inspects a library model: Llama 3.1 8B geometry is 131,072 fp16 and 23,552 RVQ bytes per token', async () => {
    const folder = join(dir, 'llama31-manifest-only');
    mkdirSync(folder);
    const manifest: ModelManifest = {
      format: 'reskv-model/1', id: 'llama31', source: { format: 'huggingface', path: '/nowhere' }, importedAt: new Date().toISOString(),
      config: modelConfigFromHf({ model_type: 'llama', hidden_size: 4096, intermediate_size: 14336, num_attention_heads: 32, num_hidden_layers: 32, num_key_value_heads: 8, vocab_size: 128256, rope_theta: 500000 }),
      parameterCount: 1, weightType: 'float16', weightsFile: 'weights.bin', weightsBytes: 0, weightsTable: {}, graphs: { fp: 'fp.onnx', fpHalfCache: 'fp-kv16.onnx', capture: 'capture.onnx' },
      rvq: {}, tokenizer: { format: 'huggingface', files: [] }, bosId: null, eosIds: [],
    };
    writeManifest(folder, manifest);
    const io = captured();
    expect(await inspectCommand.run([folder])).toBe(0);
    expect(io.out()).toContain('KV cache fp16     131,072 bytes/token');
    expect(io.out()).toContain('KV cache RVQ      23,552 bytes/token');
  });

  it('turns bad arguments into usage errors', async () => {
    await expect(importCommand.run([])).rejects.toThrow(CliUsageError);
    await expect(importCommand.run([source, '--weights', 'int3'])).rejects.toThrow("--weights must be one of int4, int8, fp16, fp32, got 'int3'");
    await expect(importCommand.run([source, '--frobnicate'])).rejects.toThrow(CliUsageError);
    await expect(modelsCommand.run(['extra'])).rejects.toThrow(CliUsageError);
    await expect(inspectCommand.run([join(dir, 'nothing-here')])).rejects.toThrow('nothing-here: no such file or folder');
  });

  it('says so when the library is empty', async () => {
    const io = captured();
    expect(await modelsCommand.run(['--library', join(dir, 'empty')])).toBe(0);
    expect(io.out()).toMatch(/^no models in .*empty/);
  });
});
