// Bounded concurrency that keeps order: the scanner lstats a directory's entries and hashes files
// several at a time (the waits are the OS's and LevelDB's, not the CPU's), and still records them
// in the order it walked them, so results do not depend on which finished first.

export interface InOrderOptions<T> {
  /** At most this many items in flight. */
  limit: number
  /** An item's share of `maxWeight` (e.g. its bytes); default 1. */
  weight?: (item: T) => number
  /** Items in flight weigh at most this much together, except that one item always may run. */
  maxWeight?: number
}

/**
 * Runs `work` over `items`, up to `limit` at once, and yields `[item, result]` in the order of
 * `items`. An item's weight is held until its result is yielded. A rejection is thrown when its
 * item's turn comes; stopping early (a throw, a break) waits for the items still in flight, so none
 * runs on unobserved and none rejects unhandled.
 */
export async function * mapInOrder<T, R> (items: Iterable<T>, work: (item: T) => Promise<R>, opts: InOrderOptions<T>): AsyncGenerator<[T, R]> {
  const { limit, weight = () => 1, maxWeight = Infinity } = opts
  if (!Number.isSafeInteger(limit) || limit < 1) throw new TypeError(`mapInOrder: limit must be a positive integer, got ${limit}`)
  const queue: Array<{ item: T, weight: number, result: Promise<R> }> = []
  let inFlightWeight = 0
  const source = items[Symbol.iterator]()
  let next = source.next()
  try {
    for (;;) {
      while (next.done !== true && queue.length < limit) {
        const w = weight(next.value)
        if (queue.length > 0 && inFlightWeight + w > maxWeight) break
        const result = work(next.value)
        result.catch(() => {}) // observed when its turn comes (or in the cleanup below)
        queue.push({ item: next.value, weight: w, result })
        inFlightWeight += w
        next = source.next()
      }
      const head = queue.shift()
      if (head === undefined) return
      inFlightWeight -= head.weight
      yield [head.item, await head.result]
    }
  } finally {
    await Promise.allSettled(queue.map(q => q.result))
  }
}
