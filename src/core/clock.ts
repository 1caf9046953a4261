// Version vectors: compare, merge, bump. Pure functions over plain objects; never mutate inputs.
import type { DeviceShort, VersionVector } from './types.js'

export type Ordering = 'equal' | 'before' | 'after' | 'concurrent'

/** How `a` relates to `b`: 'before' means b has seen everything a has and more. */
export function compareVectors (a: VersionVector, b: VersionVector): Ordering {
  let aAhead = false
  let bAhead = false
  for (const key of new Set([...Object.keys(a), ...Object.keys(b)])) {
    const x = a[key] ?? 0
    const y = b[key] ?? 0
    if (x > y) aAhead = true
    else if (y > x) bAhead = true
    if (aAhead && bAhead) return 'concurrent'
  }
  if (aAhead) return 'after'
  if (bAhead) return 'before'
  return 'equal'
}

/** Element-wise maximum: a vector that dominates or equals both inputs. */
export function mergeVectors (a: VersionVector, b: VersionVector): VersionVector {
  const out: VersionVector = { ...a }
  for (const [key, value] of Object.entries(b)) {
    if ((out[key] ?? 0) < value) out[key] = value
  }
  return out
}

/**
 * A new vector for a change made by `device`. Its counter becomes larger than every counter in
 * the vector, so that a device whose database was wiped (and restarts at a low count) can never
 * produce a vector that another device already saw as older.
 */
export function bumpVector (vector: VersionVector, device: DeviceShort): VersionVector {
  let highest = 0
  for (const value of Object.values(vector)) if (value > highest) highest = value
  return { ...vector, [device]: highest + 1 }
}

export function vectorsEqual (a: VersionVector, b: VersionVector): boolean {
  return compareVectors(a, b) === 'equal'
}
