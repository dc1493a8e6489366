// Running async work on many items with a bound on how many run at once.

/**
 * `fn` over every item, at most `limit` at a time, results in item order. For
 * work that waits on I/O (git) between bursts of CPU: a few in flight overlap
 * the waits, without holding every item's working set in memory at once.
 */
export async function mapLimit<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return out;
}
