// Reading a byte range of a file that must hold it all (weights at offsets a header or table gave).
import { readSync } from 'node:fs';

/**
 * Fills `into` from `fd` at `position`, looping over short reads; throws `short(at)` (at: the file
 * position where the data ran out) when the file ends first.
 */
export function readExactly(fd: number, into: Uint8Array, position: number, short: (at: number) => string): void {
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, into.length - done, position + done);
    if (n === 0) throw new Error(short(position + done));
    done += n;
  }
}
