// Ignore layers and selective sync with real agents: the shared `.lansyncignore` travels and
// applies on the peer, the local `.lansync/ignore` applies here only, `why` names the rule;
// `folder only` holds a part of the folder here without deleting anything anywhere, `fetch`
// brings one more file, and a copy removed outside the selection is never a delete elsewhere.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, cli, runCli, waitFor } from '../helpers/cli.js'
import { makeCluster, snapshotTree, waitConverged, type Device } from '../helpers/cluster.js'
import { callAgent } from '../../src/control/client.js'
import { loadConfig, updateConfig } from '../../src/config.js'
import { explainPath } from '../../src/ops/why.js'
import { setFolderSelection } from '../../src/ops/folders.js'

// The machine these run on is shared and slow to start processes: the CLI runs as a process for
// the commands' own wiring (arguments, output, exit codes), the rest calls the same code in this
// process (`why` reads config and rule files; the agent is asked over its control socket).
const agentCall = async (d: Device, method: string, params: object): Promise<any> => await callAgent(join(d.home, 'agent.sock'), method, params)
/** The error code a call fails with ('' if it does not fail). */
const codeOf = async (work: () => unknown): Promise<string> => {
  try { await work(); return '' } catch (err) { return (err as { code?: string }).code ?? String(err) }
}
/** `lansync folder only` as the CLI does it: change the config, tell the agent. */
const only = async (d: Device, patterns: string[], isAll = false): Promise<void> => {
  updateConfig(d.home, c => setFolderSelection(c, 'docs', { patterns, isAll }))
  await agentCall(d, 'reload', {})
}

const read = (d: Device, path: string): string | undefined => {
  try { return readFileSync(join(d.folder, path), 'utf8') } catch { return undefined }
}
const write = (d: Device, path: string, text: string): void => {
  mkdirSync(join(d.folder, path, '..'), { recursive: true })
  writeFileSync(join(d.folder, path), text)
}
/** Waits until `path` on `d` holds `text` (what a peer wrote). */
const arrives = async (d: Device, path: string, text: string): Promise<void> => {
  await waitFor(() => read(d, path) === text, { what: `${path} to reach ${d.name}`, timeoutMs: 20_000 })
}

test('ignore layers: the shared rule travels and applies on B; B\'s local rule applies on B only; `why` names the rule', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  // B's local-only rules, in place before anything syncs.
  write(b, '.lansync/ignore', '# mine only\nprivate/\n!keep.tmp\n')
  await a.start(); await b.start()

  write(a, 'shared-before.tmp', 'synced before any rule')
  await arrives(b, 'shared-before.tmp', 'synced before any rule')
  write(a, '.lansyncignore', '*.tmp\n')
  await arrives(b, '.lansyncignore', '*.tmp\n')

  // The rule that came from A applies to B's own files: not sent.
  write(b, 'from-b.tmp', 'ignored on b')
  write(b, 'keep.tmp', 'b re-includes this one locally')
  write(b, 'private/mine.txt', 'b keeps this to itself')
  write(b, 'from-b.txt', 'normal')
  await arrives(a, 'from-b.txt', 'normal')
  // B's local `!keep.tmp` beats the shared `*.tmp` on B, so B sends it; A's rules ignore it: not written there.
  assert.not.ok(existsSync(join(a.folder, 'from-b.tmp')), 'an ignored file of B reached A')
  assert.not.ok(existsSync(join(a.folder, 'keep.tmp')), 'a path A ignores was written on A')
  assert.not.ok(existsSync(join(a.folder, 'private')), "B's local rule did not keep private/ on B")
  assert.not.ok(existsSync(join(a.folder, '.lansync', 'ignore')), 'the local rules file was synced')

  // A record for a path B ignores is not written on B (nor announced back).
  write(a, 'private/from-a.txt', 'a shares this')
  write(a, 'after.txt', 'after private/from-a.txt')
  await arrives(b, 'after.txt', 'after private/from-a.txt')
  assert.not.ok(existsSync(join(b.folder, 'private', 'from-a.txt')), 'a path B ignores was written on B')
  // The rule stopped nothing that was already synced: the old .tmp file stays on both.
  assert.is(read(a, 'shared-before.tmp'), 'synced before any rule')
  assert.is(read(b, 'shared-before.tmp'), 'synced before any rule')

  // why: the shared rule, the local rule, a local re-include, no rule, the marker dir; and bad input
  // (a path outside every folder, an unknown folder, a path leaving the folder).
  const [human, outside] = await Promise.all([
    cli(b.home, ['why', 'docs', 'private/from-a.txt']),
    runCli(b.home, ['why', '/tmp', '--json'])
  ])
  assert.match(human.stdout, /private\/from-a\.txt \(folder "docs"\) is ignored: local rule \.lansync\/ignore:2: private\//)
  assert.is(outside.code, 3)
  assert.is(outside.json.error.code, 'PATH_NOT_IN_FOLDER')
  const configB = loadConfig(b.home)
  const shared = explainPath(configB, { path: join(b.folder, 'from-b.tmp') })
  assert.equal({ ...shared, folder: undefined }, {
    folder: undefined, label: 'docs', path: 'from-b.tmp', isDir: false, isIgnored: true,
    layer: 'shared', file: '.lansyncignore', line: 1, pattern: '*.tmp', isNegation: false, isSelected: true, selection: []
  })
  const local = explainPath(configB, { folder: 'docs', path: 'private/from-a.txt' })
  assert.equal([local.layer, local.file, local.line, local.pattern, local.viaDirectory], ['local', '.lansync/ignore', 2, 'private/', 'private'])
  const keep = explainPath(configB, { folder: 'docs', path: 'keep.tmp' })
  assert.equal([keep.isIgnored, keep.isNegation, keep.line], [false, true, 3])
  assert.equal(explainPath(configB, { path: join(b.folder, 'from-b.txt') }).layer, undefined)
  assert.is(explainPath(loadConfig(a.home), { folder: 'docs', path: 'private/from-a.txt' }).isIgnored, false, "B's local rule applies on A")
  assert.is(explainPath(configB, { folder: 'docs', path: '.lansync/ignore' }).layer, 'built-in')
  assert.is(await codeOf(() => explainPath(configB, { folder: 'nope', path: 'x.txt' })), 'FOLDER_NOT_FOUND')
  assert.is(await codeOf(() => explainPath(configB, { folder: 'docs', path: '../x' })), 'PATH_INVALID')

  // Dropping the local rule: B now pulls what it ignored (its version was kept as known), and sends its own.
  write(b, '.lansync/ignore', '!keep.tmp\n')
  await arrives(b, 'private/from-a.txt', 'a shares this')
  await arrives(a, 'private/mine.txt', 'b keeps this to itself')
  // Nothing that either device holds was deleted anywhere.
  for (const path of ['shared-before.tmp', 'from-b.txt', 'after.txt', '.lansyncignore']) {
    assert.ok(existsSync(join(a.folder, path)) && existsSync(join(b.folder, path)), path)
  }
  assert.ok(existsSync(join(b.folder, 'from-b.tmp')), 'B lost its own ignored file')
})

