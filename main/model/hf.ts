// Reader for Hugging Face model folders: config.json plus model.safetensors or a sharded
// model.safetensors.index.json. Headers are parsed and every tensor's name, shape and byte range
// checked against the config up front; tensor data are read (and converted to float32) on demand.
import { closeSync, existsSync, fstatSync, openSync, readFileSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { SafetensorInfo } from '../../quant/index.js';
import { dtypeByteSize, parseSafetensorsHeader, safetensorToFloat32, safetensorsHeaderLength } from '../../quant/index.js';
import type { ModelConfig } from './config.js';
import { expectedWeightShapes } from './config.js';
import { modelConfigFromHf } from './hf-config.js';
import type { LoadedCheckpoint, WeightSource } from './weights.js';

export const singleFileName = 'model.safetensors';
export const shardIndexName = 'model.safetensors.index.json';

const shardIndexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

/** Non-weight buffers some exports carry; they are recomputed from the config. */
const ignoredTensor = /(^|\.)rotary_emb\.inv_freq$/;

interface TensorLocation {
  file: string;
  fd: number;
  dataStart: number;
  info: SafetensorInfo;
}

export function readJsonFile(path: string, file: string): unknown {
  if (!existsSync(path)) throw new Error(`${file}: missing`);
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message})`, { cause: e });
  }
}

export function readHfConfig(folder: string): ModelConfig {
  return modelConfigFromHf(readJsonFile(join(folder, 'config.json'), 'config.json'));
}

/** Reads exactly `length` bytes at `position` or throws naming the file. */
function readExactly(fd: number, file: string, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length);
  let done = 0;
  while (done < length) {
    const n = readSync(fd, out, done, length - done, position + done);
    if (n === 0) throw new Error(`${file}: unexpected end of file at byte ${position + done}`);
    done += n;
  }
  return out;
}

class SafetensorsWeights implements WeightSource {
  readonly shapes: Map<string, number[]>;

  constructor(
    config: ModelConfig,
    private readonly locations: Map<string, TensorLocation>,
    private readonly fds: number[],
  ) {
    this.shapes = expectedWeightShapes(config);
  }

  read(name: string): Float32Array {
    return this.readRows(name, 0, this.shapes.get(name)?.[0] ?? 0);
  }

  readRows(name: string, start: number, count: number): Float32Array {
    const at = this.locations.get(name);
    if (!at) throw new Error(`unknown weight tensor ${name}`);
    const [rows, ...rest] = at.info.shape;
    if (start < 0 || count < 0 || start + count > rows) throw new Error(`${name}: rows ${start}..${start + count} outside its ${rows}`);
    const rowBytes = rest.reduce((a, b) => a * b, 1) * dtypeByteSize(at.info.dtype);
    const data = readExactly(at.fd, at.file, count * rowBytes, at.dataStart + at.info.dataOffsets[0] + start * rowBytes);
    return safetensorToFloat32({ dtype: at.info.dtype, shape: [count, ...rest], data });
  }

  close(): void {
    for (const fd of this.fds) closeSync(fd);
  }
}

/** Opens a Hugging Face folder; throws naming the file and the problem on anything inconsistent. */
export function readHfCheckpoint(folder: string): LoadedCheckpoint {
  const config = readHfConfig(folder);
  const expected = expectedWeightShapes(config);
  const files = shardFiles(folder);
  const fds: number[] = [];
  const locations = new Map<string, TensorLocation>();
  try {
    for (const [file, claimed] of files) {
      const path = join(folder, file);
      if (!existsSync(path)) throw new Error(`${file}: missing (named by ${claimed ? shardIndexName : 'the folder layout'})`);
      const fd = openSync(path, 'r');
      fds.push(fd);
      const size = fstatSync(fd).size;
      let header;
      try {
        const headerLength = safetensorsHeaderLength(readExactly(fd, file, Math.min(8, size), 0));
        header = parseSafetensorsHeader(readExactly(fd, file, Math.min(8 + headerLength, size), 0), size);
      } catch (e) {
        throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
      }
      for (const [name, info] of Object.entries(header.tensors)) {
        // a tied model may still carry a copy of the classifier; tying means the embedding is used
        if (ignoredTensor.test(name) || (config.tiedEmbeddings && name === 'lm_head.weight')) continue;
        if (claimed && !claimed.has(name)) throw new Error(`${file}: holds tensor ${name}, which ${shardIndexName} places elsewhere or not at all`);
        const shape = expected.get(name);
        if (!shape) throw new Error(`${file}: unexpected tensor ${name} for a ${config.architecture} model with this config`);
        if (shape.length !== info.shape.length || shape.some((d, i) => d !== info.shape[i])) {
          throw new Error(`${file}: tensor ${name} has shape [${info.shape}], config.json implies [${shape}]`);
        }
        if (!['F32', 'F16', 'BF16'].includes(info.dtype)) throw new Error(`${file}: tensor ${name} has dtype ${info.dtype}; expected F32, F16 or BF16`);
        if (locations.has(name)) throw new Error(`${file}: tensor ${name} also appears in ${locations.get(name)!.file}`);
        locations.set(name, { file, fd, dataStart: header.dataStart, info });
      }
      for (const name of claimed ?? []) {
        if (!(name in header.tensors)) throw new Error(`${file}: lacks tensor ${name}, which ${shardIndexName} places there`);
      }
    }
    const missing = [...expected.keys()].filter((n) => !locations.has(n));
    if (missing.length > 0) {
      const hint = missing.includes('lm_head.weight') && missing.length === 1 ? ' (config.json says tie_word_embeddings = false)' : '';
      throw new Error(`${[...files.keys()].join(', ')}: missing tensor${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}${hint}`);
    }
  } catch (e) {
    for (const fd of fds) closeSync(fd);
    throw e;
  }
  return { config, weights: new SafetensorsWeights(config, locations, fds) };
}

/** The safetensors files to read, each with the tensor names the index assigns to it (if sharded). */
function shardFiles(folder: string): Map<string, Set<string> | null> {
  if (existsSync(join(folder, shardIndexName))) {
    const parsed = shardIndexSchema.safeParse(readJsonFile(join(folder, shardIndexName), shardIndexName));
    if (!parsed.success) throw new Error(`${shardIndexName}: expected {"weight_map": {tensor: file}} (${parsed.error.issues[0].message})`);
    const files = new Map<string, Set<string>>();
    for (const [name, file] of Object.entries(parsed.data.weight_map)) {
      if (file.includes('/') || file.includes('\\')) throw new Error(`${shardIndexName}: shard name ${file} must be a file in the model folder`);
      if (!files.has(file)) files.set(file, new Set());
      files.get(file)!.add(name);
    }
    return files;
  }
  if (existsSync(join(folder, singleFileName))) return new Map([[singleFileName, null]]);
  throw new Error(`${folder}: no ${singleFileName} or ${shardIndexName} (only safetensors checkpoints are supported)`);
}
