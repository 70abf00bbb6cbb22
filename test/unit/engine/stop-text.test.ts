import { describe, expect, it } from 'vitest';
import { StopText } from '../../../main/engine/stop-text.js';

/** Pieces by id; ids 10 and 11 are the two bytes of 'é', which decode to U+FFFD until both are present. */
const pieces = ['', 'Hel', 'lo', ' wor', 'ld', '\n', 'User', ':', ' ', 'x'];
const tokenizer = {
  decode(ids: readonly number[]): string {
    let text = '';
    for (let i = 0; i < ids.length; i++) {
      if (ids[i] === 10) text += ids[i + 1] === 11 ? (i++, 'é') : '\uFFFD';
      else text += pieces[ids[i]] ?? '';
    }
    return text;
  },
};

function run(ids: number[], stops: string[]) {
  const stream = new StopText(tokenizer, stops);
  const shown: string[] = [];
  for (const id of ids) {
    const update = stream.push(id);
    shown.push(update.text);
    if (update.stopped) return { shown, stopped: true, text: stream.text };
  }
  shown.push(stream.flush());
  return { shown, stopped: false, text: stream.text };
}

describe('StopText', () => {
  it('stops before a stop string spread over several tokens', () => {
    expect(run([1, 2, 5, 6, 7, 8, 9], ['\nUser:'])).toEqual({ shown: ['Hel', 'lo', '', '', ''], stopped: true, text: 'Hello' });
  });

  it('releases text once it can no longer start a stop string', () => {
    expect(run([1, 2, 5, 3, 4], ['\nUser:'])).toEqual({ shown: ['Hel', 'lo', '', '\n wor', 'ld', ''], stopped: false, text: 'Hello\n world' });
  });

  it('finds the earliest of several stop strings, inside one token too', () => {
    expect(run([1, 2, 3], ['lo w', 'wor'])).toMatchObject({ stopped: true, text: 'Hel' });
    expect(run([3, 4], ['orl'])).toMatchObject({ stopped: true, text: ' w' });
  });

  it('decodes after the context and shows only the generated text', () => {
    // a tokenizer that, like SentencePiece after BOS (id 0 here), drops the first word's space
    const spaced = { decode: (ids: readonly number[]) => ids.map((id) => ['<s>', ' Once', ' upon'][id]).join('').replace(/^<s> /, '').replace('<s>', '') };
    const after = (context: number[]) => {
      const stream = new StopText(spaced, [], context);
      return stream.push(1).text + stream.push(2).text;
    };
    expect(after([0])).toBe('Once upon');
    expect(after([2])).toBe(' Once upon');
    // a context whose text changes once more tokens follow (here: 'x' then 'y' decodes as 'Z'): never shown
    const merging = { decode: (ids: readonly number[]) => ids.map((id) => 'xy!'[id]).join('').replace('xy', 'Z') };
    const stream = new StopText(merging, [], [0]);
    expect(stream.push(1).text + stream.push(2).text).toBe('y!');
  });

  it('holds back an incomplete UTF-8 character until its last byte arrives', () => {
    expect(run([1, 10, 11, 2], [])).toEqual({ shown: ['Hel', '', 'é', 'lo', ''], stopped: false, text: 'Helélo' });
    expect(run([1, 10], []).text).toBe('Hel\uFFFD'); // flushed as is when generation ends
  });
});
