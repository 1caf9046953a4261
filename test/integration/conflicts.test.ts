// The conflict inbox with real agents: a conflict made by offline edits on two devices is listed
// identically on both, and each way of resolving it (mine, theirs, both, a version) changes the
// files everywhere, empties the inbox everywhere and keeps the losing content in history.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, readdirSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { cleanupAll, cli, runCli, tempDir, waitFor } from '../helpers/cli.js'
import { callAgent } from '../../src/control/client.js'
import { makeCluster, snapshotTree, waitConverged, type Device } from '../helpers/cluster.js'

const FILES = ['m.txt', 't.txt', 'both.txt', 'v.txt']
const sha = (text: string): string => createHash('sha256').update(text).digest('hex')
const copyOf = (d: Device, name: string): string => {
  const stem = name.slice(0, name.lastIndexOf('.'))
  const copies = readdirSync(d.folder).filter(n => n.startsWith(`${stem}.sync-conflict-`))
  assert.is(copies.length, 1, `one conflict copy of ${name} on ${d.name}: ${copies.join(', ')}`)
  return copies[0]
}
// Through the control socket (what the CLI calls): polling with a CLI process per look is slow.
const call = async (d: Device, method: string, params: object = {}): Promise<any> => await callAgent(join(d.home, 'agent.sock'), method, params)
const inbox = async (d: Device): Promise<any[]> => (await call(d, 'conflicts')).conflicts
const inboxPaths = async (d: Device): Promise<string[]> => (await inbox(d)).map(c => c.path)

/** Waits until the conflict of `name` is gone from both inboxes and the folders are the same. */
async function settled (a: Device, b: Device, name: string): Promise<Record<string, string>> {
  await waitFor(async () => !(await inboxPaths(a)).includes(name) && !(await inboxPaths(b)).includes(name), { what: `the conflict of ${name} to leave both inboxes`, timeoutMs: 20_000 })
  return await waitConverged([a, b], { what: `the resolution of ${name} to sync` })
}

/** Restores the newest content of `path` on `d` to a temp file and returns it. */
async function restored (d: Device, path: string, version?: number): Promise<string> {
  const to = join(tempDir('lansync-restored-'), 'out')
  await call(d, 'restore', { path: join(d.folder, path), to, version })
  return readFileSync(to, 'utf8')
}

