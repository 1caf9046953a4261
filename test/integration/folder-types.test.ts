// Folder types with real agents: a send-only folder does not take remote changes and pushes its
// own with `folder override`; a receive-only folder does not send local changes and takes the
// cluster's version back with `folder revert`. Nothing is lost: replaced versions stay in history.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync, rmSync, existsSync, readFileSync, readdirSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { cleanupAll, cli, runCli, tempDir, waitFor } from '../helpers/cli.js'
import { makeCluster, snapshotTree, waitConverged, type Device } from '../helpers/cluster.js'
import { callAgent } from '../../src/control/client.js'
import { loadConfig, updateConfig } from '../../src/config.js'
import { addFolder, setFolderSettings } from '../../src/ops/folders.js'
import { invoke } from '../../src/cli/invoke.js'

const docsOf = async (d: Device): Promise<any> => (await d.status()).folders.find((f: any) => f.id === 'docs')
const sha = (text: string): string => createHash('sha256').update(text).digest('hex')

/** The version of `path` holding `text` from `d`'s history, restored to a temp file and read back (what `history` and `restore --to` do). */
async function restoredFromHistory (d: Device, path: string, text: string): Promise<string> {
  const history = await call(d, 'history', { path: join(d.folder, path) })
  const version = history.versions.find((v: any) => v.hash === sha(text))
  assert.ok(version !== undefined, `${d.name} keeps "${text}" of ${path} in history: ${JSON.stringify(history.versions)}`)
  const to = join(tempDir('lansync-restored-'), 'out')
  await call(d, 'restore', { path: join(d.folder, path), version: version.number, to })
  return readFileSync(to, 'utf8')
}

/** The running agent's control socket (what the CLI calls), without a CLI process per call. */
async function call (d: Device, method: string, params: object): Promise<any> {
  return await callAgent(join(d.home, 'agent.sock'), method, params)
}

/**
 * Waits until `from`'s session with `to` has applied `from`'s whole initial manifest at `to`
 * (after a restart of `from`): every record `from` would send is handled at `to` by then.
 */
async function waitManifestApplied (to: Device, from: Device): Promise<void> {
  await waitFor(async () => {
    const peer = (await to.status()).peers.find((p: any) => p.deviceId === from.id)
    return peer?.isConnected === true && peer.folders.some((f: any) => f.folder === 'docs' && f.isInitialReceived === true)
  }, { what: `${to.name} to apply ${from.name}'s manifest` })
}

test('send-only A: B\'s changes are not applied on A (out of sync) until `folder override` pushes A\'s files to B', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const set = await cli(a.home, ['folder', 'set', 'docs', '--type', 'sendonly', '--json'])
  assert.is(set.json.type, 'sendonly')
  writeFileSync(join(a.folder, 'x.txt'), 'from A')
  writeFileSync(join(a.folder, 'y.txt'), 'also from A')
  await a.start(); await b.start()
  const original = await waitConverged([a, b], { what: 'B to take A\'s files (a send-only folder still sends and serves blocks)' })

  writeFileSync(join(b.folder, 'x.txt'), 'B\'s edit')
  writeFileSync(join(b.folder, 'new.txt'), 'added on B')
  rmSync(join(b.folder, 'y.txt'))
  const docs = await waitFor(async () => { const f = await docsOf(a); return f.outOfSync === 3 ? f : undefined }, { what: 'A to count 3 remote changes out of sync' })
  assert.is(docs.type, 'sendonly')
  assert.equal(snapshotTree(a.folder), original, 'A\'s files are unchanged')
  const human = await cli(a.home, ['status'])
  assert.match(human.stdout, /docs: send only, out of sync: 3 remote changes not applied here; `lansync folder override docs`/)

  // Out-of-sync records are in the store: a restart of A keeps them, and applies nothing.
  await a.stop()
  assert.is((await invoke(a.home, 'status', {})).folders[0].outOfSync, 3) // no agent: read from the store
  await a.start()
  await waitManifestApplied(a, b)
  assert.equal(snapshotTree(a.folder), original)

  // A dry run lists what the peers would get, and changes nothing.
  const dry = await cli(a.home, ['folder', 'override', 'docs', '--dry-run'])
  assert.match(dry.stdout, /would push this device's version of 3 paths:\n  new\.txt: deleted \(not on this device\)\n  x\.txt: their version replaced by this one\n  y\.txt: restored \(deleted there\)/)
  assert.equal((await call(a, 'folder.override', { folder: 'docs', isDryRun: true })).items.map((i: any) => i.change), ['delete', 'replace', 'restore'])
  assert.is((await docsOf(a)).outOfSync, 3)
  assert.is(readFileSync(join(b.folder, 'x.txt'), 'utf8'), 'B\'s edit')

  const result = await cli(a.home, ['folder', 'override', 'docs', '--json'])
  assert.is(result.json.overridden, 3)
  assert.equal([...result.json.paths].sort(), ['new.txt', 'x.txt', 'y.txt'])
  const tree = await waitConverged([a, b], { what: 'B to take A\'s files after the override' })
  assert.equal(tree, original)
  assert.is(readFileSync(join(b.folder, 'x.txt'), 'utf8'), 'from A')
  assert.is((await docsOf(a)).outOfSync, 0)
  // B's own versions are in B's history.
  assert.is(await restoredFromHistory(b, 'x.txt', 'B\'s edit'), 'B\'s edit')
  assert.is(await restoredFromHistory(b, 'new.txt', 'added on B'), 'added on B')
  assert.is((await call(a, 'folder.override', { folder: 'docs' })).overridden, 0, 'nothing left to override')

  // A's own changes still go out.
  writeFileSync(join(a.folder, 'later.txt'), 'A goes on')
  await waitConverged([a, b], { what: 'a later change of A to reach B' })

  // Changed to send-and-receive, A asks B for its manifest again and applies what it ignored.
  writeFileSync(join(b.folder, 'later.txt'), 'B goes on')
  await waitFor(async () => (await docsOf(a)).outOfSync === 1, { what: 'A to ignore B\'s edit' })
  updateConfig(a.home, c => setFolderSettings(c, 'docs', { type: 'sendreceive' }))
  await call(a, 'reload', {})
  await waitFor(() => readFileSync(join(a.folder, 'later.txt'), 'utf8') === 'B goes on', { what: 'A to apply B\'s edit once it sends and receives' })
  assert.is((await docsOf(a)).outOfSync, 0)
  await a.stop(); await b.stop()
})

