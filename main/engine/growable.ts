// Capacity-doubling typed buffers: appends copy the existing data only when the capacity runs out
// (amortised O(1) per element), and the live prefix is handed out as a zero-copy subarray.

type GrowableArray = Uint8Array | Uint16Array;

/** `array` itself when it holds `needed` elements, else a larger one (at least double) with the first `used` copied. */
export function withCapacity<T extends GrowableArray>(array: T, needed: number, used: number): T {
  if (needed <= array.length) return array;
  const grown = new (array.constructor as new (length: number) => T)(Math.max(needed, 2 * array.length, 16));
  grown.set(array.subarray(0, used));
  return grown;
}

/** A copy holding exactly `capacity` elements (the first `used` kept), so a shrunk cache really frees memory. */
export function withExactCapacity<T extends GrowableArray>(array: T, capacity: number, used: number): T {
  if (capacity === array.length) return array;
  const resized = new (array.constructor as new (length: number) => T)(capacity);
  resized.set(array.subarray(0, Math.min(used, capacity)));
  return resized;
}
