import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, symlinkSync, writeFileSync, existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { Store } from '../../src/store/store.js'
import { applyRecord, applyDelete } from '../../src/fs/apply.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

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
  const dir = tempDir()
  const root = join(dir, 'folder')
  mkdirSync(root)
  const store = await Store.open(join(dir, 'db'))
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

test.after(cleanupAll)
test.run()
