// The generated text as it may be shown: decoded from all generated ids each token, after a few
// context tokens whose own text is then cut off (so multi-token characters and spacing come out as
// in the full text: SentencePiece drops a word's leading space only right after BOS), with stop
// strings caught even when they span tokens. Text that might be the start of a stop string, or an incomplete UTF-8 character (U+FFFD at
// the end), is held back until it is decided; a stop string itself is never emitted.
import type { TextTokenizer } from '../model/tokenizer.js';

const REPLACEMENT = '\uFFFD';

export interface StopTextUpdate {
  /** New text safe to show. */
  text: string;
  /** A stop string was found (text ends just before it). */
  stopped: boolean;
}

/** Context tokens decoded before the generated ones. */
const CONTEXT_TOKENS = 4;

export class StopText {
  private readonly ids: number[];
  private readonly contextText: string;
  private readonly contextLength: number;
  private readonly stops: readonly string[];
  private emitted = '';

  /** `context`: the tokens before the generated ones (its last few are used). */
  constructor(
    private readonly tokenizer: Pick<TextTokenizer, 'decode'>,
    stops: readonly string[],
    context: readonly number[] = [],
  ) {
    this.stops = stops.filter((s) => s.length > 0);
    this.ids = context.slice(-CONTEXT_TOKENS);
    this.contextLength = this.ids.length;
    this.contextText = tokenizer.decode(this.ids);
  }

  /** The generated tokens' text: the whole decode less the context's own text (or, should the context's text change, the generated ids alone). */
  private decodeGenerated(): string {
    const full = this.tokenizer.decode(this.ids);
    return full.startsWith(this.contextText) ? full.slice(this.contextText.length) : this.tokenizer.decode(this.ids.slice(this.contextLength));
  }

  /** All text emitted so far. */
  get text(): string {
    return this.emitted;
  }

  push(tokenId: number): StopTextUpdate {
    this.ids.push(tokenId);
    const full = this.decodeGenerated();
    // Decoding is prefix-stable for practical tokenizers; if a later token rewrote shown text, go on from its length.
    const from = Math.min(this.emitted.length, full.length);
    let stopAt = -1;
    for (const stop of this.stops) {
      const at = full.indexOf(stop, Math.max(0, from - stop.length + 1));
      if (at >= 0 && at + stop.length > from && (stopAt < 0 || at < stopAt)) stopAt = at;
    }
    if (stopAt >= 0) return { text: this.emit(full, Math.max(from, stopAt)), stopped: true };
    return { text: this.emit(full, from + this.safeLength(full.slice(from))), stopped: false };
  }

  /** At the end of generation: the held-back text, which did not become a stop string. */
  flush(): string {
    const full = this.decodeGenerated();
    return this.emit(full, full.length);
  }

  private emit(full: string, end: number): string {
    const from = Math.min(this.emitted.length, full.length);
    const text = full.slice(from, Math.max(from, end));
    this.emitted += text;
    return text;
  }

  /** How much of `pending` can be shown: all but a trailing partial character or stop-string prefix. */
  private safeLength(pending: string): number {
    let hold = 0;
    while (hold < pending.length && pending[pending.length - 1 - hold] === REPLACEMENT) hold++;
    for (const stop of this.stops) {
      for (let k = Math.min(stop.length - 1, pending.length); k > hold; k--) {
        if (pending.endsWith(stop.slice(0, k))) {
          hold = k;
          break;
        }
      }
    }
    return pending.length - hold;
  }
}
