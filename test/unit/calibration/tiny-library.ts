// A tiny random Llama (written by our own exporter) imported into a temporary model library, and a
// plain-text calibration file for it, so calibration runs end to end in a second or two.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '../../../quant/index.js';
import type { ModelConfig } from '../../../main/model/config.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { importModel } from '../../../main/library/import-model.js';

export const tinyConfig: ModelConfig = {
  architecture: 'llama', hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8, intermediateSize: 48,
  vocabSize: 300, maxPositions: 64, normEps: 1e-5, normWeightOffset: 0, activation: 'silu', qkvBias: false,
  tiedEmbeddings: false, embeddingScale: 1, rope: { theta: 10000, style: 'half', scaling: null },
};

export interface TinyLibrary {
  dir: string;
  library: string;
  /** The imported model's library folder. */
  folder: string;
  /** A calibration text of a few documents separated by <|endoftext|>. */
  textFile: string;
  cleanup(): void;
}

/** Random words from a small vocabulary, `documents` documents of about `words` words each. */
export function randomStories(documents: number, words: number, seed: number): string {
  const rng = createRng(seed);
  const vocabulary = ['the', 'cat', 'sat', 'on', 'a', 'mat', 'and', 'then', 'ran', 'to', 'big', 'red', 'ball', 'she', 'he', 'was', 'happy'];
  return Array.from({ length: documents }, () => Array.from({ length: words }, () => vocabulary[rng.int(vocabulary.length)]).join(' ') + '.').join('\n<|endoftext|>\n');
}

export function createTinyLibrary(config: ModelConfig = tinyConfig): TinyLibrary {
  const dir = mkdtempSync(join(tmpdir(), 'reskv-calibration-'));
  const checkpoint = join(dir, 'tiny-hf');
  writeHfFolder(checkpoint, config, new RandomWeights(config, 7));
  const library = join(dir, 'library');
  const { folder } = importModel(checkpoint, { library, id: 'tiny' });
  const textFile = join(dir, 'stories.txt');
  writeFileSync(textFile, randomStories(12, 40, 3));
  return { dir, library, folder, textFile, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
