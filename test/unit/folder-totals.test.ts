// Store.folderTotals (what `lansync status` shows of a folder): counted once, then kept by commits.
// Checked against a fresh count by a store opened anew, after commits of every kind of change,
// changes to one path twice in one batch, records taken out of the index, and counts racing commits.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { Store, type Change, type StoredRecord } from '../../src/store/store.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

function change (path: string, { kind = 'file', sizeBytes = 10, isDeleted = false, isLocalOnly = false }: Partial<Pick<StoredRecord, 'kind' | 'sizeBytes' | 'isDeleted' | 'isLocalOnly'>> = {}): Change {
  const record: Omit<StoredRecord, 'sequence'> = {
    path, kind, sizeBytes: kind === 'file' && !isDeleted ? sizeBytes : 0, mtimeMs: 1000, mode: 0o644, vector: { aaaa: 1 }, isDeleted,
    blocks: [], hash: createHash('sha256').digest(), linkTarget: kind === 'symlink' ? 'target' : '', modifiedBy: 'aaaa', inode: 0
  }
  if (isLocalOnly) record.isLocalOnly = true
  return { record, origin: 'local' }
}

async function recounted (db: string, folder: string): Promise<unknown> {
  const fresh = await Store.open(db)
  try { return await fresh.folderTotals(folder) } finally { await fresh.close() }
}

test('folder totals follow commits of every kind, a path changed twice in one batch, and records taken out', async () => {
  const db = join(tempDir(), 'db')
  const store = await Store.open(db)
  assert.equal(await store.folderTotals('f'), { files: 0, dirs: 0, bytes: 0, deleted: 0, localChanges: 0 })
  await store.commit('f', [change('d', { kind: 'dir' }), change('d/a', { sizeBytes: 100 }), change('d/b', { sizeBytes: 5 }), change('link', { kind: 'symlink' })])
  assert.equal(await store.folderTotals('f'), { files: 3, dirs: 1, bytes: 105, deleted: 0, localChanges: 0 })
  // d/a grows then is deleted in one batch; d/b becomes a local-only change; a new file.
  await store.commit('f', [change('d/a', { sizeBytes: 300 }), change('d/b', { sizeBytes: 7, isLocalOnly: true }), change('d/a', { isDeleted: true }), change('e', { sizeBytes: 1 })])
  const expected = { files: 3, dirs: 1, bytes: 8, deleted: 1, localChanges: 1 }
  assert.equal(await store.folderTotals('f'), expected)
  await store.close()
  assert.equal(await recounted(db, 'f'), expected, 'what a fresh count finds')

  const reopened = await Store.open(db)
  await reopened.folderTotals('f')
  const e = await reopened.getRecord('f', 'e') as StoredRecord
  await reopened.forgetRecords('f', [e], [])
  assert.equal(await reopened.folderTotals('f'), { ...expected, files: 2, bytes: 7 }, 'a record taken out of the index')
  assert.equal(await reopened.folderTotals('other'), { files: 0, dirs: 0, bytes: 0, deleted: 0, localChanges: 0 })
  await reopened.close()
})

test('counts that race commits are never kept wrong', async () => {
  const db = join(tempDir(), 'db')
  const store = await Store.open(db)
  await store.commit('f', Array.from({ length: 3000 }, (_, i) => change(`base/f${i}`, { sizeBytes: 1 })))
  const countNow = async (): Promise<number> => { let n = 0; for await (const r of store.records('f')) if (!r.isDeleted) n += 1; return n }
  for (let round = 0; round < 10; round++) {
    // A count of 3,000 records is under way while a commit lands (before, during or after its read).
    const counting = store.folderTotals('f')
    const committing = store.commit('f', Array.from({ length: 10 }, (_, i) => change(`r${round}/f${i}`, { sizeBytes: i })))
    await Promise.all([counting, committing])
    assert.is((await store.folderTotals('f')).files, await countNow(), `round ${round}`)
  }
  const kept = await store.folderTotals('f')
  await store.close()
  assert.equal(kept, await recounted(db, 'f'))
  assert.is(kept.files, 3000 + 10 * 10)
})

test('callers asking at once share one count; a caller after a commit is not given a count that began before it', async () => {
  const db = join(tempDir(), 'db')
  const store = await Store.open(db)
  await store.commit('f', Array.from({ length: 2000 }, (_, i) => change(`f${i}`, { sizeBytes: 1 })))
  await store.close()
  const reopened = await Store.open(db) // nothing kept: the first ask counts
  const reads: string[] = []
  const iterate = (reopened as any).batches.bind(reopened)
  ;(reopened as any).batches = (...args: unknown[]) => { reads.push('count'); return iterate(...args) }
  const asked = await Promise.all(Array.from({ length: 20 }, async () => await reopened.folderTotals('f')))
  assert.is(reads.length, 1, 'twenty callers, one count')
  for (const t of asked) assert.is(t.files, 2000)
  asked[0].files = -1 // each caller has its own copy
  assert.is((await reopened.folderTotals('f')).files, 2000)
  await reopened.close()

  // A count under way when a commit lands is not shared with a caller who asks after the commit.
  const again = await Store.open(db)
  const early = again.folderTotals('f')
  await again.commit('f', [change('late', { sizeBytes: 5 })])
  const late = await again.folderTotals('f')
  await early
  assert.is(late.files, 2001, 'the caller after the commit sees it')
  assert.is(late.bytes, 2005)
  await again.close()
})

test.after(cleanupAll)
test.run()
