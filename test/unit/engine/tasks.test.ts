import { describe, expect, it } from 'vitest';
import type { EvaluatedFormat } from '../../../main/engine/evaluate.js';
import { Fp16KvStore } from '../../../main/engine/fp16-kv-store.js';
import type { DecoderStep } from '../../../main/engine/generate.js';
import { measureDrift } from '../../../main/engine/tasks/drift.js';
import { choiceLogLikelihoods, choiceTokens, matchesAnswer, scoreChoiceItem, scoreGenerationItem } from '../../../main/engine/tasks/scoring.js';
import type { TaskTokenizer } from '../../../main/engine/tasks/scoring.js';
import { comparePaired, mcnemarExact, pairedBootstrapInterval } from '../../../main/engine/tasks/statistics.js';
import { parseTaskFile } from '../../../main/engine/tasks/task-file.js';
import type { ChoiceItem, GenerationItem } from '../../../main/engine/tasks/task-file.js';
import { SumDecoder, VOCAB } from './loop-doubles.js';

/** One character per token over VOCAB ('<eos>' is id 0); `bosId` as given. */
function charTokenizer(bosId: number | null): TaskTokenizer {
  return {
    bosId,
    eosIds: [0],
    encode: (text) => [...text].map((ch) => VOCAB.indexOf(ch)),
    decode: (ids) => ids.filter((id) => id !== 0).map((id) => VOCAB[id]).join(''),
  };
}

/** A bigram model: the logits after a token are LOGITS[token] (the store holds the ids, so truncation works). */
const LN2 = Math.log(2);
const LN4 = Math.log(4);
const LOGITS: Record<number, number[]> = {
  0: [0, 0, 0, 0, 0, 0, 0, 0],
  1: [0, 0, LN2, 0, 0, 0, 0, 0], // after 'a': p(b) = 2/9, every other 1/9
  3: [0, 0, 0, LN4, 0, 0, 0, 0], // after 'c': p(c) = 4/11
};
class BigramDecoder implements DecoderStep<Fp16KvStore> {
  readonly vocabSize = VOCAB.length;
  readonly contextLength = 64;
  async step(tokens: readonly number[], store: Fp16KvStore): Promise<Float32Array> {
    const logits = new Float32Array(tokens.length * this.vocabSize);
    tokens.forEach((t, i) => {
      for (const kind of ['key', 'value'] as const) store.append(0, kind, { data: Float32Array.of(t), tokens: 1, start: 0, count: 1 });
      logits.set(LOGITS[t] ?? LOGITS[0], i * this.vocabSize);
    });
    return logits;
  }
}
const store = () => new Fp16KvStore({ numLayers: 1, numKvHeads: 1, headDim: 1 });
const format = (name: string, decoder: DecoderStep<Fp16KvStore>): EvaluatedFormat => ({ name, decoder: decoder as never, createStore: store });

const line = (value: unknown) => JSON.stringify(value);

describe('task files', () => {
  it('parses both kinds, with defaults, skipping blank lines', () => {
    const items = parseTaskFile(`${line({ prompt: 'a', choices: ['b', 'c'], answer: 1 })}\n\n${line({ prompt: 'x', answer: 'y' })}\n`, 't.jsonl');
    expect(items.map((i) => [i.kind, i.line])).toEqual([
      ['choice', 1],
      ['generation', 3],
    ]);
    expect(items[1]).toMatchObject({ match: 'contains', max_tokens: 32, stop: [] });
  });

  it('names the line and the field of a bad item', () => {
    const good = line({ prompt: 'a', choices: ['b', 'c'], answer: 0 });
    expect(() => parseTaskFile(`${good}\n${line({ prompt: 'a', choices: ['b', ''], answer: 0 })}`, 't.jsonl')).toThrow('t.jsonl line 2, field choices.1: must not be empty');
    expect(() => parseTaskFile(`${good}\n${good}\n${line({ prompt: 'a', choices: ['b', 'c'], answer: 2 })}`, 't.jsonl')).toThrow('t.jsonl line 3, field answer: 2 is not a choice index (0..1)');
    expect(() => parseTaskFile(line({ prompt: 'a', answer: '(', match: 'regex' }), 't.jsonl')).toThrow(/line 1, field answer: not a regular expression/);
    expect(() => parseTaskFile(line({ prompt: 'a', answer: 'b', match: 'fuzzy' }), 't.jsonl')).toThrow(/line 1, field match/);
    expect(() => parseTaskFile(line({ answer: 'b' }), 't.jsonl')).toThrow('t.jsonl line 1, field prompt: give either prompt or messages (chat), not neither');
    expect(() => parseTaskFile('{"prompt": ', 't.jsonl')).toThrow(/t.jsonl line 1: not valid JSON/);
    expect(() => parseTaskFile('[1]', 't.jsonl')).toThrow('t.jsonl line 1: an item must be a JSON object');
    expect(() => parseTaskFile('\n', 't.jsonl')).toThrow('t.jsonl: holds no items');
  });
});

