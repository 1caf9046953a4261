// Folder types (Syncthing's three): what a send-only or receive-only folder does with a remote
// record, and the records `folder override` and `folder revert` write. Pure: the puller, the
// store and the ops do the I/O. The wire never changes: the behaviour is this device's alone.
import { bumpVector, compareVectors, mergeVectors } from './clock.js'
import { isSameBytes, isSameState, planPath, type Action } from './plan.js'
import type { DeviceShort, FileRecord } from './types.js'

/**
 * 'sendreceive': the default. 'sendonly': remote changes are not applied here (they are kept as
 * "out of sync" until `folder override` pushes this device's state over them). 'receiveonly':
 * local changes are not sent (they are "locally changed" until `folder revert` or a newer remote
 * version replaces them; either way the local edit stays in history).
 */
export type FolderType = 'sendreceive' | 'sendonly' | 'receiveonly'
export const FOLDER_TYPES: readonly FolderType[] = ['sendreceive', 'sendonly', 'receiveonly']

/** What to do with one remote record: apply an action, keep it as out of sync (send-only), or nothing. */
export type RemoteDecision =
  | { kind: 'apply', action: Action }
  | { kind: 'ignore' }
  | { kind: 'none' }

export interface DecideInput {
  type: FolderType
  local: FileRecord | undefined
  remote: FileRecord
  /**
   * Receive-only only: the path is locally changed, and this is the cluster's record of it from
   * before the change (`null`: the cluster had no record, the path was added here). Undefined:
   * the path is not locally changed.
   */
  base?: FileRecord | null
  localDevice: DeviceShort
  deviceLabel: (device: DeviceShort) => string
  localAt?: (path: string) => FileRecord | undefined
}

/**
 * The decision for one remote record in a folder of `type`.
 * - send-only: only what leaves the disk as it is applies (an index-only adopt, or an announce of
 *   the local state that won); anything that would change the disk is ignored (out of sync).
 * - receive-only, a locally changed path: a remote record newer than the cluster's record the
 *   change started from (or concurrent with it) replaces the local change, as in Syncthing: the
 *   remote version is written and the local edit stays in history. One that is not newer changes
 *   nothing (the local change stays). No conflict copy: the local change never reached the cluster.
 * - otherwise the planner decides as for send-and-receive.
 */
export function decideRemote ({ type, local, remote, base, localDevice, deviceLabel, localAt }: DecideInput): RemoteDecision {
  if (type === 'receiveonly' && base !== undefined && local !== undefined) {
    const action = replaceLocalChange(local, remote, base)
    return action === undefined ? { kind: 'none' } : { kind: 'apply', action }
  }
  const action = planPath(local, remote, localDevice, deviceLabel, localAt)
  if (action === undefined) return { kind: 'none' }
  if (type === 'sendonly' && action.type !== 'adopt' && action.type !== 'announce') return { kind: 'ignore' }
  return { kind: 'apply', action }
}

/** Receive-only: the action that puts `remote` over a local change, or undefined when `remote` is not newer than `base`. */
function replaceLocalChange (local: FileRecord, remote: FileRecord, base: FileRecord | null): Action | undefined {
  if (base !== null) {
    const order = compareVectors(remote.vector, base.vector)
    if (order === 'equal' || order === 'before') return undefined
  }
  return makeLocalEqual(local, remote)
}

/** The action that makes the path (held as `local`) what `target` says, whatever their vectors. */
function makeLocalEqual (local: FileRecord, target: FileRecord): Action {
  if (target.isDeleted) {
    if (local.isDeleted) return { type: 'adopt', remote: target, local, record: target }
    return { type: 'delete', remote: target, local, record: target }
  }
  if (isSameState(local, target)) return { type: 'adopt', remote: target, local, record: target }
  return { type: 'pull', remote: target, local, record: target, isMetadataOnly: isSameBytes(local, target) }
}

/**
 * Send-only: keeps the newest knowledge of a path's remote state across records (of one or more
 * peers): the newer record; of concurrent ones the incoming, with both vectors merged, so that an
 * override made from it dominates everything this device was sent.
 */
export function mergeIgnored (existing: FileRecord | undefined, incoming: FileRecord): FileRecord {
  if (existing === undefined) return incoming
  const order = compareVectors(incoming.vector, existing.vector)
  if (order === 'after' || order === 'equal') return incoming
  if (order === 'before') return existing
  return { ...incoming, vector: mergeVectors(existing.vector, incoming.vector) }
}

/**
 * Send-only: whether a kept remote record still differs from what this device holds, i.e. the
 * planner would change the disk for it. False once the local record caught up (an override, or
 * the cluster took this device's version).
 */
export function isOutOfSync (local: FileRecord | undefined, ignored: FileRecord, localDevice: DeviceShort): boolean {
  const action = planPath(local, ignored, localDevice, d => d)
  return action !== undefined && action.type !== 'adopt' && action.type !== 'announce'
}

/**
 * `folder override` on a send-only folder: the record that makes this device's state of a path
 * win over the remote one it ignored. Same content (or a tombstone where this device has nothing),
 * with a vector that dominates both, bumped by this device, so every peer pulls it.
 */
export function overrideRecord (local: FileRecord | undefined, ignored: FileRecord, localDevice: DeviceShort, nowMs: number, emptyHash: Uint8Array): FileRecord {
  const vector = bumpVector(mergeVectors(local?.vector ?? {}, ignored.vector), localDevice)
  if (local !== undefined) return { ...local, vector, modifiedBy: localDevice }
  return {
    path: ignored.path,
    kind: ignored.kind,
    sizeBytes: 0,
    mtimeMs: nowMs,
    mode: ignored.mode,
    vector,
    isDeleted: true,
    blocks: [],
    hash: emptyHash,
    linkTarget: '',
    modifiedBy: localDevice,
    sequence: 0
  }
}

/**
 * `folder revert` on a receive-only folder: the action that puts the cluster's record `base` back
 * over a local change (`null`: the path was added here, so it is removed). The record written is
 * the cluster's own (its vector), so peers see nothing new; a removed local addition becomes a
 * tombstone with the local change's vector (peers that never had the path just keep it).
 */
export function revertAction (local: FileRecord, base: FileRecord | null, emptyHash: Uint8Array): Action {
  const target: FileRecord = base ?? {
    ...local,
    isDeleted: true,
    sizeBytes: 0,
    blocks: [],
    hash: emptyHash,
    linkTarget: ''
  }
  return makeLocalEqual(local, target)
}

/**
 * What a path's override or revert does, for people (and `--dry-run`): 'replace' its content,
 * 'restore' a deleted path, 'delete' one, or 'index' (the disk already agrees; only records change).
 */
export type ItemChange = 'replace' | 'restore' | 'delete' | 'index'

/** Override: what happens to the path on the peers that hold `ignored`. */
export function overrideChange (local: FileRecord | undefined, ignored: FileRecord): ItemChange {
  const isLocalLive = local !== undefined && !local.isDeleted
  if (!isLocalLive) return ignored.isDeleted ? 'index' : 'delete'
  return ignored.isDeleted ? 'restore' : 'replace'
}

/** Revert: what happens to the path here. */
export function revertChange (action: Action): ItemChange {
  if (action.type === 'delete') return 'delete'
  if (action.type === 'pull') return action.local === undefined || action.local.isDeleted ? 'restore' : 'replace'
  return 'index'
}
