// Bad input at import (issue 14): a sharded checkpoint with one defect each — a shard missing from
// the folder or from the index, a header that lies about offsets, a dtype we cannot read, a config with
// absurd sizes — is refused with an error naming the file or field, within seconds, and leaves
// nothing in the library (no model folder, no temporary import folder). A model too big for memory
// is refused before loading by the fit check (test/unit/engine/fit.test.ts).
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { importModel } from '../../../main/library/import-model.js';
import { RandomWeights, writeHfFolder } from '../../../main/model/hf-export.js';
import { rewriteSafetensorsHeader } from './safetensors-edit.js';
import { tinyModels } from './tiny-models.js';

const config = tinyModels['llama3 (GQA 2, theta 500000, llama3 scaling, untied)'];
const dir = mkdtempSync(join(tmpdir(), 'reskv-bad-checkpoints-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const indexName = 'model.safetensors.index.json';
const tensor = 'model.norm.weight';

type Index = { weight_map: Record<string, string> };
type Defect = (folder: string, index: Index) => void;

const writeIndex = (folder: string, index: Index) => writeFileSync(join(folder, indexName), JSON.stringify(index));
const editConfig = (folder: string, changes: Record<string, unknown>) =>
  writeFileSync(join(folder, 'config.json'), JSON.stringify({ ...JSON.parse(readFileSync(join(folder, 'config.json'), 'utf8')), ...changes }));
const editHeader = (edit: Parameters<typeof rewriteSafetensorsHeader>[2]): Defect => (folder, index) => {
  const path = join(folder, index.weight_map[tensor]);
  rewriteSafetensorsHeader(path, readFileSync(path), edit);
};

const defects: [string, Defect, RegExp][] = [
  ['a shard the index names is missing', (f, i) => unlinkSync(join(f, i.weight_map[tensor])), /^model-0000\d-of-0000\d\.safetensors: missing \(named by model\.safetensors\.index\.json\)$/],
  ['the index names a shard that does not exist', (f, i) => writeIndex(f, { weight_map: { ...i.weight_map, [tensor]: 'model-00009-of-00009.safetensors' } }), /^model-00009-of-00009\.safetensors: missing \(named by model\.safetensors\.index\.json\)$/],
  [
    'a tensor is missing from the index',
    (f, i) => {
      delete i.weight_map[tensor];
      writeIndex(f, i);
    },
    /^model-0000\d-of-0000\d\.safetensors: holds tensor model\.norm\.weight, which model\.safetensors\.index\.json places elsewhere or not at all$/,
  ],
  ['the index places a tensor in the wrong shard', (f, i) => writeIndex(f, { weight_map: { ...i.weight_map, [tensor]: Object.values(i.weight_map).find((s) => s !== i.weight_map[tensor])! } }), /^model-0000\d-of-0000\d\.safetensors: (lacks|holds) tensor model\.norm\.weight, which model\.safetensors\.index\.json places/],
  ['the index is not JSON', (f) => writeFileSync(join(f, indexName), '{"weight_map": '), /^model\.safetensors\.index\.json: not valid JSON/],
  ['a header puts a tensor past the end of its file', editHeader((h) => (h[tensor].data_offsets = [1e9, 1e9 + 128])), /^model-0000\d-of-0000\d\.safetensors: safetensors tensor "model\.norm\.weight" starts at 1000000000/],
  ['a header gives a tensor fewer bytes than its shape', editHeader((h) => (h[tensor].shape = [64])), /^model-0000\d-of-0000\d\.safetensors: safetensors tensor "model\.norm\.weight": data_offsets \[\d+, \d+\] hold 128 bytes, F32 \[64\] needs 256$/],
  ['a dtype we cannot read', editHeader((h) => (h[tensor].dtype = 'F8_E4M3')), /^model-0000\d-of-0000\d\.safetensors: safetensors tensor "model\.norm\.weight": unsupported dtype F8_E4M3$/],
  ['a dtype we read but not for weights', editHeader((h) => (h[tensor].dtype = 'I32')), /^model-0000\d-of-0000\d\.safetensors: tensor model\.norm\.weight has dtype I32; expected F32, F16 or BF16$/],
  ['absurd intermediate_size', (f) => editConfig(f, { intermediate_size: 1e12 }), /^config\.json: invalid config \(intermediate_size: 1000000000000 is beyond 262144/],
  ['absurd num_attention_heads', (f) => editConfig(f, { num_attention_heads: 1e6 }), /^config\.json: invalid config \(num_attention_heads: 1000000 is beyond 1024/],
  ['a negative num_key_value_heads', (f) => editConfig(f, { num_key_value_heads: -2 }), /^config\.json: invalid config \(num_key_value_heads: /],
  // every size at its bound: 2^48 embedding values, refused by the shape check before any tensor is read
  [
    'sizes at their bounds that the weights do not hold',
    (f) => editConfig(f, { hidden_size: 65536, intermediate_size: 262144, num_hidden_layers: 1024, vocab_size: 4194304 }),
    /^model-0000\d-of-0000\d\.safetensors: tensor model\.embed_tokens\.weight has shape \[300,32\], config\.json implies \[4194304,65536\] \(dimension 0 is config\.json's vocab_size\)$/,
  ],
];

describe('importing a bad checkpoint', () => {
  const library = join(dir, 'library');
  it.each(defects)('%s: a clear error naming the file or field, nothing left in the library', (label, defect, message) => {
    const folder = join(dir, label.replace(/\W+/g, '-'));
    writeHfFolder(folder, config, new RandomWeights(config, 1), { maxShardBytes: 40_000 });
    defect(folder, JSON.parse(readFileSync(join(folder, indexName), 'utf8')) as Index);
    const started = performance.now();
    expect(() => importModel(folder, { library, id: 'bad' })).toThrow(message);
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(existsSync(library) ? readdirSync(library) : []).toEqual([]);
  });
});
