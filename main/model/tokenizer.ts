// What the engine needs from any tokenizer, whichever file format it came from.

export interface TextTokenizer {
  readonly vocabSize: number;
  /** Token the model expects first, or null when the model uses none. */
  readonly bosId: number | null;
  /** Tokens that end generation. */
  readonly eosIds: readonly number[];
  /** Text to ids, without BOS/EOS (callers add bosId themselves). */
  encode(text: string): number[];
  /** Ids to text; special tokens are dropped. */
  decode(ids: readonly number[]): string;
}
