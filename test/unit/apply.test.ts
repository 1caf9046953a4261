import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, symlinkSync, writeFileSync, existsSync, readFileSync, readdirSync, statSync, openSync, writeSync, closeSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { Store } from '../../src/store/store.js'
import { applyRecord, applyDelete } from '../../src/fs/apply.js'
import { hashBytes } from '../../src/fs/hasher.js'
import { utimesSeconds } from '../../src/fs/atomic.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

/** An empty folder and a store of its own, in a new temp dir. */
async function folderAndStore (): Promise<{ root: string, store: Store }> {
  const dir = tempDir()
  const root = join(dir, 'folder')
  mkdirSync(root)
  return { root, store: await Store.open(join(dir, 'db')) }
}

test('a remote record is never written or deleted through a symlinked parent directory', async () => {
  const dir = tempDir()
  const root = join(dir, 'folder')
  const outside = join(dir, 'outside')
  mkdirSync(root); mkdirSync(outside)
  writeFileSync(join(outside, 'victim.txt'), 'keep me')
  symlinkSync(outside, join(root, 'd'))
  const store = await Store.open(join(dir, 'db'))
  const bytes = Buffer.from('evil')
  const hash = createHash('sha256').update(bytes).digest()
  await store.putBlock(hash, bytes)
  const record = { path: 'd/x', kind: 'file' as const, sizeBytes: 4, mtimeMs: 1000, mode: 0o644, vector: { aa: 1 }, isDeleted: false, blocks: [{ hash, sizeBytes: 4 }], hash, linkTarget: '', modifiedBy: 'aa', sequence: 1 }
  try { await applyRecord(root, store, record, undefined); assert.unreachable() } catch (err: any) { assert.is(err.code, 'PATH_INVALID') }
  assert.not.ok(existsSync(join(outside, 'x')))
  const victim = { ...record, path: 'd/victim.txt', inode: 0 }
  try { await applyDelete(root, 'd/victim.txt', victim); assert.unreachable() } catch (err: any) { assert.is(err.code, 'PATH_INVALID') }
  assert.ok(existsSync(join(outside, 'victim.txt')))
  await store.close()
})

test('a renamed file is copied from its old path when that still holds the content, else rebuilt from the store', async () => {
  const { root, store } = await folderAndStore()
  try {
    const bytes = Buffer.from('the content of a file that was renamed')
    const hash = createHash('sha256').update(bytes).digest()
    const record = (path: string): any => ({ path, kind: 'file', sizeBytes: bytes.length, mtimeMs: 1000, mode: 0o640, vector: { aa: 2 }, isDeleted: false, blocks: [{ hash, sizeBytes: bytes.length }], hash, linkTarget: '', modifiedBy: 'aa', sequence: 2 })
    // The old path holds the content: copied from it (the store does not even hold the block yet).
    writeFileSync(join(root, 'old.txt'), bytes)
    await applyRecord(root, store, record('new.txt'), undefined, 'new.txt', { copyFrom: 'old.txt' })
    assert.equal(readFileSync(join(root, 'new.txt')), bytes)
    await store.putBlock(hash, bytes)
    // The old path was changed meanwhile: the hash check fails and the store is used instead.
    writeFileSync(join(root, 'old.txt'), 'something else entirely, and longer than before')
    await applyRecord(root, store, record('b.txt'), undefined, 'b.txt', { copyFrom: 'old.txt' })
    assert.equal(readFileSync(join(root, 'b.txt')), bytes)
    // The old path is gone: the store too.
    await applyRecord(root, store, record('c.txt'), undefined, 'c.txt', { copyFrom: 'gone.txt' })
    assert.equal(readFileSync(join(root, 'c.txt')), bytes)
    assert.equal(readdirSync(root).sort(), ['b.txt', 'c.txt', 'new.txt', 'old.txt'], 'no temp file left')
  } finally {
    await store.close()
  }
})

