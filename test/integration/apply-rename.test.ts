// A rename is applied as a rename: the receiver makes the new path a hard link of the old file
// (same inode, no byte copied or fetched) and then deletes the old path. A save to the old file
// on the receiver between the link and the delete (both names are one inode then) is kept and
// recorded at both names; the remote version of the new path stays in history.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { existsSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { callAgent } from '../../src/control/client.js'
import { cleanupAll, waitFor } from '../helpers/cli.js'
import { makeCluster, type Device } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')
const blockBytesReceived = async (d: Device): Promise<number> => (await d.status()).peers[0].blockBytesReceived as number
const pausesOf = (d: Device): number => (d.agent?.output().split('pause point apply:linked reached').length ?? 1) - 1
async function historyHashes (d: Device, path: string): Promise<string[]> {
  const r = await callAgent(join(d.home, 'agent.sock'), 'history', { path: join(d.folder, path) })
  return r.versions.map((v: { hash: string }) => v.hash)
}

test('a rename arrives as a hard link of the old file, and a save to the old file meanwhile is kept', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const ledger = new Ledger([a, b])
  const content = randomBytes(3 * 1024 * 1024 + 123)
  ledger.write(a, 'big.bin', content)
  await a.start(); await b.start()
  await ledger.check({ timeoutMs: 60_000 })

  // 1. Renamed on a: b's file at the new name is the very file it had (same inode), no block sent.
  const inode = statSync(join(b.folder, 'big.bin')).ino
  const blocksBefore = await blockBytesReceived(b)
  renameSync(join(a.folder, 'big.bin'), join(a.folder, 'renamed.bin'))
  await waitFor(() => !existsSync(join(b.folder, 'big.bin')) && existsSync(join(b.folder, 'renamed.bin')), { timeoutMs: 30_000, what: 'the rename to reach b' })
  await ledger.check({ timeoutMs: 60_000 })
  assert.is(statSync(join(b.folder, 'renamed.bin')).ino, inode, 'the new name is the same inode: linked, not copied')
  assert.is(await blockBytesReceived(b) - blocksBefore, 0, 'no block data for a rename')

  // 2. Renamed again; b holds between the link and the delete of the old name, and the old file
  // is rewritten in place there (the same inode as the new name).
  await b.stop()
  await b.start({ env: { LANSYNC_PAUSE_AT: 'apply:linked:3000' } })
  const pauses = pausesOf(b)
  renameSync(join(a.folder, 'renamed.bin'), join(a.folder, 'again.bin'))
  await waitFor(() => pausesOf(b) > pauses, { timeoutMs: 30_000, what: 'b to hold after linking again.bin' })
  assert.is(statSync(join(b.folder, 'again.bin')).ino, statSync(join(b.folder, 'renamed.bin')).ino, 'linked')
  const saved = Buffer.from('saved in place on b while the rename was applied')
  writeFileSync(join(b.folder, 'renamed.bin'), saved)
  ledger.noteWritten(b, 'renamed.bin', saved)

  // The save wins over the delete and is recorded at both names (one inode); the content a
  // renamed is in the history of the new name, where it arrived.
  await ledger.check({ timeoutMs: 90_000 })
  for (const d of [a, b]) {
    assert.is(sha(readFileSync(join(d.folder, 'renamed.bin'))), sha(saved), `${d.name}: the save is kept at the old name`)
  }
  assert.ok((await historyHashes(b, 'again.bin')).includes(sha(content)), 'the renamed content is in the history of the new name')
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
