// Applies a retention policy to a folder's history, and collects the blocks no version needs.
import { versionsToPrune, type RetentionPolicy } from '../core/retention.js'
import type { Store, VersionEntry } from './store.js'

export interface PruneResult { versionsRemoved: number, versionsKept: number }
/** `blockBytesRemoved`: the bytes of the blocks removed; `bytesFreed`: the disk space that came back. */
export interface GcResult { blocksRemoved: number, blockBytesRemoved: number, bytesFreed: number, blocksKept: number }

/** Drops the versions the policy does not keep; then, if `maxBytes` is set, the oldest until under it. */
export async function pruneFolder (store: Store, folderId: string, policy: RetentionPolicy, nowMs: number): Promise<PruneResult> {
  let removed = 0
  let kept = 0
  const survivors: VersionEntry[] = []
  const currents: VersionEntry[] = []
  for await (const { versions } of store.versionsByPath(folderId)) {
    const drop = new Set(versionsToPrune(versions.map(v => v.recordedMs), policy, nowMs))
    await store.deleteVersions(folderId, versions.filter((_, i) => drop.has(i)))
    removed += drop.size
    kept += versions.length - drop.size
    const remaining = versions.filter((_, i) => !drop.has(i))
    if (policy.maxBytes !== undefined) {
      currents.push(remaining[remaining.length - 1])
      survivors.push(...remaining.slice(0, -1))
    }
  }
  if (policy.maxBytes !== undefined) {
    const dropped = dropOldestOverBudget(currents, survivors, policy.maxBytes)
    await store.deleteVersions(folderId, dropped)
    removed += dropped.length
    kept -= dropped.length
  }
  return { versionsRemoved: removed, versionsKept: kept }
}

/**
 * Oldest-first, the non-current versions to drop so that the unique block bytes of what remains
 * fit in `maxBytes` (blocks shared between versions count once). Current versions always stay.
 */
function dropOldestOverBudget (currents: VersionEntry[], older: VersionEntry[], maxBytes: number): VersionEntry[] {
  const refs = new Map<string, { sizeBytes: number, count: number }>()
  let total = 0
  const add = (v: VersionEntry, delta: 1 | -1): void => {
    for (const b of v.blocks) {
      const key = Buffer.from(b.hash).toString('hex')
      const entry = refs.get(key) ?? { sizeBytes: b.sizeBytes, count: 0 }
      if (entry.count === 0 && delta === 1) total += b.sizeBytes
      entry.count += delta
      if (entry.count === 0) total -= b.sizeBytes
      refs.set(key, entry)
    }
  }
  for (const v of currents) add(v, 1)
  for (const v of older) add(v, 1)
  const dropped: VersionEntry[] = []
  for (const v of [...older].sort((a, b) => a.recordedMs - b.recordedMs)) {
    if (total <= maxBytes) break
    add(v, -1)
    dropped.push(v)
  }
  return dropped
}

/**
 * Mark and sweep: removes every stored block that no version or index record references, in any
 * folder (a removed folder's history stays restorable until its records are gone), then compacts.
 * Dead blocks in a pack that is still mostly live keep their space until more of it dies.
 */
export async function collectGarbage (store: Store): Promise<GcResult> {
  const live = new Set<string>()
  for await (const hash of store.referencedBlockHashes()) live.add(hash)
  let blocksRemoved = 0
  let blockBytesRemoved = 0
  let blocksKept = 0
  let doomed: string[] = []
  for await (const { hash, sizeBytes } of store.blockHashes()) {
    if (live.has(hash)) { blocksKept += 1; continue }
    doomed.push(hash)
    blocksRemoved += 1
    blockBytesRemoved += sizeBytes
    if (doomed.length >= 1000) { await store.deleteBlocks(doomed); doomed = [] }
  }
  await store.deleteBlocks(doomed)
  const bytesFreed = await store.compact()
  return { blocksRemoved, blockBytesRemoved, bytesFreed, blocksKept }
}
