// Received files are applied as a group (written at once, one directory fsync each, one commit),
// and each keeps its own outcome: a save made on the receiver to one file of the group while the
// group is being written makes a conflict of that file only (both versions kept), and a file that
// cannot be written (a directory the receiver may not write) is reported and retried while the
// other files of the group land.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, onCleanup, waitFor } from '../helpers/cli.js'
import { makeCluster, type Device } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'
import { immutableUnavailable, setImmutable } from '../helpers/immutable.js'

const pausesOf = (d: Device): number => (d.agent?.output().split('pause point apply:temp-written reached').length ?? 1) - 1
const names = Array.from({ length: 12 }, (_, i) => `g/f${String(i).padStart(2, '0')}.txt`)

test('a save to one file of a group being written is kept: that file becomes a conflict, the others land', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const ledger = new Ledger([a, b])
  for (const n of names) ledger.write(a, n, `${n} v1`)
  await a.start()
  // Every file waits 2.5 s between its last check and its replacement: the window for the save.
  await b.start({ env: { LANSYNC_PAUSE_AT: 'apply:temp-written:2500' } })
  await ledger.check({ timeoutMs: 90_000 })

  const before = pausesOf(b)
  for (const n of names) ledger.write(a, n, `${n} v2 from a`)
  await waitFor(() => pausesOf(b) >= before + 4, { timeoutMs: 30_000, what: 'b to hold files of the group before replacing them' })
  // Files applied one after another would each be in place before the next one waits; a group
  // waits with several at once.
  const waiting = pausesOf(b) - before
  const inPlace = names.filter(n => readFileSync(join(b.folder, n), 'utf8') === `${n} v2 from a`).length
  assert.ok(inPlace < waiting - 1, `several files of the group wait at once (${waiting} waiting, ${inPlace} in place)`)

  // Files apply in path order, so the first one not in place is in the group that waits now:
  // rewrite it in place (same inode) inside the window.
  const target = names[inPlace]
  const saved = `${target} rewritten on b meanwhile`
  writeFileSync(join(b.folder, target), saved)
  ledger.noteWritten(b, target, Buffer.from(saved))

  await ledger.check({ timeoutMs: 90_000 })
  const copies = readdirSync(join(b.folder, 'g')).filter(n => n.includes('sync-conflict'))
  assert.is(copies.length, 1, `one conflict copy: ${copies.join(', ')}`)
  assert.ok(copies[0].startsWith(target.slice(2, 5)), copies[0])
  const versions = [readFileSync(join(b.folder, target), 'utf8'), readFileSync(join(b.folder, 'g', copies[0]), 'utf8')].sort()
  assert.equal(versions, [saved, `${target} v2 from a`].sort(), 'both versions of the saved file are kept')
  for (const n of names.filter(n => n !== target)) assert.is(readFileSync(join(b.folder, n), 'utf8'), `${n} v2 from a`)
  await a.stop(); await b.stop()
})

test('a file of a group that cannot be written is reported and retried; the rest of the group lands', async () => {
  const unavailable = immutableUnavailable()
  if (unavailable !== undefined) { console.log(`SKIP the unwritable-directory case: ${unavailable}`); return }
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const ledger = new Ledger([a, b])
  ledger.write(a, 'locked/first.txt', 'first v1')
  await a.start(); await b.start()
  await ledger.check({ timeoutMs: 60_000 })
  const lockedDir = join(b.folder, 'locked')
  assert.is(setImmutable(lockedDir, true), undefined)
  onCleanup(() => { setImmutable(lockedDir, false) })

  // One batch: a file in the locked directory among files elsewhere (it sorts first: in the group).
  ledger.write(a, 'locked/second.txt', 'second, denied at first')
  for (let i = 0; i < 12; i++) ledger.write(a, `open/o${i}.txt`, `open ${i}`)
  const problems = await waitFor(async () => {
    const list = (await b.status()).folders[0].problems as Array<{ path: string, code: string }>
    return list.some(p => p.path === 'locked/second.txt') ? list : undefined
  }, { timeoutMs: 30_000, what: 'b to report locked/second.txt' })
  assert.equal(problems.map(p => [p.path, p.code]), [['locked/second.txt', 'PATH_UNWRITABLE']], 'only the denied file is a problem')
  await waitFor(() => Array.from({ length: 12 }, (_, i) => join(b.folder, `open/o${i}.txt`)).every(p => existsSync(p)), { timeoutMs: 30_000, what: 'the rest of the group to land on b' })
  for (let i = 0; i < 12; i++) assert.is(readFileSync(join(b.folder, `open/o${i}.txt`), 'utf8'), `open ${i}`)
  assert.equal(readdirSync(lockedDir), ['first.txt'], 'nothing half-written in the locked directory')

  // Writable again: the puller's retry brings it.
  assert.is(setImmutable(lockedDir, false), undefined)
  await ledger.check({ timeoutMs: 60_000 })
  assert.equal((await b.status()).folders[0].problems, [], 'no problem is left')
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