test('folder only: B holds docs/ only, fetch brings one more file, nothing B drops is deleted on A', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const files: Record<string, string> = {
    'docs/a.txt': 'a', 'docs/sub/b.txt': 'b', 'other/x.txt': 'x', 'other/y.txt': 'y', 'top.txt': 'top', '.lansyncignore': '*.never\n'
  }
  for (const [path, text] of Object.entries(files)) write(a, path, text)
  // Bad input first (no agent needed): each a clear code, the config unchanged.
  const [noPattern, offline] = await Promise.all([
    runCli(b.home, ['folder', 'only', 'docs', '--json']),
    runCli(b.home, ['fetch', 'docs', 'other/x.txt', '--json'])
  ])
  assert.is(noPattern.code, 2)
  assert.is(noPattern.json.error.code, 'ARG_INVALID')
  assert.is(offline.json.error.code, 'AGENT_NOT_RUNNING')
  const select = (patterns: string[], isAll = false, folder = 'docs') => () => updateConfig(b.home, c => setFolderSelection(c, folder, { patterns, isAll }))
  assert.is(await codeOf(select(['docs/**'], false, 'nope')), 'FOLDER_NOT_FOUND')
  assert.is(await codeOf(select(['docs/**'], true)), 'ARG_INVALID')
  assert.is(await codeOf(select(['../docs/**'])), 'ARG_INVALID')
  assert.equal(loadConfig(b.home).folders[0].selection, [])

  const selected = await cli(b.home, ['folder', 'only', 'docs', 'docs/**', '--json'])
  assert.equal(selected.json.selection, ['docs/**'])
  await a.start(); await b.start()
  write(a, 'docs/zz-last.txt', 'written after both started')
  await arrives(b, 'docs/zz-last.txt', 'written after both started')
  const hashOf = (d: Device): Record<string, string> => snapshotTree(d.folder)
  // The shared rules reach B whatever its selection.
  assert.equal(Object.keys(hashOf(b)).sort(), ['.lansyncignore', 'docs', 'docs/a.txt', 'docs/sub', 'docs/sub/b.txt', 'docs/zz-last.txt'])
  assert.equal(Object.keys(hashOf(a)).sort(), ['.lansyncignore', 'docs', 'docs/a.txt', 'docs/sub', 'docs/sub/b.txt', 'docs/zz-last.txt', 'other', 'other/x.txt', 'other/y.txt', 'top.txt'])
  // Not held is not out of sync: nothing to pull, nothing in progress.
  const status = (await b.status()).folders[0]
  assert.is(status.notHeld, 4) // other/, other/x.txt, other/y.txt, top.txt
  assert.equal(status.selection, ['docs/**'])
  assert.is(status.problems.length, 0)
  assert.is((await b.status()).peers[0].folders[0].needFiles, 0)
  const plan = await agentCall(b, 'plan', {})
  assert.is(plan.folders[0].peers[0].pull.length, 0)

  // fetch: exactly that file (and its directory), from A.
  const fetched = await cli(b.home, ['fetch', join(b.folder, 'other/x.txt'), '--json'])
  assert.is(fetched.json.isAlreadyHere, false)
  assert.is(fetched.json.from, a.id)
  assert.is(read(b, 'other/x.txt'), 'x')
  assert.not.ok(existsSync(join(b.folder, 'other/y.txt')))
  assert.not.ok(existsSync(join(b.folder, 'top.txt')))
  const again = await agentCall(b, 'fetch', { folder: 'docs', path: 'other/x.txt' })
  assert.is(again.isAlreadyHere, true)
  // The fetched copy keeps up with A.
  write(a, 'other/x.txt', 'x, edited on a')
  await arrives(b, 'other/x.txt', 'x, edited on a')
  // A new file B makes outside its selection is still sent (not selected is not ignored).
  write(b, 'other/made-on-b.txt', 'from b')
  await arrives(a, 'other/made-on-b.txt', 'from b')

  // B drops its copy of a path outside the selection: A keeps the file.
  rmSync(join(b.folder, 'other/x.txt'))
  rmSync(join(b.folder, 'other/made-on-b.txt'))
  write(b, 'docs/after-drop.txt', 'after the drop')
  await arrives(a, 'docs/after-drop.txt', 'after the drop')
  assert.is(read(a, 'other/x.txt'), 'x, edited on a')
  assert.is(read(a, 'other/made-on-b.txt'), 'from b')
  assert.is(explainPath(loadConfig(b.home), { folder: 'docs', path: 'other/x.txt' }).isSelected, false)
  // And fetch brings it back (the version A has).
  await agentCall(b, 'fetch', { folder: 'docs', path: 'other/x.txt' })
  assert.is(read(b, 'other/x.txt'), 'x, edited on a')

  // More bad input, with the agents running.
  const fetch = (path: string) => async () => await agentCall(b, 'fetch', { folder: 'docs', path })
  assert.is(await codeOf(fetch('never/was.txt')), 'PATH_NOT_FOUND')
  assert.is(await codeOf(fetch('../x.txt')), 'PATH_INVALID')
  write(b, '.lansync/ignore', 'top.txt\n')
  assert.is(await codeOf(fetch('top.txt')), 'PATH_IGNORED')
  rmSync(join(b.folder, '.lansync/ignore'))
  await a.stop()
  assert.is(await codeOf(fetch('other/y.txt')), 'PEER_NOT_CONNECTED')
  assert.not.ok(existsSync(join(b.folder, 'other/y.txt')))
  await a.start()

  // --all: B holds everything again and pulls what it did not hold.
  await cli(b.home, ['folder', 'only', 'docs', '--all'])
  const tree = await waitConverged([a, b], { what: 'B to pull everything after --all' })
  for (const path of Object.keys(files)) assert.ok(tree[path] !== undefined, path)
  // (each file is on disk a moment before its known version is dropped)
  await waitFor(async () => (await b.status()).folders[0].notHeld === 0 ? true : undefined, { what: 'B to hold no known version it lacks' })

  // Narrowing again deletes nothing on B; removing a copy outside the selection deletes nothing on A.
  await only(b, ['docs/**'])
  write(a, 'docs/narrowed.txt', 'after narrowing')
  await arrives(b, 'docs/narrowed.txt', 'after narrowing')
  assert.is(read(b, 'other/y.txt'), 'y', 'narrowing removed a file on B')
  rmSync(join(b.folder, 'other'), { recursive: true })
  rmSync(join(b.folder, 'top.txt'))
  write(b, 'docs/after-rm.txt', 'after rm')
  await arrives(a, 'docs/after-rm.txt', 'after rm')
  for (const path of ['other/x.txt', 'other/y.txt', 'other/made-on-b.txt', 'top.txt']) assert.ok(existsSync(join(a.folder, path)), `${path} was deleted on A`)
  // A's history holds no delete made by B.
  const history = await agentCall(a, 'history', { path: join(a.folder, 'other/y.txt') })
  assert.not.ok(history.versions.some((v: any) => v.isDeleted), 'A recorded a delete of other/y.txt')
})

test.after(cleanupAll)
test.run()
