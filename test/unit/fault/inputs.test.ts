// Issue 17 findings 5 and 6: sizes from a llama2.c header are bounded before anything is allocated,
// and files that are not regular (a FIFO, a device) are refused before any read.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openCheckpoint } from '../../../main/model/checkpoint.js';
import { importModel } from '../../../main/library/import-model.js';
import { readLlama2cCheckpoint } from '../../../main/model/llama2c.js';

const dir = mkdtempSync(join(tmpdir(), 'reskv-fault-inputs-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('llama2.c header sizes', () => {
  it('a 1 MB file claiming 2^20 layers fails at once, naming the file and the field', () => {
    const path = join(dir, 'huge-layers.bin');
    const bytes = Buffer.alloc(1 << 20);
    Buffer.from(new Int32Array([64, 172, 1 << 20, 8, 4, 512, 512]).buffer).copy(bytes);
    writeFileSync(path, bytes);
    const heapBefore = process.memoryUsage().heapUsed;
    const started = performance.now();
    expect(() => readLlama2cCheckpoint(path)).toThrow(/huge-layers\.bin: truncated: 1048576 bytes, the header implies \d+ \(header n_layers = 1048576 accounts for most of it/);
    // before the fix this built 9 Mi spans (seconds, gigabytes); the check is arithmetic only
    expect(performance.now() - started).toBeLessThan(250);
    expect(process.memoryUsage().heapUsed - heapBefore).toBeLessThan(64 << 20);
  });

  it('names the vocabulary when it is the field that does not fit', () => {
    const path = join(dir, 'huge-vocab.bin');
    const bytes = Buffer.alloc(4096);
    Buffer.from(new Int32Array([64, 172, 2, 8, 4, 1 << 22, 64]).buffer).copy(bytes);
    writeFileSync(path, bytes);
    expect(() => readLlama2cCheckpoint(path)).toThrow(/huge-vocab\.bin: truncated: 4096 bytes, .*header vocab_size = 4194304/);
  });
});

describe.skipIf(process.platform === 'win32')('non-regular files', () => {
  const fifo = join(dir, 'pipe.bin');
  execFileSync('mkfifo', [fifo]);

  it('a FIFO is refused by name before any read (a read would block forever)', () => {
    expect(() => openCheckpoint(fifo)).toThrow(/pipe\.bin: not a regular checkpoint file \(a named pipe \(FIFO\)\)/);
    expect(() => importModel(fifo, { library: join(dir, 'library') })).toThrow(/pipe\.bin: not a regular checkpoint file/);
  });

  it('a device is refused', () => {
    expect(() => openCheckpoint('/dev/zero')).toThrow(/\/dev\/zero: not a regular checkpoint file \(a device\)/);
  });

  it('a FIFO inside a Hugging Face folder is refused by name', () => {
    const folder = join(dir, 'hf');
    execFileSync('mkdir', ['-p', folder]);
    writeFileSync(join(folder, 'config.json'), '{}');
    execFileSync('mkfifo', [join(folder, 'model.safetensors')]);
    expect(() => openCheckpoint(folder)).toThrow(/model\.safetensors: not a regular file \(a named pipe \(FIFO\)\)/);
  });
});
