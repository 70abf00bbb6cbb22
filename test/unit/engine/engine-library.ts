// A temporary model library holding stories260K (the ../shared fixture) with a small synthetic RVQ
// codebook set installed through main/library/install-rvq (random codebooks: the plumbing is tested, not quality).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng, encodeCodebooks, parseRvqSpec } from '../../../quant/index.js';
import { importModel } from '../../../main/library/import-model.js';
import { installRvqGraph } from '../../../main/library/install-rvq.js';
import { fixtures } from '../../support/shared.js';

export interface StoriesLibrary {
  dir: string;
  library: string;
  folder: string;
  cleanup(): void;
}

/** stories260K imported as "stories", with the codebook set "synthetic" (C 16, depth 4, one 32-channel group per token). */
export function createStoriesLibrary(): StoriesLibrary {
  const dir = mkdtempSync(join(tmpdir(), 'reskv-engine-'));
  const library = join(dir, 'library');
  const { folder } = importModel(fixtures.stories260K, { library, id: 'stories', tokenizer: fixtures.tok512 });
  const spec = parseRvqSpec({ headDim: 8, numKvHeads: 4, groupSize: 32, codebookSize: 16, depth: 4, grouping: 'contiguous', groupSpan: 'token', scale: 'token' });
  const rng = createRng(3);
  // stage s entries shrink as 1/(s+1), like a trained residual quantizer's
  const book = () => Float32Array.from({ length: spec.depth * spec.codebookSize * spec.groupSize }, (_, i) => rng.normal() / (1 + Math.floor(i / (spec.codebookSize * spec.groupSize))));
  const file = join(dir, 'synthetic.safetensors');
  writeFileSync(file, encodeCodebooks({ keySpec: spec, valueSpec: spec, layers: Array.from({ length: 5 }, () => ({ key: book(), value: book() })) }));
  installRvqGraph(folder, file, 'synthetic');
  return { dir, library, folder, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
