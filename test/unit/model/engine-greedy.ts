// Test helpers: greedy replies of a library model through the engine, and the float64 reference's
// view of an RVQ cache (quant's encode then decode with the model's installed codebooks).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { RvqCodec, decodeCodebooks } from '../../../quant/index.js';
import { EngineModel } from '../../../main/engine/engine-model.js';
import type { EngineOpenOptions } from '../../../main/engine/engine-model.js';
import { readManifest } from '../../../main/model/manifest.js';
import type { KvTransform } from '../../../main/model/reference.js';

/** The engine's greedy reply ids (at most `steps`) to each prompt, each in a new conversation. */
export async function engineGreedy(library: string, model: string, cache: EngineOpenOptions['cache'], prompts: readonly string[], steps: number): Promise<Map<string, number[]>> {
  const engine = await EngineModel.open({ model, library, cache, session: { providers: ['cpu'] } });
  const replies = new Map<string, number[]>();
  try {
    for (const p of prompts) {
      const stream = engine.send(engine.createConversation(), p, { maxTokens: steps, temperature: 0 });
      let next = await stream.next();
      while (!next.done) next = await stream.next();
      replies.set(p, next.value.tokens);
    }
  } finally {
    await engine.release();
  }
  return replies;
}

/** What an rvq cache with the model's default codebook set at full depth makes of each K/V row. */
export function rvqRoundTrip(modelFolder: string): KvTransform {
  const { rvq } = readManifest(modelFolder);
  const set = decodeCodebooks(new Uint8Array(readFileSync(join(modelFolder, rvq.default.codebooks))));
  const codecs = set.layers.map((l) => ({ key: new RvqCodec(set.keySpec, l.key), value: new RvqCodec(set.valueSpec, l.value) }));
  return (layer, kind, row) => Float64Array.from(codecs[layer][kind].decode(codecs[layer][kind].encode(Float32Array.from(row)), (kind === 'key' ? set.keySpec : set.valueSpec).depth));
}

/** The reference's greedy ids as the engine returns them: up to and including the first stop id. */
export function asReply(ids: readonly number[], eosIds: readonly number[]): number[] {
  const end = ids.findIndex((t) => eosIds.includes(t));
  return end < 0 ? [...ids] : ids.slice(0, end + 1);
}
