// What the fault-injection suite and its child process share: the calibration they run, the prompts
// of the saved conversation, and greedy sampling (so every run's answer is reproducible).
import type { SamplingOptions } from '../../../main/api/types.js';
import { EngineModel } from '../../../main/engine/engine-model.js';
import type { EngineOpenOptions } from '../../../main/engine/engine-model.js';
import { randomStories } from '../calibration/tiny-library.js';

export const faultCalibration = {
  text: randomStories(8, 30, 5),
  settings: { name: 'default', depth: 2, codebookSize: 16, groupSize: 8, maxVectors: 300, kmeansIterations: 3 },
};

/** Short turns: the tiny model's context holds 64 positions. */
export const faultPrompts = ['cat', 'ran', 'sat', 'mat'];

export const faultGreedy: SamplingOptions = { maxTokens: 3, temperature: 0, topK: 0, topP: 1, repetitionPenalty: 1, seed: null, stop: [] };

/** The greedy tokens of a short reply under a cache, as text (rejects when the model cannot open or run). */
export async function answer(folder: string, cache: EngineOpenOptions['cache']): Promise<string> {
  const engine = await EngineModel.open({ model: folder, cache, session: { providers: ['cpu'], threads: 1 } });
  try {
    const id = engine.createConversation();
    const stream = engine.send(id, 'the cat sat', { maxTokens: 6, temperature: 0 });
    for (let next = await stream.next(); ; next = await stream.next()) if (next.done) return next.value.tokens.join(',');
  } finally {
    await engine.release();
  }
}