describe('multiple-choice scoring (a bigram double with hand-computed probabilities)', () => {
  const item = parseTaskFile(line({ prompt: 'a', choices: ['b', 'cc'], answer: 0 }), 't')[0] as ChoiceItem;

  it('splits each choice from the prompt and sums its log-likelihood', async () => {
    const tokenizer = charTokenizer(0);
    expect(choiceTokens(item, tokenizer)).toEqual([
      { context: [0, 1], continuation: [2] },
      { context: [0, 1], continuation: [3, 3] },
    ]);
    const [b, cc] = await choiceLogLikelihoods(format('bigram', new BigramDecoder()), choiceTokens(item, tokenizer));
    expect(b).toBeCloseTo(Math.log(2 / 9), 6); // p(b | a)
    expect(cc).toBeCloseTo(Math.log(1 / 9) + Math.log(4 / 11), 6); // p(c | a) p(c | c)
    expect(await scoreChoiceItem(format('bigram', new BigramDecoder()), item, tokenizer)).toEqual({ correct: true, answer: 'b' });
  });

  it('picks the likelier choice even when it is the wrong one', async () => {
    const wrong = { ...item, answer: 1 };
    expect(await scoreChoiceItem(format('bigram', new BigramDecoder()), wrong, charTokenizer(0))).toEqual({ correct: false, answer: 'b' });
  });
});

describe('generation matching', () => {
  it('matches exact (trimmed), contains and regex', () => {
    expect(matchesAnswer(' Lily went home \n', 'Lily went home', 'exact')).toBe(true);
    expect(matchesAnswer('Lily went home.', 'Lily went home', 'exact')).toBe(false);
    expect(matchesAnswer('then Lily went home', 'went', 'contains')).toBe(true);
    expect(matchesAnswer('She smiled.', '\\b(she|Lily)\\b', 'regex')).toBe(false); // case-sensitive
    expect(matchesAnswer('and Lily smiled', '\\b(she|Lily)\\b', 'regex')).toBe(true);
    expect(matchesAnswer('Lilyan smiled', '\\b(she|Lily)\\b', 'regex')).toBe(false); // no word boundary inside "Lilyan"
  });

  it('generates greedily up to max_tokens and applies the regex', async () => {
    // SumDecoder after "ab" generates d, a, c, g, ... greedily (see loop-doubles.ts)
    const [hit, miss] = parseTaskFile(`${line({ prompt: 'ab', answer: '^dac$', match: 'regex', max_tokens: 3 })}\n${line({ prompt: 'ab', answer: '^dacg$', match: 'regex', max_tokens: 3 })}`, 't') as GenerationItem[];
    const sum = format('sum', new SumDecoder());
    expect(await scoreGenerationItem(sum, hit, charTokenizer(null))).toEqual({ correct: true, answer: 'dac' });
    expect(await scoreGenerationItem(sum, miss, charTokenizer(null))).toEqual({ correct: false, answer: 'dac' });
  });
});

