// The reconciliation planner: one folder's local records against a batch of a peer's records,
// decided by version vectors, into an ordered list of actions. Pure: the applier does the I/O.
import { bumpVector, compareVectors, mergeVectors } from './clock.js'
import { chooseWinner, conflictName } from './conflict.js'
import type { DeviceShort, FileRecord } from './types.js'
import { bytesEqual } from './bytes.js'

/*
 * Why every device ends in the same state (checked by the convergence property in plan.test.ts):
 * - The winner of two concurrent records is the chooseWinner maximum: a total order over metadata
 *   that every device sees alike, so all devices pick the same content whatever order they meet in.
 * - A resolution that picks between different states (a conflict, delete vs edit, same bytes with
 *   other metadata) is a new event of the resolving device: merge(local, remote) bumped by it. Only
 *   a bump keeps "one vector, one content": a merged vector alone can be reached from different
 *   sets of versions. Example: B resolves A's x1 over its own x2 (merged {A:1, B:1}); A, which
 *   never saw x2, deletes x1 ({A:2}); C, which has x2 but not x1, meets A's delete and keeps x2.
 *   Without a bump B (keeping x1) and C (keeping x2) would both hold {A:2, B:1} and never compare
 *   again. With it they hold concurrent vectors and resolve once more, to the same winner.
 * - Records with the same state and concurrent vectors (two devices that resolved the same
 *   conflict, the same content written twice, two deletes) are only merged, not bumped, with the
 *   winner's metadata: that is what makes the resolutions above stop after one extra round
 *   instead of bumping back and forth forever.
 * - A conflict copy is a record of its own, made deterministically from the loser: same content,
 *   mtime and author, vector `{author: 1}`, at a name derived from the loser's mtime and author.
 *   Every device resolving the same conflict makes the identical copy record, so copies made on two
 *   devices compare 'equal' instead of conflicting with each other (which, had each device bumped
 *   its own vector, would turn a later edit of the copy into a spurious conflict and a copy of the
 *   copy). A copy already in the index, or deleted or edited since (a vector that dominates it), is
 *   not made again.
 * - A directory kept because it still holds files after a newer remote delete (`keepIfNotEmpty`)
 *   is a new event too, bumped for the same reason.
 */

export type Action = PullAction | DeleteAction | AdoptAction | AnnounceAction | ConflictAction

/** Make the local path equal to `record` (content, dir, symlink, or metadata only). */
export interface PullAction {
  type: 'pull'
  remote: FileRecord
  local: FileRecord | undefined
  /** What the index holds afterwards. */
  record: FileRecord
  /** Same bytes already here (kind, hash, link target): only mode or mtime change, nothing to fetch. */
  isMetadataOnly: boolean
}

/** Remove the local path: the peer's tombstone is newer than what we hold. */
export interface DeleteAction {
  type: 'delete'
  remote: FileRecord
  local: FileRecord
  /** The tombstone the index holds afterwards. */
  record: FileRecord
  /**
   * Directories only: what the index must hold instead if the directory cannot be removed because
   * it still holds files the peer did not know of (they are "edits", and the edit wins). Its vector
   * dominates the tombstone, so the peer recreates the directory.
   */
  keepIfNotEmpty?: FileRecord
}

/** Only the index changes: both sides already hold the same state (or the path is absent here). */
export interface AdoptAction {
  type: 'adopt'
  remote: FileRecord
  local: FileRecord | undefined
  record: FileRecord
}

/**
 * Local state won against a concurrent remote one (delete vs edit, or the same bytes with other
 * metadata): only the index changes, to a vector that dominates both, so the peer pulls it.
 */
export interface AnnounceAction {
  type: 'announce'
  remote: FileRecord
  local: FileRecord
  record: FileRecord
}

/** Both sides changed the content concurrently: the winner keeps the path, the loser a conflict copy. */
export interface ConflictAction {
  type: 'conflict'
  winner: 'local' | 'remote'
  remote: FileRecord
  local: FileRecord
  /** What the path holds afterwards: the winner, with merge(local, remote) bumped by this device. */
  record: FileRecord
  /** The side that lost (always a live file or symlink). */
  loser: FileRecord
  /** Where the loser is kept: `name.sync-conflict-YYYYMMDD-HHMMSS-<device>.ext` beside the path. */
  conflictPath: string
  /**
   * What to write at `conflictPath` and record there: the loser's content, mtime and author, with
   * the vector `{author: 1}` (identical on every device that resolves this conflict). Undefined
   * when the index already holds it there, or a later change of it (the user deleted or edited the
   * copy): nothing to write.
   */
  copy: FileRecord | undefined
}

export interface PlanInput {
  /** The local index record of a path; called only for the paths of the remote batch and their conflict copies. */
  local: (path: string) => FileRecord | undefined
  /** A batch of the peer's records. A path listed twice counts once: its last record (the newer). */
  remote: Iterable<FileRecord>
  localDevice: DeviceShort
  /** The printable device name used in conflict copy names, e.g. the first 7 characters of the ID. */
  deviceLabel: (device: DeviceShort) => string
}

