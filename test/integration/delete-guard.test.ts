// The mass-delete guard with real agents: a peer that deletes most of a folder at once does not
// delete it here until a person runs `lansync folder resume`; smaller deletes apply as before.
// The scenarios end with the ledger's checks (test/helpers/ledger.ts): no deleted version is lost.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rmSync, existsSync, readFileSync, readdirSync, mkdirSync, renameSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, cli, runCli, waitFor } from '../helpers/cli.js'
import { makeCluster, waitConverged, type Device } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const names = Array.from({ length: 20 }, (_, i) => `file-${String(i).padStart(2, '0')}.txt`)

async function startWithFiles (): Promise<[Device, Device, Ledger]> {
  const [a, b] = await makeCluster(['a', 'b'])
  const ledger = new Ledger([a, b])
  for (const name of names) ledger.write(a, name, `content of ${name}\n`)
  await a.start(); await b.start()
  await waitConverged([a, b])
  return [a, b, ledger]
}

const docsOf = async (d: Device): Promise<any> => (await d.status()).folders.find((f: any) => f.id === 'docs')
/** The folder once its scans are done: convergence on disk can come while a scan of the new names still runs. */
const settledDocsOf = async (d: Device): Promise<any> => await waitFor(async () => {
  const f = await docsOf(d)
  return f.state === 'scanning' ? undefined : f
}, { what: `${d.name} to finish scanning` })

test('15 of 20 files deleted on A: B holds them, paused with a reason, until `folder resume`', async () => {
  const [a, b, ledger] = await startWithFiles()
  for (const name of names.slice(0, 15)) rmSync(join(a.folder, name))
  const paused = await waitFor(async () => {
    const f = await docsOf(b)
    return f.state === 'paused' ? f : undefined
  }, { what: 'B to pause the folder' })
  assert.is(paused.pendingDeletes, 15)
  assert.match(paused.reason, /15 remote deletes from a held/)
  assert.match(paused.reason, /lansync folder resume docs/)
  // Nothing deleted on B, and the rest still syncs.
  for (const name of names) assert.ok(existsSync(join(b.folder, name)), `${name} kept on B`)
  ledger.write(a, 'after.txt', 'still syncing')
  await waitFor(() => existsSync(join(b.folder, 'after.txt')), { what: 'a new file to reach B while paused' })
  for (const name of names) assert.ok(existsSync(join(b.folder, name)), `${name} still kept on B`)

  const human = await cli(b.home, ['status'])
  assert.match(human.stdout, /paused: 15 remote deletes/)
  const json = await cli(b.home, ['status', '--json'])
  const folder = json.json.folders.find((f: any) => f.id === 'docs')
  assert.is(folder.state, 'paused')
  assert.is(folder.pendingDeletes, 15)
  await waitFor(() => /docs: paused: 15 remote deletes from a held/.test(b.agent?.output() ?? ''), { what: 'the pause in the agent log' })

  // A dry run lists what resume would delete, and deletes nothing.
  const dry = await cli(b.home, ['folder', 'resume', 'docs', '--dry-run'])
  assert.match(dry.stdout, /would delete 15:/)
  assert.match(dry.stdout, /file-00\.txt \(deleted by a\)/)
  const dryJson = await cli(b.home, ['folder', 'resume', 'docs', '--dry-run', '--json'])
  assert.equal(dryJson.json.held.map((h: any) => h.path).sort(), names.slice(0, 15))
  assert.is((await docsOf(b)).pendingDeletes, 15)

  const resumed = await cli(b.home, ['folder', 'resume', 'docs', '--json'])
  assert.is(resumed.json.deleted, 15)
  const tree = await waitConverged([a, b], { what: 'the held deletes to apply' })
  assert.equal(Object.keys(tree).sort(), ['after.txt', ...names.slice(15)])
  const after = await settledDocsOf(b)
  assert.is(after.state, 'idle')
  const log = b.agent?.output() ?? ''
  assert.is(log.split('\n').filter(l => l.includes('docs: paused: 15 remote deletes')).length, 1, 'the pause is logged once')
  await waitFor(() => /docs: idle: no deletes held/.test(b.agent?.output() ?? ''), { what: 'the resume in the log' })
  assert.is(after.pendingDeletes, 0)

  // Every deleted file can be restored from B's history.
  const target = join(b.folder, names[3])
  await cli(b.home, ['restore', target])
  assert.is(readFileSync(target, 'utf8'), `content of ${names[3]}\n`)
  await ledger.check()
  await a.stop(); await b.stop()
})

