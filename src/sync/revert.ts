// `lansync folder revert`: a receive-only folder drops its local changes and takes the cluster's
// state back: an edited or deleted path gets the cluster's version (from the block store), a path
// added here is removed. Every local edit was recorded as a version when it was scanned, so
// `lansync history` / `restore` bring it back.
import { revertAction, revertChange, type ItemChange } from '../core/folder-type.js'
import { orderActions, type Action } from '../core/plan.js'
import { isLansyncError, LansyncError } from '../errors.js'
import { applyDelete, applyMetadata, applyRecord } from '../fs/apply.js'
import { EMPTY_HASH } from '../fs/scanner.js'
import type { FolderRunner } from './folder-runner.js'
import { assertType } from './override.js'

export interface RevertResult {
  folder: string
  label: string
  isDryRun: boolean
  /** Paths that hold the cluster's version again (on a dry run: would). */
  reverted: number
  paths: string[]
  /** Per path, what revert does (did) to it here. */
  items: Array<{ path: string, change: ItemChange }>
  /** Paths that could not be reverted (each is also a problem in `status`). */
  failed: Array<{ path: string, code: string, message: string }>
}

/**
 * Puts the cluster's version back over every local change. A dry run only lists them: it scans
 * (as the agent does anyway) but writes nothing to the folder.
 */
export async function revertFolder (runner: FolderRunner, { isDryRun = false }: { isDryRun?: boolean } = {}): Promise<RevertResult> {
  const { id, label, path: root } = runner.folder
  assertType(runner, 'receiveonly', 'revert', 'puts the cluster\'s version back over a receive-only folder\'s local changes')
  if (!(await runner.hasMarker())) {
    throw new LansyncError('FOLDER_MARKER_MISSING', `folder "${label}": its marker is missing at ${root}; mount its disk first, then revert`)
  }
  await runner.scan(['']) // every local change is recorded (and so in history) before it is replaced, or listed
  const store = runner.store
  const planned: Action[] = []
  for await (const { path, base } of store.localChanges(id)) {
    const local = await store.getRecord(id, path)
    if (local?.isLocalOnly !== true) continue
    planned.push(revertAction(local, base, EMPTY_HASH))
  }
  const ordered = orderActions(planned)
  if (isDryRun) {
    const items = ordered.map(a => ({ path: a.record.path, change: revertChange(a) })).sort((x, y) => x.path < y.path ? -1 : 1)
    return { folder: id, label, isDryRun, reverted: items.length, paths: items.map(i => i.path), items, failed: [] }
  }
  const items: RevertResult['items'] = []
  const failed: RevertResult['failed'] = []
  for (const action of ordered) {
    const path = action.record.path
    try {
      const isDone = await runner.exclusive(async () => {
        const local = await store.getRecord(id, path)
        // Changed again since it was planned (a scan ran): left for another revert.
        if (local?.sequence !== action.local?.sequence) return false
        return await apply(runner, action, local)
      })
      if (isDone) items.push({ path, change: revertChange(action) })
    } catch (err) {
      if (!isLansyncError(err)) throw err
      runner.reportProblem({ path, code: err.code, message: `not reverted: ${err.message}` }, 'sync')
      failed.push({ path, code: err.code, message: err.message })
    }
  }
  items.sort((x, y) => x.path < y.path ? -1 : 1)
  return { folder: id, label, isDryRun, reverted: items.length, paths: items.map(i => i.path), items, failed }
}

/** Puts one revert action on disk and in the index; false when a directory still holds files. */
async function apply (runner: FolderRunner, action: Action, local: Awaited<ReturnType<FolderRunner['store']['getRecord']>>): Promise<boolean> {
  const root = runner.folder.path
  const store = runner.store
  switch (action.type) {
    case 'pull': {
      const applied = action.isMetadataOnly && action.record.kind === 'file'
        ? await applyMetadata(root, action.record, local)
        : await applyRecord(root, store, action.record, local)
      await runner.commit([{ record: { ...action.record, ...applied, isLocalOnly: false }, origin: 'restore' }])
      return true
    }
    case 'delete': {
      if (!(await applyDelete(root, action.record.path, local))) {
        throw new LansyncError('PATH_BLOCKED', `${action.record.path}: the directory still holds files the other devices do not have`)
      }
      await runner.commit([{ record: { ...action.record, inode: 0, isLocalOnly: false }, origin: 'restore' }])
      return true
    }
    default:
      await runner.commit([{ record: { ...action.record, inode: local?.inode ?? 0, isLocalOnly: false } }])
      return true
  }
}
