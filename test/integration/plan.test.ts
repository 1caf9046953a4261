// `lansync plan` with real agents: it lists the deletes the mass-delete guard holds and the pulls
// a peer sent that are not applied yet (here: while the folder's marker is away), and changes nothing.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { callAgent } from '../../src/control/client.js'
import { cleanupAll, cli, waitFor } from '../helpers/cli.js'
import { makeCluster, snapshotTree, waitConverged, type Device } from '../helpers/cluster.js'

const names = Array.from({ length: 20 }, (_, i) => `file-${String(i).padStart(2, '0')}.txt`)
const plan = async (d: Device): Promise<any> => (await callAgent(join(d.home, 'agent.sock'), 'plan', { folder: 'docs' })).folders[0]
const sequence = async (d: Device): Promise<number> => (await d.status()).folders[0].sequence

test('plan lists held deletes and pending pulls, with bytes, and applies nothing', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  for (const name of names) writeFileSync(join(a.folder, name), `content of ${name}\n`)
  await a.start(); await b.start()
  await waitConverged([a, b])
  // Nothing pending once in sync.
  const idle = await waitFor(async () => { const f = await plan(b); return f.peers[0].pull.length === 0 ? f : undefined }, { what: 'an empty plan' })
  assert.is(idle.peers[0].isConnected, true)
  assert.is(idle.peers[0].isSharing, true)
  assert.is(idle.peers[0].name, 'a')
  assert.equal(idle.heldDeletes, [])

  // A deletes 15 of 20: B holds them, and plan says so.
  for (const name of names.slice(0, 15)) rmSync(join(a.folder, name))
  await waitFor(async () => (await b.status()).folders[0].state === 'paused', { what: 'B to hold the deletes' })
  const held = await plan(b)
  assert.equal(held.heldDeletes.map((h: any) => h.path).sort(), names.slice(0, 15))
  assert.ok(held.heldDeletes.every((h: any) => h.deletedBy === 'a'))
  assert.is(held.state, 'paused')

  // B's marker goes away: what A sends now waits, and plan shows it as pulls.
  renameSync(join(b.folder, '.lansync'), join(b.folder, '.lansync-away'))
  await waitFor(async () => (await b.status()).folders[0].state === 'stopped', { what: 'B to stop without its marker' })
  const big = randomBytes(300_000)
  writeFileSync(join(a.folder, 'new.bin'), big)
  writeFileSync(join(a.folder, 'file-15.txt'), 'changed on a\n')
  const before = snapshotTree(b.folder)
  const sequenceBefore = await sequence(b)
  const pending = await waitFor(async () => {
    const f = await plan(b)
    return f.peers[0].pull.length === 2 ? f : undefined
  }, { what: 'plan on B to list the two pulls', timeoutMs: 20_000 })
  const peer = pending.peers[0]
  assert.equal(peer.pull.map((p: any) => [p.path, p.isNew, p.sizeBytes, p.device]), [['file-15.txt', false, 13, 'a'], ['new.bin', true, 300_000, 'a']])
  assert.equal(peer.delete, [])
  assert.equal(peer.conflict, [])
  assert.is(peer.files, 2)
  assert.is(peer.bytes, 300_013)
  assert.ok(peer.bytesToFetch >= 0 && peer.bytesToFetch <= peer.bytes)
  assert.is(pending.heldDeletes.length, 15)

  // The CLI says the same, and nothing changed on B.
  const human = await cli(b.home, ['plan'])
  assert.match(human.stdout, /held deletes \(15;/)
  assert.match(human.stdout, /a: pull 2, delete 0, conflicts 0; 293 KiB of content/)
  assert.match(human.stdout, /\+ new\.bin \(293 KiB\)/)
  assert.match(human.stdout, /~ file-15\.txt \(13 B\)/)
  const json = await cli(b.home, ['plan', '--json'])
  assert.equal(json.json.folders[0].peers[0].pull.map((p: any) => p.path), ['file-15.txt', 'new.bin'])
  assert.equal(snapshotTree(b.folder), before)
  assert.is(await sequence(b), sequenceBefore)
  assert.not.ok(existsSync(join(b.folder, 'new.bin')))

  // The marker is back: the pulls apply and leave the plan; the held deletes stay until resumed.
  renameSync(join(b.folder, '.lansync-away'), join(b.folder, '.lansync'))
  await waitFor(() => existsSync(join(b.folder, 'new.bin')) && readFileSync(join(b.folder, 'file-15.txt'), 'utf8') === 'changed on a\n', { what: 'the pulls to apply', timeoutMs: 20_000 })
  const after = await waitFor(async () => { const f = await plan(b); return f.peers[0].pull.length === 0 ? f : undefined }, { what: 'the pulls to leave the plan' })
  assert.is(after.heldDeletes.length, 15)
  await cli(b.home, ['folder', 'resume', 'docs'])
  const tree = await waitConverged([a, b], { what: 'the resumed deletes' })
  assert.equal(Object.keys(tree).sort(), [...names.slice(15), 'new.bin'])
  assert.equal((await plan(b)).heldDeletes, [])
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
