import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, lstatSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, tempDir } from '../helpers/cli.js'
import { OwnWrites } from '../../src/sync/own-writes.js'
import type { StoredRecord } from '../../src/store/store.js'

function recordOf (root: string, path: string): StoredRecord {
  const s = lstatSync(join(root, path))
  return { path, kind: 'file', sizeBytes: s.size, mtimeMs: Math.floor(s.mtimeMs), mode: s.mode & 0o7777, inode: s.ino, vector: { a: 1 }, isDeleted: false, blocks: [], hash: new Uint8Array(32), linkTarget: '', modifiedBy: 'a', sequence: 1 }
}

test('OwnWrites: only the unchanged echo of a noted write is dropped, once; every change is kept', async () => {
  const root = tempDir('lansync-own-')
  for (const name of ['same', 'rewritten', 'replaced', 'chmodded', 'gone']) writeFileSync(join(root, name), 'x')
  const own = new OwnWrites()
  own.note(['same', 'rewritten', 'replaced', 'chmodded', 'gone'].map(p => recordOf(root, p)))
  writeFileSync(join(root, 'rewritten'), 'longer content')
  writeFileSync(join(root, 'new'), 'y'); renameSync(join(root, 'new'), join(root, 'replaced'))
  chmodSync(join(root, 'chmodded'), 0o600)
  rmSync(join(root, 'gone'))
  const kept = await own.withoutEchoes(root, ['same', 'rewritten', 'replaced', 'chmodded', 'gone', 'never-noted'])
  assert.equal(kept, ['rewritten', 'replaced', 'chmodded', 'gone', 'never-noted'])
  assert.equal(await own.withoutEchoes(root, ['same']), ['same'], 'a note is used once: a second event for the path is scanned')
})

test('OwnWrites: a path deleted for a peer is dropped while it is still gone; one made again, or a directory, is scanned', async () => {
  const root = tempDir('lansync-own-')
  writeFileSync(join(root, 'made-again'), 'x')
  mkdirSync(join(root, 'dir'))
  const own = new OwnWrites()
  const file = recordOf(root, 'made-again')
  own.note([
    { ...file, path: 'still-gone', isDeleted: true },
    { ...file, path: 'made-again', isDeleted: true },
    { ...file, path: 'dir', kind: 'dir', sizeBytes: 0 }
  ])
  assert.equal(await own.withoutEchoes(root, ['still-gone', 'made-again', 'dir']), ['made-again', 'dir'])
})

test('OwnWrites: a note older than the echo window drops nothing', async () => {
  const root = tempDir('lansync-own-')
  writeFileSync(join(root, 'f'), 'x')
  let nowMs = 1_000_000
  const own = new OwnWrites({ now: () => nowMs })
  own.note([recordOf(root, 'f'), { ...recordOf(root, 'f'), path: 'd', isDeleted: true }])
  nowMs += 60_000
  assert.equal(await own.withoutEchoes(root, ['f', 'd']), ['f', 'd'])
})

test.after(cleanupAll)
test.run()
