// Retention policy: which old versions of a file to drop. Pure: the current time is passed in.
// The newest version of every path is never pruned (it is the file as it stands, or its tombstone).

export type RetentionPolicy =
  | { mode: 'all', maxBytes?: number }
  | { mode: 'last', count: number, maxBytes?: number }
  | { mode: 'staggered', maxBytes?: number }

const DAY_MS = 24 * 60 * 60 * 1000
const WEEK_MS = 7 * DAY_MS
const MONTH_MS = 30 * DAY_MS

/**
 * Indices (into `recordedMs`, oldest first) of the versions the policy drops.
 * staggered: every version from the last day, the newest of each day for a month, the newest of
 * each week after that.
 */
export function versionsToPrune (recordedMs: number[], policy: RetentionPolicy, nowMs: number): number[] {
  const last = recordedMs.length - 1
  if (last <= 0) return []
  if (policy.mode === 'all') return []
  if (policy.mode === 'last') {
    const keep = Math.max(1, policy.count)
    return range(0, Math.max(0, recordedMs.length - keep))
  }
  const drop: number[] = []
  const seenBuckets = new Set<string>()
  // Walk newest to oldest so the newest version of each bucket is the one kept.
  for (let i = last; i >= 0; i--) {
    const ageMs = nowMs - recordedMs[i]
    if (ageMs < DAY_MS) continue
    const bucket = ageMs < MONTH_MS ? `d${Math.floor(recordedMs[i] / DAY_MS)}` : `w${Math.floor(recordedMs[i] / WEEK_MS)}`
    if (seenBuckets.has(bucket) && i !== last) drop.push(i)
    else seenBuckets.add(bucket)
  }
  return drop.sort((a, b) => a - b)
}

export function parseRetention (text: string): RetentionPolicy {
  const [mode, arg] = text.split(':')
  if (mode === 'all') return { mode: 'all' }
  if (mode === 'staggered') return { mode: 'staggered' }
  if (mode === 'last' && arg !== undefined && /^\d+$/.test(arg) && Number(arg) >= 1) return { mode: 'last', count: Number(arg) }
  throw new TypeError(`retention must be all, staggered or last:N (N ≥ 1), not "${text}"`)
}

function range (from: number, to: number): number[] {
  const out: number[] = []
  for (let i = from; i < to; i++) out.push(i)
  return out
}