test('receive-only B: local edits, additions and deletions stay on B (locally changed) until `folder revert`; a newer remote version replaces a local edit', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  updateConfig(b.home, c => setFolderSettings(c, 'docs', { type: 'receiveonly' }))
  for (const name of ['x.txt', 'gone.txt', 'keep.txt', 'later.txt']) writeFileSync(join(a.folder, name), `${name} from A`)
  mkdirSync(join(a.folder, 'd'))
  writeFileSync(join(a.folder, 'd', 'a.txt'), 'in d')
  await a.start(); await b.start()
  await waitConverged([a, b])

  writeFileSync(join(b.folder, 'x.txt'), 'B\'s edit')
  writeFileSync(join(b.folder, 'later.txt'), 'B\'s edit of later')
  writeFileSync(join(b.folder, 'b-new.txt'), 'added on B')
  writeFileSync(join(b.folder, 'd', 'mine.txt'), 'added on B in d')
  rmSync(join(b.folder, 'gone.txt'))
  const docs = await waitFor(async () => { const f = await docsOf(b); return f.localChanges === 5 ? f : undefined }, { what: 'B to count 5 locally changed items' })
  assert.is(docs.type, 'receiveonly')
  // A removes d: B removes A's file, and keeps d for its own (d becomes a local change, not sent).
  rmSync(join(a.folder, 'd'), { recursive: true })
  await waitFor(async () => !existsSync(join(b.folder, 'd', 'a.txt')) && (await docsOf(b)).localChanges === 6, { what: 'B to keep d for its own file' })
  assert.ok(existsSync(join(b.folder, 'd', 'mine.txt')))
  const original = snapshotTree(a.folder)
  const human = await cli(b.home, ['status'])
  assert.match(human.stdout, /docs: receive only, 6 locally changed items not sent; `lansync folder revert docs`/)
  // B's whole manifest (sent again after a restart) reaches A and changes nothing there.
  await b.stop(); await b.start()
  await waitManifestApplied(a, b)
  assert.is((await docsOf(b)).localChanges, 6, 'local changes survive a restart')
  assert.equal(snapshotTree(a.folder), original, 'A is unchanged')

  // A changes a file B changed too: A's version wins on B, B's edit stays in history.
  writeFileSync(join(a.folder, 'later.txt'), 'A\'s newer later')
  await waitFor(() => readFileSync(join(b.folder, 'later.txt'), 'utf8') === 'A\'s newer later', { what: 'A\'s newer version to replace B\'s local edit' })
  await waitFor(async () => (await docsOf(b)).localChanges === 5, { what: 'B to count 5 locally changed items' })
  assert.not.ok(readdirSync(b.folder).some(n => n.includes('sync-conflict')), 'no conflict copy')
  assert.is(await restoredFromHistory(b, 'later.txt', 'B\'s edit of later'), 'B\'s edit of later')

  const dry = await cli(b.home, ['folder', 'revert', 'docs', '--dry-run'])
  assert.match(dry.stdout, /would take the other devices' version back for 5 locally changed paths:\n  b-new\.txt: removed \(added here\)\n  d: removed \(added here\)\n  d\/mine\.txt: removed \(added here\)\n  gone\.txt: restored \(deleted here\)\n  x\.txt: the local edit replaced by their version/)
  assert.is((await docsOf(b)).localChanges, 5)
  assert.is(readFileSync(join(b.folder, 'x.txt'), 'utf8'), 'B\'s edit')

  const result = await cli(b.home, ['folder', 'revert', 'docs', '--json'])
  assert.is(result.json.reverted, 5)
  assert.equal(result.json.failed, [])
  const tree = await waitConverged([a, b], { what: 'B to match A after the revert' })
  assert.equal(Object.keys(tree).sort(), ['gone.txt', 'keep.txt', 'later.txt', 'x.txt'])
  assert.is(readFileSync(join(b.folder, 'x.txt'), 'utf8'), 'x.txt from A')
  assert.is((await docsOf(b)).localChanges, 0)
  // The local edits and additions are restorable from B's history.
  assert.is(await restoredFromHistory(b, 'x.txt', 'B\'s edit'), 'B\'s edit')
  await call(b, 'restore', { path: join(b.folder, 'b-new.txt') })
  assert.is(readFileSync(join(b.folder, 'b-new.txt'), 'utf8'), 'added on B')
  await waitFor(async () => (await docsOf(b)).localChanges === 1, { what: 'the restored file to count as a local change' })
  assert.not.ok(existsSync(join(a.folder, 'b-new.txt')))

  // Changed to send-and-receive, the local change becomes an ordinary one and is sent.
  updateConfig(b.home, c => setFolderSettings(c, 'docs', { type: 'sendreceive' }))
  await call(b, 'reload', {}) // what `folder set` does
  await waitFor(() => existsSync(join(a.folder, 'b-new.txt')), { what: 'B\'s local change to reach A once B sends and receives' })
  assert.is((await docsOf(b)).localChanges, 0)
  await a.stop(); await b.stop()
})

