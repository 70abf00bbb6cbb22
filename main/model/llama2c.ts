// Reader for llama2.c checkpoints (Karpathy's run.c format, version 0): a header of seven int32
// (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, seq_len; negative vocab_size means
// an untied classifier follows), then float32 arrays in a fixed order, matrices row-major [out][in].
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { basename } from 'node:path';
import type { ModelConfig } from './config.js';
import { expectedWeightShapes } from './config.js';
import type { LoadedCheckpoint, WeightSource } from './weights.js';
import { readExactly } from './read-exactly.js';

const headerBytes = 7 * 4;

interface Span {
  offset: number;
  count: number;
}

/** Where each Hugging Face-named tensor lies in the file (per-layer tensors are stacked there). */
function llama2cLayout(c: ModelConfig): { spans: Map<string, Span>; end: number } {
  const spans = new Map<string, Span>();
  let offset = headerBytes;
  const add = (name: string, count: number) => {
    spans.set(name, { offset, count });
    offset += count * 4;
  };
  const stacked = (suffix: string, count: number) => {
    for (let i = 0; i < c.numLayers; i++) add(`model.layers.${i}.${suffix}`, count);
  };
  const h = c.hiddenSize;
  const kv = c.numKvHeads * c.headDim;
  add('model.embed_tokens.weight', c.vocabSize * h);
  stacked('input_layernorm.weight', h);
  stacked('self_attn.q_proj.weight', h * h);
  stacked('self_attn.k_proj.weight', kv * h);
  stacked('self_attn.v_proj.weight', kv * h);
  stacked('self_attn.o_proj.weight', h * h);
  stacked('post_attention_layernorm.weight', h);
  stacked('mlp.gate_proj.weight', c.intermediateSize * h); // w1
  stacked('mlp.down_proj.weight', h * c.intermediateSize); // w2
  stacked('mlp.up_proj.weight', c.intermediateSize * h); // w3
  add('model.norm.weight', h);
  offset += 2 * c.maxPositions * (c.headDim / 2) * 4; // legacy freq_cis_real / freq_cis_imag
  if (!c.tiedEmbeddings) add('lm_head.weight', c.vocabSize * h);
  return { spans, end: offset };
}

const versionedMagic = 0x616b3432; // "ak42": llama2.c export.py --version 1/2 files

function configFromHeader(file: string, header: Int32Array): ModelConfig {
  const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = header;
  if (header[0] === versionedMagic) {
    throw new Error(`${file}: llama2.c export version ${header[1]} (magic "ak42"); only the legacy version 0 format that run.c reads is supported (export.py --version 0)`);
  }
  const bad = (what: string) => new Error(`${file}: not a llama2.c checkpoint (${what})`);
  for (const [name, v] of [['dim', dim], ['hidden_dim', hidden], ['n_layers', layers], ['n_heads', heads], ['n_kv_heads', kvHeads], ['seq_len', seqLen]] as const) {
    if (!(v > 0 && v <= 1 << 20)) throw bad(`header ${name} = ${v}`);
  }
  if (vocab === 0 || Math.abs(vocab) > 1 << 22) throw bad(`header vocab_size = ${vocab}`);
  if (dim % heads !== 0) throw bad(`dim ${dim} not divisible by n_heads ${heads}`);
  if (heads % kvHeads !== 0) throw bad(`n_heads ${heads} not divisible by n_kv_heads ${kvHeads}`);
  const headDim = dim / heads;
  if (headDim % 2 !== 0) throw bad(`odd head size ${headDim}`);
  return {
    architecture: 'llama',
    hiddenSize: dim,
    numLayers: layers,
    numHeads: heads,
    numKvHeads: kvHeads,
    headDim,
    intermediateSize: hidden,
    vocabSize: Math.abs(vocab),
    maxPositions: seqLen,
    normEps: 1e-5,
    normWeightOffset: 0,
    activation: 'silu',
    qkvBias: false,
    tiedEmbeddings: vocab > 0,
    embeddingScale: 1,
    rope: { theta: 10000, style: 'interleaved', scaling: null },
  };
}

