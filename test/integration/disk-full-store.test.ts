// A full disk under the receiver's store (its LevelDB: index, history, blocks), its folder on a disk
// with room: block writes, history writes and the index commit fail mid-sync, and a local edit
// cannot be recorded. The agent keeps running, says so in `status` (STORE_FULL, naming the store's
// directory), replaces no file with a version it has not recorded, leaves no temp file, and catches
// up by itself once space is freed. The store's directory is a small tmpfs the test mounts.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { cleanupAll, onCleanup, runCli, tempDir, waitFor } from '../helpers/cli.js'
import { makeCluster } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'
import { callAgent } from '../../src/control/client.js'
import { homePaths } from '../../src/config.js'

const MiB = 1024 * 1024

/** Mounts a tmpfs of `sizeMiB` over `dir`, keeping what `dir` held; a string (why) when mounting is not allowed here. */
function mountSmallDisk (dir: string, sizeMiB: number): true | string {
  mkdirSync(dir, { recursive: true })
  const saved = tempDir('lansync-store-full-saved-')
  cpSync(dir, saved, { recursive: true })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    return `cannot mount a tmpfs (${(err as Error).message.split('\n')[0]})`
  }
  onCleanup(() => { try { execFileSync('umount', ['-l', dir], { stdio: 'pipe' }) } catch {} })
  cpSync(saved, dir, { recursive: true })
  rmSync(saved, { recursive: true, force: true })
  return true
}

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

test('a full store disk is reported, nothing unrecorded replaces a file, and the receiver catches up once there is room', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const db = homePaths(b.home).db
  const mounted = mountSmallDisk(db, 64)
  if (mounted !== true) { console.log(`SKIP disk-full-store: ${mounted}`); return }
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
    return s.folders[0].problems.find((p: any) => p.path === '' && p.code === 'STORE_FULL') !== undefined ? s : undefined
  }, { timeoutMs: 30_000, what: 'b to report the folder cannot be recorded' })
  assert.is(folderProblem.folders[0].state, 'error')
  const human = await runCli(b.home, ['status'])
  assert.is(human.code, 0)
  assert.match(human.stdout, /STORE_FULL: the disk holding the store is full/)
  const json = await runCli(b.home, ['status', '--json'])
  assert.ok(json.json.folders[0].problems.some((p: any) => p.code === 'STORE_FULL'))

  // Nothing half-applied: no temp file, and every file a sent that is on b's disk is in b's history.
  assert.equal(readdirSync(b.folder).filter(n => n.startsWith('.lansync-tmp-')), [])
  for (const name of readdirSync(b.folder)) {
    if (name === '.lansync' || name === 'edited-on-b.txt') continue
    const hash = sha(readFileSync(join(b.folder, name)))
    const { versions } = await callAgent(join(b.home, 'agent.sock'), 'history', { path: join(b.folder, name) })
    assert.ok(versions.some((v: any) => v.hash === hash), `${name} on b's disk is a version b recorded`)
  }
  assert.not.ok(readdirSync(b.folder).includes('big-3.bin'), 'not everything fit: the test did fill the store')

  // Room again: b reopens its store and catches up by itself (retries), both ways.
  rmSync(filler)
  await ledger.check({ timeoutMs: 45_000 })
  await waitFor(async () => (await b.status()).folders[0].problems.length === 0 ? true : undefined, { timeoutMs: 20_000, what: 'b to have no problem left' })
  assert.is((await b.status()).folders[0].state, 'idle')
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
