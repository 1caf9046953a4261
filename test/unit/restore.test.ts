// Restoring from a damaged block store: a block whose bytes changed on disk fails the whole-file
// hash check, with a clear error, and the file in place is left as it was (no temp file behind).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { Store } from '../../src/store/store.js'
import { restoreVersion } from '../../src/fs/restore.js'
import { isLansyncError } from '../../src/errors.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

const sha = (b: Uint8Array | string): Buffer => createHash('sha256').update(b).digest()

test('a corrupt block fails the restore clearly and leaves the target untouched', async () => {
  const dir = tempDir()
  const store = await Store.open(join(dir, 'db'))
  try {
    const parts = ['first block ', 'second block']
    for (const p of parts) await store.putBlock(sha(p), Buffer.from(p))
    const version: any = {
      path: 'a.txt', kind: 'file', sizeBytes: parts.join('').length, mtimeMs: 1000, mode: 0o644, vector: {}, isDeleted: false,
      blocks: parts.map(p => ({ hash: sha(p), sizeBytes: p.length })), hash: sha(parts.join('')), linkTarget: '', modifiedBy: 'aaaaaaaaaaaaaaaa',
      sequence: 1, inode: 0, recordedMs: 1000, origin: 'local'
    }
    const target = join(dir, 'out', 'a.txt')
    assert.is(await restoreVersion(store, version, target), parts.join('').length)
    assert.is(readFileSync(target, 'utf8'), 'first block second block')

    writeFileSync(target, 'what is on disk now')
    // The second block's bytes rot in the store (same length, other content).
    await store.putBlock(sha(parts[1]), Buffer.from('SECOND BLOCK'), { isKnownMissing: true })
    let error: unknown
    try { await restoreVersion(store, version, target) } catch (err) { error = err }
    assert.ok(isLansyncError(error, 'STORE_CORRUPT'), String(error))
    assert.match((error as Error).message, /does not match its hash; nothing was replaced/)
    assert.is(readFileSync(target, 'utf8'), 'what is on disk now', 'the file in place is kept')
    assert.equal(readdirSync(join(dir, 'out')), ['a.txt'], 'no temp file is left behind')
    let served: unknown
    try { await store.getBlock(sha(parts[1])) } catch (err) { served = err }
    assert.ok(isLansyncError(served, 'STORE_CORRUPT'), 'a checked read (serving a peer) refuses the block')
  } finally {
    await store.close()
  }
})

test.after(cleanupAll)
test.run()