test('a move of most files and deletes below the share apply at once; `folder set --max-delete-share` lowers it live; held deletes survive a restart', async () => {
  const [a, b, ledger] = await startWithFiles()
  // Moving 15 of 20 files into a directory deletes 15 paths, but their content is added again.
  mkdirSync(join(a.folder, 'moved'))
  for (const name of names.slice(5)) renameSync(join(a.folder, name), join(a.folder, 'moved', name))
  await waitConverged([a, b], { what: 'a move to apply' })
  const afterMove = await settledDocsOf(b)
  assert.is(afterMove.state, 'idle')
  assert.is(afterMove.pendingDeletes, 0)

  for (const name of names.slice(0, 5)) rmSync(join(a.folder, name)) // 25% < 50%
  await waitConverged([a, b], { what: 'a small delete to apply' })
  assert.is((await settledDocsOf(b)).state, 'idle')

  const set = await cli(b.home, ['folder', 'set', 'docs', '--max-delete-share', '0.2', '--json'])
  assert.is(set.json.maxDeleteShare, 0.2)
  // 4 of the 15 left is 27%: above 20%. (The deletes above may still count within the guard's
  // one-minute window: held either way.)
  for (const name of names.slice(5, 9)) rmSync(join(a.folder, 'moved', name))
  await waitFor(async () => (await docsOf(b)).state === 'paused', { what: 'B to pause at the lower share' })
  assert.is((await docsOf(b)).pendingDeletes, 4)

  // Held deletes are in the store, not in memory: a restart keeps them held.
  await b.stop()
  const offline = await cli(b.home, ['status', '--json'])
  assert.is(offline.json.folders[0].pendingDeletes, 4)
  await b.start()
  await waitFor(async () => (await docsOf(b)).state === 'paused', { what: 'B paused again after a restart' })
  const reason = (await docsOf(b)).reason
  assert.match(reason, /^4 remote deletes from a held \(more than 20% of the folder at once\)/, reason)
  for (const name of names.slice(5, 9)) assert.ok(existsSync(join(b.folder, 'moved', name)))
  await cli(b.home, ['folder', 'resume', 'docs'])
  const tree = await waitConverged([a, b])
  assert.equal(Object.keys(tree).sort(), ['moved', ...names.slice(9).map(n => `moved/${n}`)])
  await ledger.check()
  await a.stop(); await b.stop()
})

test('bad settings are refused with a clear message and exit code 2', async () => {
  const [a] = await makeCluster(['a'])
  for (const value of ['2', '-0.1', 'abc']) {
    const r = await runCli(a.home, ['folder', 'set', 'docs', '--max-delete-share', value])
    assert.is(r.code, 2, `--max-delete-share ${value}: ${r.stderr}`)
    assert.match(r.stderr, /--max-delete-share must be a share of the folder from 0 to 1/)
  }
  const json = await runCli(a.home, ['folder', 'set', 'docs', '--max-delete-share', '2', '--json'])
  assert.is(json.json.error.code, 'ARG_INVALID')
  const none = await runCli(a.home, ['folder', 'set', 'docs'])
  assert.is(none.code, 2)
  const missing = await runCli(a.home, ['folder', 'resume', 'nosuch'])
  assert.is(missing.code, 3)
  assert.match(missing.stderr, /no folder "nosuch"/)
  // Resume with nothing held (and no agent running) says so.
  const idle = await cli(a.home, ['folder', 'resume', 'docs'])
  assert.match(idle.stdout, /holds no deletes/)
  assert.ok(readdirSync(a.folder).includes('.lansync'))
})

test.after(cleanupAll)
test.run()
