// Which records of a received batch are applied when: the order that is safe (directories before
// their files, deletions deepest first) and the runs of files that can be applied as one group.
import type { FileRecord } from '../core/types.js'

/**
 * A group (see Puller.applyGroup) holds at most this many files and bytes: it bounds how long one group
 * keeps scans waiting and how much is written before one commit records it.
 */
export const GROUP_MAX_FILES = 64
export const GROUP_MAX_BYTES = 8 * 1024 * 1024

/**
 * The order in which a batch is safe to apply: directories that appear, shallow first; then
 * files and links; then deletions, deepest first, so a directory goes only after its children.
 */
export function applyOrder (records: FileRecord[]): FileRecord[] {
  const depth = (r: FileRecord): number => r.path.split('/').length
  const rank = (r: FileRecord): number => r.isDeleted ? 2 : r.kind === 'dir' ? 0 : 1
  return [...records].sort((a, b) => {
    const byRank = rank(a) - rank(b)
    if (byRank !== 0) return byRank
    if (a.isDeleted) return depth(b) - depth(a)
    if (a.kind === 'dir') return depth(a) - depth(b)
    return 0
  })
}

/**
 * The records from `start` that apply as one group: new or changed files (rank 1 of applyOrder,
 * so no order among them matters), or directories that appear (rank 0, applied in order) whose blocks are in (`isFetched`), each path once, within
 * GROUP_MAX_FILES and GROUP_MAX_BYTES. The record at `start` is always in (its blocks were
 * awaited); a group of one applies alone.
 */
export function groupAt (records: FileRecord[], start: number, isFetched: boolean[]): FileRecord[] {
  // Files group with files, and directories that appear with directories (rank 0, shallow first:
  // a group creates them one by one in that order, and syncs their parents once).
  const kind = records[start].kind
  const isGroupable = (r: FileRecord): boolean => r.kind === kind && (kind === 'file' || kind === 'dir') && !r.isDeleted
  if (!isGroupable(records[start])) return [records[start]]
  const group = [records[start]]
  const paths = new Set([records[start].path])
  let bytes = records[start].sizeBytes
  for (let i = start + 1; i < records.length && group.length < GROUP_MAX_FILES; i++) {
    const r = records[i]
    if (!isFetched[i] || !isGroupable(r) || paths.has(r.path) || bytes + r.sizeBytes > GROUP_MAX_BYTES) break
    group.push(r)
    paths.add(r.path)
    bytes += r.sizeBytes
  }
  return group
}

/** Runs `work` on each item, at most `limit` at a time. */
export async function forEachAtOnce<T> (items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => {
    while (next < items.length) await work(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}