describe('paired statistics', () => {
  it('bootstraps a known difference: 1000 items, fp16 all right, the cache wrong on every fifth', () => {
    const reference = new Array<boolean>(1000).fill(true);
    const outcomes = reference.map((_, i) => i % 5 !== 0);
    // difference -0.2; its standard error sqrt(0.2 * 0.8 / 1000) = 0.0126, so the 95% interval is about -0.2 +- 0.025
    const [low, high] = pairedBootstrapInterval(reference, outcomes, { samples: 4000, seed: 7 });
    expect(low).toBeGreaterThan(-0.23);
    expect(low).toBeLessThan(-0.22);
    expect(high).toBeGreaterThan(-0.18);
    expect(high).toBeLessThan(-0.17);
    expect(pairedBootstrapInterval(reference, outcomes, { samples: 4000, seed: 7 })).toEqual([low, high]); // seeded: repeatable
    const compared = comparePaired(reference, outcomes, { seed: 7 });
    expect(compared).toMatchObject({ items: 1000, accuracy: 0.8, referenceAccuracy: 1, lost: 200, gained: 0, verdict: 'drop' });
    expect(compared.difference).toBeCloseTo(-0.2, 12);
    expect(compared.mcnemarP).toBeLessThan(1e-50);
  });

  it('calls no change when the outcomes are the same, and a balanced swap not significant', () => {
    const same = comparePaired([true, false, true], [true, false, true]);
    expect(same).toMatchObject({ difference: 0, interval: [0, 0], mcnemarP: 1, verdict: 'no significant change' });
    const swapped = comparePaired([true, false, true, false], [false, true, true, false]);
    expect(swapped.verdict).toBe('no significant change');
    expect(swapped.interval[0]).toBeLessThan(0);
    expect(swapped.interval[1]).toBeGreaterThan(0);
  });

  it('calls a drop only when the exact test agrees with the interval', () => {
    // 4 of 12 lost, none gained: the bootstrap interval lies below 0, but McNemar's p = 2 / 16
    const reference = new Array<boolean>(12).fill(true);
    const outcomes = reference.map((_, i) => i >= 4);
    const compared = comparePaired(reference, outcomes);
    expect(compared.interval[1]).toBeLessThan(0);
    expect(compared.mcnemarP).toBeCloseTo(0.125, 12);
    expect(compared.verdict).toBe('no significant change');
    // 8 of 12 lost: p = 2 / 256
    expect(comparePaired(reference, reference.map((_, i) => i >= 8)).verdict).toBe('drop');
  });

  it("gives McNemar's exact two-sided p from the binomial", () => {
    expect(mcnemarExact(5, 0)).toBeCloseTo(2 / 32, 12);
    expect(mcnemarExact(3, 1)).toBeCloseTo((2 * (1 + 4)) / 16, 12);
    expect(mcnemarExact(2, 2)).toBe(1);
  });
});

describe('long-generation drift (doubles)', () => {
  /** SumDecoder whose favoured token moves one further from position 4 on. */
  class LateShift extends SumDecoder {
    override async step(tokens: readonly number[], s: Fp16KvStore): Promise<Float32Array> {
      const first = s.length;
      const logits = await super.step(tokens, s);
      const V = this.vocabSize;
      const out = Float32Array.from(logits);
      for (let r = 0; r < tokens.length; r++) if (first + r >= 4) for (let j = 0; j < V; j++) out[r * V + ((j + 1) % V)] = logits[r * V + j];
      return out;
    }
  }

  it('finds the first divergence and the KL along the reference trajectory', async () => {
    const tokenizer = charTokenizer(null);
    const [same, late] = await measureDrift(format('fp16', new SumDecoder()), [format('same', new SumDecoder()), format('late', new LateShift())], [[1, 2]], tokenizer, { tokens: 6 });
    expect(same).toMatchObject({ firstDivergence: [null], medianFirstDivergence: 6, meanKl: 0 });
    // generated token i is predicted at position 1 + i: the shift starts at i = 3
    expect(late.firstDivergence).toEqual([3]);
    const Z = Math.exp(4) + 7;
    const shiftedKl = (4 * (Math.exp(4) - 1)) / Z;
    expect(late.klByPosition.slice(0, 3)).toEqual([0, 0, 0]);
    late.klByPosition.slice(3).forEach((k) => expect(k).toBeCloseTo(shiftedKl, 6));
    expect(late.klByPosition).toHaveLength(6);
  });
});
