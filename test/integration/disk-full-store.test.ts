// A full disk under the receiver's store (its LevelDB: index, history, blocks), its folder on a disk
// with room: block writes, history writes and the index commit fail mid-sync, and a local edit
// cannot be recorded. The agent keeps running, says so in `status` (STORE_FULL, naming the store's
// directory), replaces no file with a version it has not recorded, leaves no temp file, and catches
// up by itself once space is freed. The store's directory is a small tmpfs the test mounts.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { closeSync, openSync, writeSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { cleanupAll, runCli, tempDir, waitFor } from '../helpers/cli.js'
import { makeCluster } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'
import { callAgent } from '../../src/control/client.js'
import { homePaths } from '../../src/config.js'
import { isLansyncError } from '../../src/errors.js'
import { Store, type StoredRecord } from '../../src/store/store.js'
import { mountSmallDisk } from '../helpers/small-disk.js'

const MiB = 1024 * 1024

/** Writes `file` until the disk is full. */
function fillUp (file: string): void {
  const fd = openSync(file, 'w')
  try {
    for (;;) writeSync(fd, Buffer.alloc(MiB))
  } catch (err: any) {
    if (err.code !== 'ENOSPC') throw err
  } finally { closeSync(fd) }
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

test('the store: a write after a failed one is not lost at the next open, and writes wait for room', async () => {
  const dir = join(tempDir('lansync-store-full-'), 'db')
  const mounted = mountSmallDisk(dir, 48)
  if (typeof mounted === 'string') { console.log(`SKIP disk-full-store: ${mounted}`); return }
  const filler = join(dir, 'zz-filler')
  writeFileSync(filler, Buffer.alloc(28 * MiB)) // the log fills about 20 MiB; reopening needs as much again
  let store = await Store.open(dir)
  let failure: unknown
  const stored: Buffer[] = []
  for (let i = 0; i < 400 && failure === undefined; i++) {
    const bytes = randomBytes(64 * 1024)
    try { await store.putBlock(createHash('sha256').update(bytes).digest(), bytes); stored.push(bytes) } catch (err) { failure = err }
  }
  assert.ok(isLansyncError(failure, 'STORE_FULL'), `a full disk is STORE_FULL: ${String(failure)}`)
  assert.ok((failure as Error).message.includes(dir))
  // Still full: a write is refused at once, and nothing is appended to the log.
  const refused = await store.commit('f', [{ record: record('x.txt'), origin: 'local' }]).catch(err => err)
  assert.ok(isLansyncError(refused, 'STORE_FULL'))
  assert.is(await store.getRecord('f', 'x.txt'), undefined)
  // Room again: the next write reopens the store and succeeds; it is still there after a restart
  // (written to the log LevelDB left a partial record in, it would be dropped when the log is read back).
  rmSync(filler)
  const [committed] = await store.commit('f', [{ record: record('x.txt'), origin: 'local' }])
  assert.is(committed.sequence, 1)
  await store.close()
  store = await Store.open(dir)
  assert.is((await store.getRecord('f', 'x.txt'))?.sequence, 1)
  for (const bytes of stored.slice(-3)) assert.ok(await store.hasBlock(createHash('sha256').update(bytes).digest()), 'blocks stored before the failure are kept')
  await store.close()
})

function record (path: string): Omit<StoredRecord, 'sequence'> {
  return { path, kind: 'file', sizeBytes: 0, mtimeMs: 1000, mode: 0o644, vector: { aaaa: 1 }, isDeleted: false, blocks: [], hash: createHash('sha256').digest(), linkTarget: '', modifiedBy: 'aaaa', inode: 0 }
}

test('a full store disk is reported, nothing unrecorded replaces a file, and the receiver catches up once there is room', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const db = homePaths(b.home).db
  const mounted = mountSmallDisk(db, 64)
  if (typeof mounted === 'string') { console.log(`SKIP disk-full-store: ${mounted}`); return }
  // The store keeps about 20 MiB of room: a filler on the same tmpfs (LevelDB leaves alone files that are not its own).
  const filler = join(db, 'zz-filler')
  writeFileSync(filler, Buffer.alloc(44 * MiB))

  const ledger = new Ledger([a, b])
  ledger.write(b, 'before.txt', 'b had this before')
  await a.start(); await b.start()
  await waitFor(async () => readdirSync(a.folder).includes('before.txt'), { timeoutMs: 20_000, what: 'before.txt to reach a' })

  // a sends more than the store's disk holds: block puts (then every write) fail on b.
  ledger.write(a, 'small.txt', 'a small one')
  for (let i = 1; i <= 3; i++) ledger.write(a, `big-${i}.bin`, randomBytes(8 * MiB))
  const full = await waitFor(async () => {
    const s = await b.status()
    return s.folders[0].problems.find((p: any) => p.code === 'STORE_FULL')
  }, { timeoutMs: 30_000, what: 'b to report STORE_FULL' })
  assert.match(full.message, /the disk holding the store is full/)
  assert.ok(full.message.includes(db), `the message names the store's directory: ${full.message as string}`)

  // A local edit on b while its store is full: the scan cannot record it, and says so for the folder.
  ledger.write(b, 'edited-on-b.txt', 'written while the store was full')
  const folderProblem = await waitFor(async () => {
    const s = await b.status()
    // (a scan tried again may be under way: the state is `error` between tries)
    return s.folders[0].problems.find((p: any) => p.path === '' && p.code === 'STORE_FULL') !== undefined && s.folders[0].state !== 'scanning' ? s : undefined
  }, { timeoutMs: 30_000, what: 'b to report the folder cannot be recorded' })
  assert.is(folderProblem.folders[0].state, 'error')
  const human = await runCli(b.home, ['status'])
  assert.is(human.code, 0)
  assert.match(human.stdout, /STORE_FULL: the disk holding the store is full/)
  const json = await runCli(b.home, ['status', '--json'])
  assert.ok(json.json.folders[0].problems.some((p: any) => p.code === 'STORE_FULL'))

  // Nothing half-applied: no temp file, and every file a sent that is on b's disk is whole, as a
  // sent it. It is in b's history, or it is one put in place whose commit then failed (its blocks
  // fit, the index did not), which b records as a's version once the store can write (below).
  assert.equal(readdirSync(b.folder).filter(n => n.startsWith('.lansync-tmp-')), [])
  const sentByA = new Map(['small.txt', 'big-1.bin', 'big-2.bin', 'big-3.bin'].map(n => [n, sha(readFileSync(join(a.folder, n)))]))
  for (const name of readdirSync(b.folder)) {
    if (name === '.lansync' || name === 'edited-on-b.txt') continue
    const hash = sha(readFileSync(join(b.folder, name)))
    const { versions } = await callAgent(join(b.home, 'agent.sock'), 'history', { path: join(b.folder, name) }).catch(() => ({ versions: [] }))
    assert.ok(versions.some((v: any) => v.hash === hash) || sentByA.get(name) === hash, `${name} on b's disk is a version b recorded or the one a sent`)
  }
  assert.not.ok(readdirSync(b.folder).includes('big-3.bin'), 'not everything fit: the test did fill the store')

  // Room again: b reopens its store and catches up by itself (retries), both ways.
  rmSync(filler)
  await ledger.check({ timeoutMs: 45_000 })
  await waitFor(async () => (await b.status()).folders[0].problems.length === 0 ? true : undefined, { timeoutMs: 20_000, what: 'b to have no problem left' })
  assert.is((await b.status()).folders[0].state, 'idle')
  // Now every file on b's disk is in b's history, as a's version (not as a local edit of b's).
  for (const name of readdirSync(b.folder)) {
    if (name === '.lansync' || name === 'edited-on-b.txt') continue
    const hash = sha(readFileSync(join(b.folder, name)))
    const { versions } = await callAgent(join(b.home, 'agent.sock'), 'history', { path: join(b.folder, name) })
    const version = versions.find((v: any) => v.hash === hash)
    assert.ok(version !== undefined, `${name} on b's disk is a version b recorded`)
    if (sentByA.has(name)) assert.is(version.device, 'a', `${name} is recorded as a's version`)
  }

  // What b wrote after reopening its store survives a restart (the write-ahead log was not left broken).
  await b.stop(); await b.start()
  await ledger.check({ timeoutMs: 30_000 })

  // A start while the store's disk is full (opening replays the log into a table) fails clearly; with room it starts.
  ledger.write(a, 'after.bin', randomBytes(4 * MiB))
  await waitFor(() => readdirSync(b.folder).includes('after.bin'), { timeoutMs: 20_000, what: 'after.bin to reach b' })
  await b.stop()
  fillUp(join(db, 'zz-filler'))
  const refused = await runCli(b.home, ['start', '--no-mdns', '--listen', `127.0.0.1:${b.port}`])
  assert.is.not(refused.code, 0)
  assert.match(refused.stderr + refused.stdout, /STORE_FULL|the disk holding the store is full/)
  rmSync(join(db, 'zz-filler'))
  await b.start()
  await ledger.check({ timeoutMs: 30_000 })
  await a.stop(); await b.stop()
})

