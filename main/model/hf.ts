// Reader for Hugging Face model folders: config.json plus model.safetensors or a sharded
// model.safetensors.index.json. Headers are parsed and every tensor's name, shape and byte range
// checked against the config up front; tensor data are read (and converted to float32) on demand.
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import type { SafetensorInfo } from '../../quant/index.js';
import { dtypeByteSize, parseSafetensorsHeader, safetensorToFloat32, safetensorsHeaderLength } from '../../quant/index.js';
import type { ModelConfig } from './config.js';
import { expectedWeightShapes } from './config.js';
import { modelConfigFromHf } from './hf-config.js';
import type { LoadedCheckpoint, WeightSource } from './weights.js';
import { readExactly } from './read-exactly.js';

export const singleFileName = 'model.safetensors';
export const shardIndexName = 'model.safetensors.index.json';

const shardIndexSchema = z.object({ weight_map: z.record(z.string(), z.string()) });

/** Non-weight buffers some exports carry; they are recomputed from the config. */
const ignoredTensor = /(^|\.)rotary_emb\.inv_freq$/;
const embeddingName = 'model.embed_tokens.weight';
const classifierName = 'lm_head.weight';

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
function readBytes(fd: number, file: string, length: number, position: number): Uint8Array {
  const out = new Uint8Array(length);
  readExactly(fd, out, position, (at) => `${file}: unexpected end of file at byte ${at}`);
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
    const data = readBytes(at.fd, at.file, count * rowBytes, at.dataStart + at.info.dataOffsets[0] + start * rowBytes);
    return safetensorToFloat32({ dtype: at.info.dtype, shape: [count, ...rest], data });
  }

  close(): void {
    for (const fd of this.fds) closeSync(fd);
  }
}

/** Opens a Hugging Face folder; throws naming the file and the problem on anything inconsistent. */
export function readHfCheckpoint(folder: string): LoadedCheckpoint {
  let config = readHfConfig(folder);
  const expected = expectedWeightShapes(config);
  const files = shardFiles(folder);
  const fds: number[] = [];
  const found = new Map<string, TensorLocation>();
  // safetensors metadata {missing name: stored name}: transformers saves a shared (tied) tensor once
  // and records the other name this way
  const aliases = new Map<string, string>();
  // every named shard is checked before any is read, so a missing one is reported as missing
  // rather than as its tensors' absence from the others
  for (const [file, claimed] of files) {
    if (!existsSync(join(folder, file))) throw new Error(`${file}: missing (named by ${claimed ? shardIndexName : 'the folder layout'})`);
  }
  try {
    for (const [file, claimed] of files) {
      const fd = openSync(join(folder, file), 'r');
      fds.push(fd);
      const size = fstatSync(fd).size;
      let header;
      try {
        const headerLength = safetensorsHeaderLength(readBytes(fd, file, Math.min(8, size), 0));
        header = parseSafetensorsHeader(readBytes(fd, file, Math.min(8 + headerLength, size), 0), size);
      } catch (e) {
        throw new Error(`${file}: ${(e as Error).message}`, { cause: e });
      }
      for (const [name, target] of Object.entries(header.metadata)) if (expected.has(name)) aliases.set(name, target);
      for (const [name, info] of Object.entries(header.tensors)) {
        if (ignoredTensor.test(name)) continue;
        if (claimed && !claimed.has(name)) throw new Error(`${file}: holds tensor ${name}, which ${shardIndexName} places elsewhere or not at all`);
        // a tied model may store its embedding as the classifier (or carry both)
        if (!expected.has(name) && !(config.tiedEmbeddings && name === classifierName)) throw new Error(`${file}: unexpected tensor ${name} for a ${config.architecture} model with this config`);
        if (!['F32', 'F16', 'BF16'].includes(info.dtype)) throw new Error(`${file}: tensor ${name} has dtype ${info.dtype}; expected F32, F16 or BF16`);
        if (found.has(name)) throw new Error(`${file}: tensor ${name} also appears in ${found.get(name)!.file}`);
        found.set(name, { file, fd, dataStart: header.dataStart, info });
      }
      for (const name of claimed ?? []) {
        if (!(name in header.tensors)) throw new Error(`${file}: lacks tensor ${name}, which ${shardIndexName} places there`);
      }
    }
    const locations = new Map<string, TensorLocation>();
    const missing: string[] = [];
    for (const [name, shape] of expected) {
      const stored = storedName(name, found, aliases, config.tiedEmbeddings);
      const at = stored === undefined ? undefined : found.get(stored);
      if (!at) {
        missing.push(name + (stored === undefined ? '' : ` (the metadata's alias ${stored} names no tensor)`));
        continue;
      }
      checkShape(at, stored!, name, shape);
      locations.set(name, at);
    }
    if (missing.length > 0) {
      const hint = missing.includes(classifierName) && missing.length === 1 ? ' (config.json says tie_word_embeddings = false)' : '';
      throw new Error(`${[...files.keys()].join(', ')}: missing tensor${missing.length > 1 ? 's' : ''} ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}${hint}`);
    }
    // an untied config whose classifier is an alias of the embedding is tied in fact: store it once
    if (!config.tiedEmbeddings && locations.get(classifierName) === locations.get(embeddingName)) {
      config = { ...config, tiedEmbeddings: true };
      locations.delete(classifierName);
    }
    return { config, weights: new SafetensorsWeights(config, locations, fds) };
  } catch (e) {
    for (const fd of fds) closeSync(fd);
    throw e;
  }
}