const headerFields = ['dim', 'hidden_dim', 'n_layers', 'n_heads', 'n_kv_heads', 'vocab_size', 'seq_len'] as const;

/** Bytes the header implies, by arithmetic only (llama2cLayout allocates per layer, so it must come after). */
function impliedBytes(c: ModelConfig): number {
  const h = c.hiddenSize;
  const kv = c.numKvHeads * c.headDim;
  const perLayer = 2 * h + 2 * h * h + 2 * kv * h + 3 * c.intermediateSize * h;
  const embeddings = (c.tiedEmbeddings ? 1 : 2) * c.vocabSize * h;
  return headerBytes + 4 * (embeddings + c.numLayers * perLayer + h + c.maxPositions * c.headDim);
}

/**
 * Rejects a header whose tensors could not fit in the file before anything is allocated for them,
 * naming the field that grows the size most past it (the one whose value, set to 1, shrinks it most).
 */
function checkImpliedSize(file: string, header: Int32Array, config: ModelConfig, size: number): void {
  const implied = impliedBytes(config);
  if (implied <= size) return;
  const shrunk = (field: (typeof headerFields)[number]): number => {
    const values = Array.from(header);
    const i = headerFields.indexOf(field);
    values[i] = field === 'vocab_size' ? Math.sign(values[i]) : field === 'dim' ? config.numHeads * 2 : field === 'n_heads' || field === 'n_kv_heads' ? values[i] : 1;
    const [dim, hidden, layers, heads, kvHeads, vocab, seqLen] = values;
    return impliedBytes({ ...config, hiddenSize: dim, intermediateSize: hidden, numLayers: layers, numHeads: heads, numKvHeads: kvHeads, headDim: dim / heads, vocabSize: Math.abs(vocab), maxPositions: seqLen });
  };
  const message = `${file}: truncated: ${size} bytes, the header implies ${implied}`;
  if (implied <= 2 * size) throw new Error(message);
  const field = headerFields.reduce((best, f) => (shrunk(f) < shrunk(best) ? f : best));
  throw new Error(`${message} (header ${field} = ${header[headerFields.indexOf(field)]} accounts for most of it: not a llama2.c checkpoint?)`);
}

class Llama2cWeights implements WeightSource {
  readonly shapes: ReadonlyMap<string, readonly number[]>;

  constructor(
    config: ModelConfig,
    private readonly fd: number,
    private readonly spans: Map<string, Span>,
  ) {
    this.shapes = expectedWeightShapes(config);
  }

  read(name: string): Float32Array {
    return this.readRows(name, 0, this.shapes.get(name)?.[0] ?? 0);
  }

  readRows(name: string, start: number, count: number): Float32Array {
    const span = this.spans.get(name);
    const shape = this.shapes.get(name);
    if (!span || !shape) throw new Error(`unknown weight tensor ${name}`);
    if (start < 0 || count < 0 || start + count > shape[0]) throw new Error(`${name}: rows ${start}..${start + count} outside its ${shape[0]}`);
    const rowValues = span.count / shape[0];
    const out = new Float32Array(count * rowValues);
    readExactly(this.fd, new Uint8Array(out.buffer), span.offset + start * rowValues * 4, () => `unexpected end of file reading ${name}`);
    return out;
  }

  close(): void {
    closeSync(this.fd);
  }
}

/** Opens a llama2.c checkpoint; the file length must equal exactly what the header implies. */
export function readLlama2cCheckpoint(path: string): LoadedCheckpoint {
  const file = basename(path);
  const fd = openSync(path, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size < headerBytes) throw new Error(`${file}: truncated (${size} bytes, shorter than the 28-byte llama2.c header)`);
    const header = new Int32Array(7);
    readSync(fd, new Uint8Array(header.buffer), 0, headerBytes, 0);
    const config = configFromHeader(file, header);
    checkImpliedSize(file, header, config, size);
    const { spans, end } = llama2cLayout(config);
    if (size > end) throw new Error(`${file}: ${size - end} unexpected trailing bytes (the header implies ${end} bytes)`);
    return { config, weights: new Llama2cWeights(config, fd, spans) };
  } catch (err) {
    closeSync(fd);
    throw err;
  }
}
