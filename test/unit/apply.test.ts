import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, symlinkSync, writeFileSync, existsSync } from 'node:fs'
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

test.after(cleanupAll)
test.run()
