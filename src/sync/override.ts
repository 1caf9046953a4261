// `lansync folder override`: a send-only folder pushes its state over the remote changes it did
// not apply. Nothing on disk changes here: each out-of-sync path gets a record with this device's
// content (or a tombstone where it has nothing) and a vector that dominates the remote one, so
// peers pull it (their replaced versions stay in their history).
import { isOutOfSync, overrideChange, overrideRecord, type ItemChange } from '../core/folder-type.js'
import { LansyncError } from '../errors.js'
import { EMPTY_HASH } from '../fs/scanner.js'
import type { Change } from '../store/store.js'
import type { FolderRunner } from './folder-runner.js'

export interface OverrideResult {
  folder: string
  label: string
  isDryRun: boolean
  /** Paths whose version from this device now wins (or would, on a dry run). */
  overridden: number
  paths: string[]
  /** Per path, what the peers that hold another version get. */
  items: Array<{ path: string, change: ItemChange }>
}

const BATCH = 500

/**
 * Pushes this device's state over every out-of-sync path. A dry run only lists them: it scans
 * (as the agent does anyway) but writes nothing to the folder and sends nothing.
 */
export async function overrideFolder (runner: FolderRunner, { isDryRun = false, now = Date.now }: { isDryRun?: boolean, now?: () => number } = {}): Promise<OverrideResult> {
  const { id, label } = runner.folder
  assertType(runner, 'sendonly', 'override', 'pushes a send-only folder\'s state to the other devices')
  if (!(await runner.hasMarker())) {
    throw new LansyncError('FOLDER_MARKER_MISSING', `folder "${label}": its marker is missing at ${runner.folder.path}; mount its disk first, then override`)
  }
  await runner.scan(['']) // the records pushed (or listed) say what the disk holds now
  return await runner.exclusive(async () => {
    const store = runner.store
    const seen: string[] = []
    const items: OverrideResult['items'] = []
    let changes: Change[] = []
    for await (const ignored of store.ignoredRecords(id)) {
      seen.push(ignored.path)
      const local = await store.getRecord(id, ignored.path)
      if (!isOutOfSync(local, ignored, runner.device)) continue
      items.push({ path: ignored.path, change: overrideChange(local, ignored) })
      if (isDryRun) continue
      changes.push({ record: { ...overrideRecord(local, ignored, runner.device, now(), EMPTY_HASH), inode: local?.inode ?? 0, isLocalOnly: false } })
      if (changes.length >= BATCH) { await runner.commit(changes); changes = [] }
    }
    if (!isDryRun) {
      await runner.commit(changes)
      await store.dropIgnored(id, seen)
    }
    return { folder: id, label, isDryRun, overridden: items.length, paths: items.map(i => i.path), items }
  })
}

/** Override and revert each belong to one folder type: another gets FOLDER_TYPE_MISMATCH. */
export function assertType (runner: FolderRunner, wanted: 'sendonly' | 'receiveonly', command: string, what: string): void {
  const { label, type } = runner.folder
  if (type === wanted) return
  throw new LansyncError('FOLDER_TYPE_MISMATCH', `folder "${label}" is ${type}: \`lansync folder ${command}\` ${what}, so it needs a ${wanted} folder (change it with \`lansync folder set ${label} --type ${wanted}\`)`)
}