test('a file put in place just before the store filled up is recorded as the remote version once there is room', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const db = homePaths(b.home).db
  const mounted = mountSmallDisk(db, 48)
  if (typeof mounted === 'string') { console.log(`SKIP disk-full-store: ${mounted}`); return }
  const ledger = new Ledger([a, b])
  await a.start()
  const agent = await b.start({ env: { LANSYNC_PAUSE_AT: 'apply:renamed:3000' } })
  // 8 MiB: its record lists enough blocks not to fit in what is left of the log's last page.
  ledger.write(a, 'x.bin', randomBytes(8 * MiB))
  await waitFor(() => agent.output().includes('pause point apply:renamed reached'), { timeoutMs: 30_000, what: 'b to put x.bin in place' })
  const filler = join(db, 'zz-filler')
  fillUp(filler)
  await waitFor(async () => (await b.status()).folders[0].problems.some((p: any) => p.path === 'x.bin' && p.code === 'STORE_FULL'), { timeoutMs: 20_000, what: 'b to fail to record x.bin' })
  rmSync(filler)
  await ledger.check({ timeoutMs: 45_000 })
  const { versions } = await callAgent(join(b.home, 'agent.sock'), 'history', { path: join(b.folder, 'x.bin') })
  assert.equal(versions.map((v: any) => [v.device, v.origin]), [['a', 'remote']], 'recorded as a\'s version, not as an edit made on b')
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