/**
 * Plans one batch of remote records against the local index. Returns at most one action per path,
 * ordered so that applying them in sequence is safe: directories that appear, shallow first; then
 * files, symlinks and index-only changes by path; then removals (deletes, and a directory replaced by
 * a file or symlink) deepest first, so a directory goes only after its children.
 */
export function planFolder ({ local, remote, localDevice, deviceLabel }: PlanInput): Action[] {
  const latest = new Map<string, FileRecord>()
  for (const record of remote) {
    latest.delete(record.path) // keep insertion order of the last occurrence
    latest.set(record.path, record)
  }
  const actions: Action[] = []
  for (const record of latest.values()) {
    const action = planPath(local(record.path), record, localDevice, deviceLabel, local)
    if (action !== undefined) actions.push(action)
  }
  return orderActions(actions)
}

/**
 * The action for one remote record against the local one, or undefined when the local side already
 * has it (or is newer). `localAt` looks up the conflict copy's path, so that a copy already made
 * (or deleted since) is not made again; without it a conflict always carries its copy and the
 * applier checks it with isCopyNeeded against its index.
 */
export function planPath (
  local: FileRecord | undefined,
  remote: FileRecord,
  localDevice: DeviceShort,
  deviceLabel: (device: DeviceShort) => string,
  localAt?: (path: string) => FileRecord | undefined
): Action | undefined {
  if (local === undefined) {
    // A tombstone for a path we never had is still kept, so it reaches devices that do have the path.
    return remote.isDeleted ? { type: 'adopt', remote, local, record: remote } : pull(local, remote, remote)
  }
  const order = compareVectors(remote.vector, local.vector)
  // Equal vectors with different bytes: two states that each claim to be the same version. The one
  // way we know of is a conflict copy (vector {author: 1}) of two different losing versions that an
  // author saved in the same second, so both copies got one name. Taken as a conflict, so that
  // one keeps the name, the other gets a name of its own, and the devices converge with both kept.
  if (order === 'equal' && isLiveFile(local) && isLiveFile(remote) && !isSameBytes(local, remote)) {
    return planConcurrent(local, remote, localDevice, deviceLabel, localAt)
  }
  if (order === 'equal' || order === 'before') return undefined
  if (order === 'after') {
    if (remote.isDeleted) {
      if (local.isDeleted) return { type: 'adopt', remote, local, record: remote }
      const action: DeleteAction = { type: 'delete', remote, local, record: remote }
      if (local.kind === 'dir') {
        action.keepIfNotEmpty = {
          ...local,
          vector: bumpVector(mergeVectors(local.vector, remote.vector), localDevice),
          modifiedBy: localDevice
        }
      }
      return action
    }
    if (isSameState(local, remote)) return { type: 'adopt', remote, local, record: remote }
    return pull(local, remote, remote)
  }
  return planConcurrent(local, remote, localDevice, deviceLabel, localAt)
}

function planConcurrent (
  local: FileRecord,
  remote: FileRecord,
  localDevice: DeviceShort,
  deviceLabel: (device: DeviceShort) => string,
  localAt: ((path: string) => FileRecord | undefined) | undefined
): Action {
  const merged = mergeVectors(local.vector, remote.vector)
  const isLocalWinner = chooseWinner(local, remote) === 'a'
  // The winner's metadata (author, mtime) is kept: it ranks the record and names copies everywhere.
  const winner = isLocalWinner ? local : remote
  if (isSameState(local, remote)) return { type: 'adopt', remote, local, record: { ...winner, vector: merged } }
  const record: FileRecord = { ...winner, vector: bumpVector(merged, localDevice) }
  if (!local.isDeleted && !remote.isDeleted && !isSameBytes(local, remote)) {
    const loser = isLocalWinner ? remote : local
    const conflictPath = conflictName(loser.path, loser.mtimeMs, deviceLabel(loser.modifiedBy))
    const copy = copyRecord(loser, conflictPath)
    return {
      type: 'conflict',
      winner: isLocalWinner ? 'local' : 'remote',
      remote,
      local,
      record,
      loser,
      conflictPath,
      copy: localAt === undefined || isCopyNeeded(copy, localAt(conflictPath)) ? copy : undefined
    }
  }
  // Delete vs edit (the live side wins by chooseWinner), or the same bytes with other metadata.
  if (isLocalWinner) return { type: 'announce', remote, local, record }
  return pull(local, remote, record)
}

