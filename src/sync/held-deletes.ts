// `lansync folder resume`: a person confirmed the remote deletes the mass-delete guard held, so
// they are applied now, each planned again against what the folder holds today (a file edited
// since is kept: the edit beats the delete). The deleted versions stay in history.
import { LansyncError } from '../errors.js'
import type { StoredRecord } from '../store/store.js'
import { BlockFetcher } from './block-fetcher.js'
import type { FolderRunner } from './folder-runner.js'
import { Puller } from './puller.js'

export interface ResumeResult { folder: string, label: string, held: number, deleted: number, kept: number }

export async function resumeHeldDeletes (runner: FolderRunner, { localDevice, deviceLabel }: { localDevice: string, deviceLabel: (short: string) => string }): Promise<ResumeResult> {
  const { id, label, path } = runner.folder
  if (!(await runner.hasMarker())) {
    throw new LansyncError('FOLDER_MARKER_MISSING', `folder "${label}": its marker is missing at ${path}; mount its disk first, then resume`)
  }
  const held: StoredRecord[] = []
  for await (const r of runner.store.heldRecords(id)) held.push(r)
  // Tombstones need no blocks: a fetcher that is never asked.
  const fetcher = new BlockFetcher({ send: () => { throw new LansyncError('PEER_BLOCK_UNAVAILABLE', 'resume fetches nothing') } })
  const puller = new Puller({ runner, fetcher, localDevice, deviceLabel, isGuarded: false })
  try { await puller.enqueue(held) } finally { puller.close() }
  let deleted = 0
  for (const r of held) {
    const now = await runner.store.getRecord(id, r.path)
    if (now?.isDeleted === true && JSON.stringify(now.vector) === JSON.stringify(r.vector) && r.kind !== 'dir') deleted += 1
  }
  await runner.releaseHeld(held)
  return { folder: id, label, held: held.length, deleted, kept: held.filter(r => r.kind !== 'dir').length - deleted }
}