test('an edit inside a big file is rebuilt from the blocks the old file holds, the new ones from the store', async () => {
  const { root, store } = await folderAndStore()
  try {
    const old = randomBytes(3 * 1024 * 1024)
    const edited = Buffer.from(old)
    randomBytes(4096).copy(edited, 1_500_000)
    writeFileSync(join(root, 'big.bin'), old)
    const s = statSync(join(root, 'big.bin'))
    const oldHashes = hashBytes(old)
    const local = { path: 'big.bin', kind: 'file' as const, sizeBytes: old.length, mtimeMs: Math.floor(s.mtimeMs), mode: 0o644, vector: { aa: 1 }, isDeleted: false, blocks: oldHashes.blocks, hash: oldHashes.hash, linkTarget: '', modifiedBy: 'aa', sequence: 1, inode: s.ino }
    const next = hashBytes(edited)
    const record = { ...local, sizeBytes: edited.length, mtimeMs: local.mtimeMs + 5000, vector: { aa: 2 }, blocks: next.blocks, hash: next.hash, sequence: 2 }
    const isOld = new Set(oldHashes.blocks.map(b => Buffer.from(b.hash).toString('hex')))
    const fresh = next.blocks.filter(b => !isOld.has(Buffer.from(b.hash).toString('hex')))
    assert.ok(fresh.length >= 1 && fresh.length <= 3, `the edit touches a few blocks (${fresh.length})`)
    let offset = 0
    const bytesOf = new Map<string, Buffer>()
    for (const b of next.blocks) { bytesOf.set(Buffer.from(b.hash).toString('hex'), edited.subarray(offset, offset + b.sizeBytes)); offset += b.sizeBytes }
    // Only the new blocks are in the store: the rest can only have come from the old file.
    for (const b of fresh) await store.putBlock(b.hash, bytesOf.get(Buffer.from(b.hash).toString('hex'))!)
    const applied = await applyRecord(root, store, record, local)
    assert.ok(readFileSync(join(root, 'big.bin')).equals(edited))
    assert.equal(readdirSync(root), ['big.bin'], 'no temp file left')

    // The old file's bytes changed in place and its size and mtime were put back, so the index
    // cannot tell: the whole-content check fails and the store alone is used.
    const now = { ...record, inode: applied.inode, mtimeMs: applied.mtimeMs }
    const third = Buffer.from(edited)
    randomBytes(4096).copy(third, 100_000)
    const thirdHashes = hashBytes(third)
    const thirdRecord = { ...now, vector: { aa: 3 }, blocks: thirdHashes.blocks, hash: thirdHashes.hash, mtimeMs: now.mtimeMs + 5000, sequence: 3 }
    const scribble = (): void => {
      const fd = openSync(join(root, 'big.bin'), 'r+')
      writeSync(fd, randomBytes(4096), 0, 4096, 2_500_000)
      closeSync(fd)
      utimesSync(join(root, 'big.bin'), utimesSeconds(now.mtimeMs), utimesSeconds(now.mtimeMs))
    }
    scribble()
    const scribbled = readFileSync(join(root, 'big.bin'))
    // Without the blocks in the store, nothing can be built: an error, and the file is left as it is.
    try { await applyRecord(root, store, thirdRecord, now); assert.unreachable() } catch (err: any) { assert.is(err.code, 'STORE_BLOCK_MISSING') }
    assert.ok(readFileSync(join(root, 'big.bin')).equals(scribbled), 'nothing lost')
    assert.equal(readdirSync(root), ['big.bin'], 'no temp file left')
    offset = 0
    for (const b of thirdHashes.blocks) { await store.putBlock(b.hash, third.subarray(offset, offset + b.sizeBytes)); offset += b.sizeBytes }
    await applyRecord(root, store, thirdRecord, now)
    assert.ok(readFileSync(join(root, 'big.bin')).equals(third))
  } finally {
    await store.close()
  }
})

test.after(cleanupAll)
test.run()
