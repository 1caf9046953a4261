// How the agent's V8 heap grows. The agent is a long-running process whose live heap is modest
// (an index walk keeps little), but a scan or a sync allocates fast, and much of that survives a
// young-generation GC or two before it dies (records in a commit batch, blocks in flight). V8
// lets the old generation grow to up to 4 times what was live after the last full GC before it
// collects again, so an agent with 50 MiB live sat at 220 MiB of heap through a first scan of
// 100,000 files. (The young generation's size is fixed when node starts: bin/lansync.js caps it.)
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/**
 * Growth of the heap allowed between full GCs, as a percentage of what was live after the last:
 * the old generation is collected once it is 30% bigger, not up to 300%. Measured on a first
 * scan of 100,000 files: peak RSS 337 → 204 MiB at the same speed (45–62 s either way); on a
 * restart, 190 → 165 MiB.
 */
const HEAP_GROWING_PERCENT = 30

/**
 * Makes V8 collect garbage before the heap grows far past what is live. Call once, early, in a
 * process that runs the agent. V8 reads this flag each time it sets the next GC limit, so setting
 * it at run time works like `node --heap-growing-percent`; it changes when V8 collects, never what.
 */
export function keepHeapNearLiveSize (): void {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}

/**
 * Buffers outside the V8 heap allowed before a young-generation GC is made, in bytes above what
 * the agent held at start. Block data (read from a pack, received, encrypted) lives in buffers
 * outside the heap, and a buffer's memory is freed only when a GC finds its small JS handle dead.
 * V8 counts those bytes towards starting a GC only past 64 MiB, and its young generation (4 MiB,
 * see bin/lansync.js) fills with handles slowly, so a transfer kept 30–60 MiB of dead buffers at
 * any time, and glibc held on to what they had used. With this, the sender of W2 (4 × 256 MiB
 * over loopback) peaked at 118–128 MiB RSS instead of 138–153, over a dozen runs each; with it
 * and the fetch window changes of BlockFetcher, the receiver at 136–151 instead of 160–188.
 */
const BUFFER_GARBAGE_BYTES = 16 * 1024 * 1024
/**
 * How often external memory is looked at (one 0.5 µs V8 call) while it moves, and once it moved
 * less than IDLE_CHANGE_BYTES in IDLE_AFTER_MS (an idle agent wakes once a second for this).
 */
const BUSY_CHECK_MS = 20
const IDLE_CHECK_MS = 1000
const IDLE_AFTER_MS = 2000
const IDLE_CHANGE_BYTES = 1024 * 1024

type Gc = (options?: { type?: 'minor' }) => void

/**
 * Collects dead buffers before they pile up (see BUFFER_GARBAGE_BYTES): a young-generation GC
 * (well under a millisecond: the young generation is small) at each look that finds external
 * memory over the limit. Limits that move with what is live collected later and measured worse
 * (receiver 148–170 MiB): a young GC that frees little still frees the newest buffers before
 * they age into the old generation. An agent whose external memory stays over the limit without
 * moving is looked at once a second, like an idle one. Call once, in a process that runs the
 * agent. The timer does not keep the process alive.
 */
export function collectDeadBuffersEarly (): void {
  const gc = exposedGc()
  let last = externalBytes()
  const limit = last + BUFFER_GARBAGE_BYTES
  // External memory's movement (up or down) since `since`: little over IDLE_AFTER_MS is an idle agent.
  let moved = 0
  let since = performance.now()
  let isIdle = false
  const check = (): void => {
    const external = externalBytes()
    const isOver = external > limit
    if (isOver) gc({ type: 'minor' })
    const step = Math.abs(external - last)
    last = external
    moved += step
    const now = performance.now()
    if (step >= IDLE_CHANGE_BYTES) isIdle = false
    if (now - since >= IDLE_AFTER_MS) {
      isIdle = moved < IDLE_CHANGE_BYTES
      moved = 0
      since = now
    }
    setTimeout(check, isIdle ? IDLE_CHECK_MS : BUSY_CHECK_MS).unref()
  }
  setTimeout(check, BUSY_CHECK_MS).unref()
}

/** Bytes in buffers and other memory V8 tracks outside its heap. */
function externalBytes (): number {
  return getHeapStatistics().external_memory ?? process.memoryUsage().external // the first is cheaper; older node versions lack it
}

/** V8's gc(), which node exposes only with --expose-gc: the flag is set now, and the function taken from a new context, where V8 installs it. */
function exposedGc (): Gc {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as Gc
}
