// A FolderRunner's watcher must not rescan a file this device just wrote for a peer, even when the
// watcher's batch for it comes out before the commit that records the write (a received file's
// group is written, then committed, inside one turn of the folder's queue); a change made to it
// afterwards is still scanned. Real files, a real watcher and a real LevelDB store.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { lstatSync, mkdirSync, writeFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { Store } from '../../src/store/store.js'
import { FolderRunner } from '../../src/sync/folder-runner.js'
import type { FolderConfig } from '../../src/config.js'
import { cleanupAll, tempDir, waitFor } from '../helpers/cli.js'

const DEVICE = 'aaaaaaaaaaaaaaaa'
const PEER = 'bbbbbbbbbbbbbbbb'

test('the echo of a write is not scanned when it comes before the write is committed; a later edit is', async () => {
  const dir = tempDir()
  const root = join(dir, 'folder')
  mkdirSync(join(root, '.lansync'), { recursive: true })
  const store = await Store.open(join(dir, 'db'))
  const folder: FolderConfig = { id: 'f1', label: 'f1', path: root, type: 'sendreceive', sharedWith: [], retention: { mode: 'all' }, isPaused: false, maxDeleteShare: 0.5, selection: [] }
  const runner = new FolderRunner({ folder, store, device: DEVICE })
  let scans = 0
  runner.on('scanned', () => { scans += 1 })
  try {
    await runner.start()
    const afterStart = scans
    await runner.exclusive(async () => {
      // As the puller does for a group: the file goes in place, then (later) one commit records it.
      const content = Buffer.from('from the peer')
      writeFileSync(join(root, 'got.txt'), content)
      // The watcher's quiet time (250 ms) passes while the write is not yet recorded.
      await sleep(700)
      const s = lstatSync(join(root, 'got.txt'))
      const hash = createHash('sha256').update(content).digest()
      await runner.commit([{
        record: {
          path: 'got.txt', kind: 'file', sizeBytes: s.size, mtimeMs: Math.floor(s.mtimeMs), mode: s.mode & 0o7777, inode: s.ino,
          vector: { [PEER]: 1 }, isDeleted: false, blocks: [{ hash, sizeBytes: content.byteLength }], hash, linkTarget: '', modifiedBy: PEER
        },
        origin: 'remote'
      }])
    })
    await sleep(700) // a scan queued for the echo would have run by now
    assert.is(scans, afterStart, 'the echo of the recorded write was scanned')
    assert.equal((await store.getRecord('f1', 'got.txt'))?.vector, { [PEER]: 1 }, 'the index keeps the peer\'s version')

    // An edit after the write is the user's: scanned and recorded as a new local version.
    writeFileSync(join(root, 'got.txt'), 'edited here, later')
    await waitFor(async () => (await store.getRecord('f1', 'got.txt'))?.sizeBytes === 18, { timeoutMs: 10_000, what: 'the edit to be scanned' })
    const edited = await store.getRecord('f1', 'got.txt')
    assert.is(edited?.modifiedBy, DEVICE, 'the edit is a new local version')
    assert.is(edited?.vector[PEER], 1, 'made over the peer\'s version')
    assert.ok(scans > afterStart)
  } finally {
    await runner.close()
    await store.close()
  }
})

test.after(cleanupAll)
test.run()