test('bad input: override and revert on the wrong type or an unknown folder, a bad --type: a clear error, nothing changed', async () => {
  const [a] = await makeCluster(['a'], { isSetUpInProcess: true })
  writeFileSync(join(a.folder, 'x.txt'), 'untouched')
  const before = snapshotTree(a.folder)
  // Through the CLI: the exit code and the one line it prints.
  const mismatch = await runCli(a.home, ['folder', 'override', 'docs'])
  assert.is(mismatch.code, 1, mismatch.stderr)
  assert.match(mismatch.stderr, /folder "docs" is sendreceive: `lansync folder override` .* needs a sendonly folder \(change it with `lansync folder set docs --type sendonly`\)/)
  const unknown = await runCli(a.home, ['folder', 'revert', 'nosuch', '--json'])
  assert.is(unknown.code, 3)
  assert.is(unknown.json.error.code, 'FOLDER_NOT_FOUND')
  // The same operations as the CLI runs them without an agent, for every type.
  const refusal = async (method: string, folder: string, isDryRun = false): Promise<{ code: string, message: string }> => {
    try { await invoke(a.home, method, { folder, isDryRun }) } catch (err: any) { return { code: err.code, message: err.message } }
    throw new Error(`${method} ${folder} was not refused`)
  }
  assert.match((await refusal('folder.revert', 'docs')).message, /folder "docs" is sendreceive: `lansync folder revert` .* needs a receiveonly folder/)
  assert.is((await refusal('folder.override', 'nosuch')).code, 'FOLDER_NOT_FOUND')
  updateConfig(a.home, c => setFolderSettings(c, 'docs', { type: 'sendonly' }))
  assert.is((await refusal('folder.revert', 'docs')).code, 'FOLDER_TYPE_MISMATCH')
  assert.is((await refusal('folder.revert', 'docs', true)).code, 'FOLDER_TYPE_MISMATCH', 'also as a dry run')
  updateConfig(a.home, c => setFolderSettings(c, 'docs', { type: 'receiveonly' }))
  assert.is((await refusal('folder.override', 'docs')).code, 'FOLDER_TYPE_MISMATCH')
  const badType = await runCli(a.home, ['folder', 'set', 'docs', '--type', 'sendrecieve'])
  assert.is(badType.code, 2)
  assert.match(badType.stderr, /sendrecieve/)
  assert.throws(() => updateConfig(a.home, c => addFolder(c, a.home, { path: tempDir('lansync-other-'), type: 'both' as any })), (err: any) => err.code === 'ARG_INVALID')
  assert.equal(loadConfig(a.home).folders.map(f => [f.id, f.type]), [['docs', 'receiveonly']])
  assert.throws(() => updateConfig(a.home, c => setFolderSettings(c, 'docs', { type: 'both' as any })), (err: any) => err.code === 'ARG_INVALID')
  assert.equal(snapshotTree(a.folder), before)
})

test.after(cleanupAll)
test.run()
