// `lansync plan`: what applying a peer's not-yet-applied records would do here, computed by the
// same pure planner the puller runs, against the index as it is now. Reads only; changes nothing.
import { contentToFetch, isCopyNeeded, type Action } from '../core/plan.js'
import { decideRemote, type FolderType } from '../core/folder-type.js'
import type { FileRecord } from '../core/types.js'
import type { Store } from '../store/store.js'

export interface PreviewPull { path: string, kind: string, sizeBytes: number, bytesToFetch: number, device: string, isMetadataOnly: boolean, isNew: boolean }
export interface PreviewDelete { path: string, kind: string, device: string }
export interface PreviewConflict { path: string, winner: 'local' | 'remote', conflictPath: string, device: string, bytesToFetch: number }

export interface PeerPreview {
  pull: PreviewPull[]
  delete: PreviewDelete[]
  conflict: PreviewConflict[]
  /** Records that change only the index here (the same state already on disk). */
  indexOnly: number
  /** Files whose content would be written (pulls and conflicts). */
  files: number
  /** Their size. */
  bytes: number
  /** What would cross the network: their blocks not held anywhere in the local block store. */
  bytesToFetch: number
}

export interface PreviewOptions {
  store: Store
  folderId: string
  localDevice: string
  deviceLabel: (short: string) => string
  deviceName: (short: string) => string
  /** The folder's type: a send-only folder applies no change, a receive-only one replaces local changes (see core/folder-type.ts). */
  type?: FolderType
}

/** Plans each record (the newest per path) against the local index, path by path. */
export async function previewRecords (records: FileRecord[], { store, folderId, localDevice, deviceLabel, deviceName, type = 'sendreceive' }: PreviewOptions): Promise<PeerPreview> {
  const latest = new Map<string, FileRecord>()
  for (const r of records) if ((latest.get(r.path)?.sequence ?? -1) <= r.sequence) latest.set(r.path, r)
  const out: PeerPreview = { pull: [], delete: [], conflict: [], indexOnly: 0, files: 0, bytes: 0, bytesToFetch: 0 }
  const counted = new Set<string>() // a block needed twice crosses the network once
  for (const remote of [...latest.values()].sort((a, b) => a.path < b.path ? -1 : a.path > b.path ? 1 : 0)) {
    const local = await store.getRecord(folderId, remote.path)
    const base = type === 'receiveonly' && local?.isLocalOnly === true ? await store.localBase(folderId, remote.path) : undefined
    const decision = decideRemote({ type, local, remote, base, localDevice, deviceLabel })
    const action = decision.kind === 'apply' ? await withoutMadeCopy(store, folderId, decision.action) : undefined
    if (action === undefined) continue
    const content = contentToFetch(action)
    const toFetch = content === undefined ? 0 : await missingBytes(store, content, counted)
    if (content !== undefined) { out.files += 1; out.bytes += content.sizeBytes; out.bytesToFetch += toFetch }
    const device = deviceName(remote.modifiedBy)
    switch (action.type) {
      case 'pull':
        out.pull.push({ path: remote.path, kind: action.record.kind, sizeBytes: action.record.sizeBytes, bytesToFetch: toFetch, device, isMetadataOnly: action.isMetadataOnly, isNew: local === undefined || local.isDeleted })
        break
      case 'delete':
        out.delete.push({ path: remote.path, kind: action.local.kind, device })
        break
      case 'conflict':
        out.conflict.push({ path: remote.path, winner: action.winner, conflictPath: action.conflictPath, device, bytesToFetch: toFetch })
        break
      default:
        out.indexOnly += 1
    }
  }
  return out
}

/** The conflict copy dropped when the index already has it (as the puller does). */
async function withoutMadeCopy (store: Store, folderId: string, action: Action): Promise<Action> {
  if (action.type === 'conflict' && action.copy !== undefined && !isCopyNeeded(action.copy, await store.getRecord(folderId, action.conflictPath))) {
    return { ...action, copy: undefined }
  }
  return action
}

async function missingBytes (store: Store, record: FileRecord, counted: Set<string>): Promise<number> {
  let bytes = 0
  for (const block of record.blocks) {
    const key = Buffer.from(block.hash).toString('hex')
    if (counted.has(key)) continue
    counted.add(key)
    if (!(await store.hasBlock(block.hash))) bytes += block.sizeBytes
  }
  return bytes
}