test('conflicts are listed identically on both devices; mine, theirs, both and VERSION resolve them everywhere', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  for (const name of FILES) writeFileSync(join(a.folder, name), `${name} v1`)
  await a.start(); await b.start()
  await waitConverged([a, b])
  await a.stop(); await b.stop()

  // Offline, both edit every file; b's edits are newer, so b's content keeps each path.
  const past = new Date(Date.now() - 60_000)
  for (const name of FILES) {
    writeFileSync(join(a.folder, name), `${name} edit on a`)
    utimesSync(join(a.folder, name), past, past)
    writeFileSync(join(b.folder, name), `${name} edit on b`)
  }
  await a.start(); await b.start()
  await waitConverged([a, b], { what: 'the conflicts to settle' })
  await waitFor(async () => (await inbox(a)).length === 4 && (await inbox(b)).length === 4, { what: 'four conflicts in both inboxes' })

  // The same list on both devices: path, winner (b) and loser (a), sizes, times.
  const listA: any[] = (await cli(a.home, ['conflicts', '--json'])).json.conflicts
  const listB: any[] = (await cli(b.home, ['conflicts', '--json'])).json.conflicts
  assert.equal(listA, listB)
  assert.equal(listA.map(c => c.path), ['both.txt', 'm.txt', 't.txt', 'v.txt'])
  for (const c of listA) {
    assert.is(c.label, 'docs')
    assert.is(c.winner.device, 'b')
    assert.is(c.loser.device, 'a')
    assert.is(c.winner.hash, sha(`${c.path as string} edit on b`))
    assert.is(c.loser.hash, sha(`${c.path as string} edit on a`))
    assert.is(c.loser.sizeBytes, `${c.path as string} edit on a`.length)
    assert.is(c.loser.time, new Date(Math.round(past.getTime() / 1000) * 1000).toISOString())
    assert.match(c.loser.path, /\.sync-conflict-\d{8}-\d{6}-[A-Z2-7]{7}\.txt$/)
    assert.is(c.loser.path, copyOf(a, c.path))
  }
  // Across a restart, and without an agent (the CLI reads the database), the list is the same.
  await a.stop()
  assert.equal((await cli(a.home, ['conflicts', '--json'])).json.conflicts, listA)
  await a.start()
  const human = await cli(b.home, ['conflicts'])
  assert.match(human.stdout, /m\.txt\s+b, .*a, /)

  // Bad inputs change nothing: no conflict there, a bad --keep, a version out of range.
  const before = snapshotTree(a.folder)
  const none = await runCli(a.home, ['conflicts', 'resolve', join(a.folder, 'nothing.txt'), '--keep', 'mine', '--json'])
  assert.is(none.code, 3, none.stderr)
  assert.is(none.json.error.code, 'CONFLICT_NOT_FOUND')
  const bad = await runCli(a.home, ['conflicts', 'resolve', join(a.folder, 'm.txt'), '--keep', 'yours'])
  assert.is(bad.code, 2, bad.stderr)
  assert.match(bad.stderr, /--keep takes mine, theirs, both or a version number/)
  const range = await runCli(a.home, ['conflicts', 'resolve', join(a.folder, 'v.txt'), '--keep', '99', '--json'])
  assert.is(range.code, 3, range.stderr)
  assert.is(range.json.error.code, 'VERSION_NOT_FOUND')
  assert.equal(snapshotTree(a.folder), before)
  assert.equal(await inbox(a), listA)

  // mine, on b: b's content stays; the copy goes everywhere, and its content is in history.
  const mCopy = copyOf(b, 'm.txt')
  const mine = await cli(b.home, ['conflicts', 'resolve', join(b.folder, 'm.txt'), '--keep', 'mine', '--json'])
  assert.equal(mine.json.removed, [mCopy])
  await settled(a, b, 'm.txt')
  for (const d of [a, b]) {
    assert.is(readFileSync(join(d.folder, 'm.txt'), 'utf8'), 'm.txt edit on b')
    assert.not.ok(existsSync(join(d.folder, mCopy)), `${mCopy} removed on ${d.name}`)
    assert.is(await restored(d, mCopy), 'm.txt edit on a')
  }

  // theirs, on a, naming the copy: the copy's content moves to the path; b's is in history.
  const tCopy = copyOf(a, 't.txt')
  await cli(a.home, ['conflicts', 'resolve', join(a.folder, tCopy), '--keep', 'theirs'])
  await settled(a, b, 't.txt')
  for (const d of [a, b]) {
    assert.is(readFileSync(join(d.folder, 't.txt'), 'utf8'), 't.txt edit on a')
    assert.not.ok(existsSync(join(d.folder, tCopy)))
    const history = (await call(d, 'history', { path: join(d.folder, 't.txt') })).versions
    const lost = history.findIndex((v: any) => v.hash === sha('t.txt edit on b'))
    assert.ok(lost !== -1, `b's content of t.txt in ${d.name}'s history`)
    assert.is(await restored(d, 't.txt', lost + 1), 't.txt edit on b')
  }

  // both, on a: the copy becomes "both (from a).txt" everywhere; nothing is lost.
  const bothCopy = copyOf(a, 'both.txt')
  const both = await cli(a.home, ['conflicts', 'resolve', join(a.folder, 'both.txt'), '--keep', 'both', '--json'])
  assert.is(both.json.keptAs, 'both (from a).txt')
  await settled(a, b, 'both.txt')
  for (const d of [a, b]) {
    assert.is(readFileSync(join(d.folder, 'both.txt'), 'utf8'), 'both.txt edit on b')
    assert.is(readFileSync(join(d.folder, 'both (from a).txt'), 'utf8'), 'both.txt edit on a')
    assert.not.ok(existsSync(join(d.folder, bothCopy)))
  }

  // VERSION, on a: v1 of v.txt from a's history; both edits stay in history.
  const vCopy = copyOf(a, 'v.txt')
  const vHistory = (await call(a, 'history', { path: join(a.folder, 'v.txt') })).versions
  const v1 = vHistory.findIndex((v: any) => v.hash === sha('v.txt v1')) + 1
  assert.ok(v1 >= 1)
  const version = await cli(a.home, ['conflicts', 'resolve', join(a.folder, 'v.txt'), '--keep', String(v1), '--json'])
  assert.is(version.json.restoredVersion, v1)
  const tree = await settled(a, b, 'v.txt')
  for (const d of [a, b]) {
    assert.is(readFileSync(join(d.folder, 'v.txt'), 'utf8'), 'v.txt v1')
    assert.not.ok(existsSync(join(d.folder, vCopy)))
    assert.is(await restored(d, vCopy), 'v.txt edit on a')
  }
  assert.equal(Object.keys(tree).sort(), ['both (from a).txt', 'both.txt', 'm.txt', 't.txt', 'v.txt'])
  assert.equal(await inbox(a), [])
  assert.equal(await inbox(b), [])
  assert.match((await cli(a.home, ['conflicts'])).stdout, /No unresolved conflicts/)

  // A resolved conflict is no conflict any more.
  const again = await call(b, 'conflicts.resolve', { path: join(b.folder, 'm.txt'), keep: 'theirs' }).catch(err => err)
  assert.is(again.code, 'CONFLICT_NOT_FOUND')
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
