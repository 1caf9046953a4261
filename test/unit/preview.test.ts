// `lansync plan`'s preview: a peer's unapplied records planned against a real index, read only.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { Store } from '../../src/store/store.js'
import { previewRecords } from '../../src/sync/preview.js'
import type { FileRecord } from '../../src/core/types.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

const sha = (b: string): Buffer => createHash('sha256').update(b).digest()
const ME = 'aaaaaaaaaaaaaaaa'
const PEER = 'bbbbbbbbbbbbbbbb'

function file (path: string, content: string, vector: Record<string, number>, by: string, extra: Partial<FileRecord> = {}): FileRecord {
  return {
    path, kind: 'file', sizeBytes: content.length, mtimeMs: 1_000_000, mode: 0o644, vector, isDeleted: false,
    blocks: content === '' ? [] : [{ hash: sha(content), sizeBytes: content.length }], hash: sha(content), linkTarget: '', modifiedBy: by, sequence: 1, ...extra
  }
}

test('pulls, deletes, conflicts and bytes not held locally; nothing is written', async () => {
  const store = await Store.open(join(tempDir(), 'db'))
  try {
    await store.commit('f', [
      { record: { ...file('same.txt', 'same', { [ME]: 1 }, ME), inode: 0 } },
      { record: { ...file('old.txt', 'old', { [ME]: 1 }, ME), inode: 0 } },
      { record: { ...file('gone.txt', 'gone', { [ME]: 1 }, ME), inode: 0 } },
      { record: { ...file('both.txt', 'mine', { [ME]: 2 }, ME), inode: 0 } }
    ])
    await store.putBlock(sha('held here'), Buffer.from('held here'))
    const sequence = (await store.folderMeta('f')).sequence
    const records = [
      file('same.txt', 'same', { [ME]: 1 }, ME), // already here
      file('old.txt', 'newer', { [ME]: 1, [PEER]: 1 }, PEER, { sequence: 1 }),
      file('old.txt', 'newest', { [ME]: 1, [PEER]: 2 }, PEER, { sequence: 2 }), // the newest per path counts
      file('new.txt', 'held here', { [PEER]: 1 }, PEER), // its block is in the store already
      { ...file('gone.txt', '', { [ME]: 1, [PEER]: 1 }, PEER), isDeleted: true, sizeBytes: 0 },
      file('both.txt', 'theirs!', { [ME]: 1, [PEER]: 1 }, PEER, { mtimeMs: 2_000_000 })
    ]
    const preview = await previewRecords(records, { store, folderId: 'f', localDevice: ME, deviceLabel: s => s.slice(0, 7).toUpperCase(), deviceName: s => s === PEER ? 'peer' : 'me' })
    assert.equal(preview.pull.map(p => [p.path, p.isNew, p.sizeBytes, p.bytesToFetch, p.device]), [['new.txt', true, 9, 0, 'peer'], ['old.txt', false, 6, 6, 'peer']])
    assert.equal(preview.delete, [{ path: 'gone.txt', kind: 'file', device: 'peer' }])
    assert.is(preview.conflict.length, 1)
    assert.is(preview.conflict[0].path, 'both.txt')
    assert.is(preview.conflict[0].winner, 'remote')
    assert.match(preview.conflict[0].conflictPath, /^both\.sync-conflict-19700101-001640-AAAAAAA\.txt$/)
    assert.is(preview.files, 3)
    assert.is(preview.bytes, 9 + 6 + 7)
    assert.is(preview.bytesToFetch, 6 + 7)
    assert.is((await store.folderMeta('f')).sequence, sequence, 'the index did not change')
  } finally { await store.close() }
})

test.after(cleanupAll)
test.run()