/**
 * The loser at its conflict path: its content, mode, mtime and author, and the vector
 * `{author: 1}`. The copy is a new path whose name already says which version it holds (author and
 * mtime), so the vector only has to be the same on every device that makes it, and be dominated by
 * any later edit or deletion of the copy. The loser's own vector would not do: resolutions merge it
 * differently on different devices, even the author's counter (an author's later, losing delete
 * raises it), and two devices would then make the same copy with concurrent vectors.
 * Only FileRecord fields: no local extras such as an inode.
 */
function copyRecord (loser: FileRecord, path: string): FileRecord {
  return {
    path,
    kind: loser.kind,
    sizeBytes: loser.sizeBytes,
    mtimeMs: loser.mtimeMs,
    mode: loser.mode,
    vector: { [loser.modifiedBy]: 1 },
    isDeleted: false,
    blocks: loser.blocks,
    hash: loser.hash,
    linkTarget: loser.linkTarget,
    modifiedBy: loser.modifiedBy,
    sequence: 0
  }
}

/**
 * Whether a conflict copy must still be written, given what the index holds at its path: not when
 * it holds the same bytes already, nor when it has seen this copy and moved on (a vector that
 * dominates or equals it: the user deleted or edited the copy).
 */
export function isCopyNeeded (copy: FileRecord, existing: FileRecord | undefined): boolean {
  if (existing === undefined) return true
  if (isSameBytes(existing, copy)) return false
  const order = compareVectors(existing.vector, copy.vector)
  return order !== 'after' && order !== 'equal'
}

function pull (local: FileRecord | undefined, remote: FileRecord, record: FileRecord): PullAction {
  return { type: 'pull', remote, local, record, isMetadataOnly: local !== undefined && isSameBytes(local, record) }
}

/** Same kind and content on disk: both live, and equal hash and link target (directories have neither). */
function isLiveFile (r: FileRecord): boolean { return !r.isDeleted && r.kind === 'file' }

export function isSameBytes (a: FileRecord, b: FileRecord): boolean {
  if (a.isDeleted || b.isDeleted || a.kind !== b.kind) return false
  if (a.kind === 'dir') return true
  return a.linkTarget === b.linkTarget && a.sizeBytes === b.sizeBytes && bytesEqual(a.hash, b.hash)
}

/**
 * Nothing on disk would change: both tombstones, or same bytes and mode (and mtime, for files; a
 * directory's mtime moves with its children and a symlink's cannot be set portably, so neither counts).
 */
export function isSameState (a: FileRecord, b: FileRecord): boolean {
  if (a.isDeleted && b.isDeleted) return true
  if (!isSameBytes(a, b) || a.mode !== b.mode) return false
  return a.kind !== 'file' || a.mtimeMs === b.mtimeMs
}

type Phase = 0 | 1 | 2

/** 0: a directory appears here; 2: something here is removed (a delete, or a dir replaced by a non-dir); 1: the rest. */
function phaseOf (action: Action): Phase {
  if (action.type === 'delete') return 2
  if (action.type === 'pull') {
    const isLocalDir = action.local !== undefined && !action.local.isDeleted && action.local.kind === 'dir'
    if (action.record.kind === 'dir') return isLocalDir ? 1 : 0
    return isLocalDir ? 2 : 1
  }
  if (action.type === 'conflict' && action.winner === 'remote' && action.record.kind === 'dir') return 0
  return 1
}

function depthOf (path: string): number {
  let depth = 0
  for (let i = 0; i < path.length; i++) if (path.charCodeAt(i) === 47) depth++
  return depth
}

/** Sorts actions into the safe order planFolder returns (see there). */
export function orderActions (actions: Action[]): Action[] {
  const keyed = actions.map(action => ({ action, phase: phaseOf(action), depth: depthOf(action.record.path), path: action.record.path }))
  keyed.sort((x, y) => {
    if (x.phase !== y.phase) return x.phase - y.phase
    if (x.phase === 0 && x.depth !== y.depth) return x.depth - y.depth
    if (x.phase === 2 && x.depth !== y.depth) return y.depth - x.depth
    return x.path < y.path ? -1 : x.path > y.path ? 1 : 0
  })
  return keyed.map(k => k.action)
}

/** Content still to fetch for a list of actions, for progress: file count and bytes. */
export function needSummary (actions: Iterable<Action>): { files: number, bytes: number } {
  let files = 0
  let bytes = 0
  for (const action of actions) {
    const content = contentToFetch(action)
    if (content === undefined) continue
    files += 1
    bytes += content.sizeBytes
  }
  return { files, bytes }
}

/** The remote file record whose bytes an action brings here, if any (blocks may still be found locally). */
export function contentToFetch (action: Action): FileRecord | undefined {
  if (action.type === 'pull') return action.record.kind === 'file' && !action.isMetadataOnly ? action.record : undefined
  if (action.type === 'conflict') {
    // The remote side's content is needed either at the path (remote wins) or as the conflict copy.
    const content = action.winner === 'remote' ? action.record : action.copy
    return content?.kind === 'file' ? content : undefined
  }
  return undefined
}