/** Which stored tensor holds `name`: itself, the metadata's alias, or (tied) the classifier. */
function storedName(name: string, found: ReadonlyMap<string, TensorLocation>, aliases: ReadonlyMap<string, string>, tied: boolean): string | undefined {
  if (found.has(name)) return name;
  if (aliases.has(name)) return aliases.get(name);
  // transformers ties the two whether or not the file records the alias
  if (tied && name === embeddingName && found.has(classifierName)) return classifierName;
  return undefined;
}

/** config.json fields that set each dimension of a weight tensor, by the tensor's name. */
function dimensionFields(name: string): string[] {
  const q = 'num_attention_heads x head_dim';
  const kv = 'num_key_value_heads x head_dim';
  const rules: [RegExp, string[]][] = [
    [/(embed_tokens|lm_head)\.weight$/, ['vocab_size', 'hidden_size']],
    [/norm\.weight$/, ['hidden_size']],
    [/q_proj\.weight$/, [q, 'hidden_size']],
    [/[kv]_proj\.weight$/, [kv, 'hidden_size']],
    [/q_proj\.bias$/, [q]],
    [/[kv]_proj\.bias$/, [kv]],
    [/o_proj\.weight$/, ['hidden_size', q]],
    [/(gate|up)_proj\.weight$/, ['intermediate_size', 'hidden_size']],
    [/down_proj\.weight$/, ['hidden_size', 'intermediate_size']],
  ];
  return rules.find(([pattern]) => pattern.test(name))?.[1] ?? [];
}

function checkShape(at: TensorLocation, stored: string, name: string, shape: readonly number[]): void {
  const actual = at.info.shape;
  if (shape.length === actual.length && shape.every((d, i) => d === actual[i])) return;
  const as = stored === name ? `tensor ${name}` : `tensor ${stored} (as ${name})`;
  const dim = shape.length === actual.length ? shape.findIndex((d, i) => d !== actual[i]) : -1;
  const field = dim >= 0 ? dimensionFields(name)[dim] : undefined;
  const blame = field ? ` (dimension ${dim} is config.json's ${field})` : '';
  throw new Error(`${at.file}: ${as} has shape [${actual}], config.json implies [${shape}]${blame}`);
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
