// The "backup" half on one device, with the real CLI and a real agent process.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, writeFileSync, readFileSync, rmSync, readdirSync, existsSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import { randomBytes } from 'node:crypto'
import { callAgent } from '../../src/control/client.js'
import { cli, cleanupAll, runCli, startAgent, tempDir, waitFor } from '../helpers/cli.js'

function setupDevice () {
  const dir = tempDir()
  const home = join(dir, 'home')
  const folder = join(dir, 'docs')
  mkdirSync(folder)
  return { dir, home, folder }
}

function readTree (root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      if (name === '.lansync') continue
      const full = join(d, name)
      if (statSync(full).isDirectory()) { out[relative(root, full) + '/'] = ''; walk(full) } else out[relative(root, full)] = readFileSync(full).toString('base64')
    }
  }
  walk(root)
  return out
}

test('init creates a device once; id prints it; a second init changes nothing', async () => {
  const { home } = setupDevice()
  const init = await cli(home, ['init', '--name', 'laptop', '--json'])
  assert.match(init.json.deviceId, /^([A-Z2-7]{7}-){7}[A-Z2-7]{7}$/)
  const id = await cli(home, ['id'])
  assert.is(id.stdout.trim(), init.json.deviceId)
  const again = await runCli(home, ['init'])
  assert.is(again.code, 1)
  assert.match(again.stderr, /already holds a device/)
  assert.is((await cli(home, ['id'])).stdout.trim(), init.json.deviceId)
  const uninit = await runCli(join(home, 'nope'), ['folder', 'list'])
  assert.is(uninit.code, 1)
  assert.match(uninit.stderr, /run `lansync init` first/)
})

test('folder add validates its path; list and remove work; remove keeps the files', async () => {
  const { dir, home, folder } = setupDevice()
  await cli(home, ['init'])
  const missing = await runCli(home, ['folder', 'add', join(dir, 'nope')])
  assert.is(missing.code, 1)
  assert.match(missing.stderr, /does not exist/)
  await cli(home, ['folder', 'add', folder, '--label', 'docs', '--id', 'docs-1'])
  assert.ok(existsSync(join(folder, '.lansync')))
  mkdirSync(join(folder, 'inner'))
  const nested = await runCli(home, ['folder', 'add', join(folder, 'inner')])
  assert.is(nested.code, 1)
  assert.match(nested.stderr, /overlaps folder "docs"/)
  const list = await cli(home, ['folder', 'list', '--json'])
  assert.equal(list.json.map((f: any) => [f.id, f.label]), [['docs-1', 'docs']])
  writeFileSync(join(folder, 'keep.txt'), 'mine')
  await cli(home, ['folder', 'remove', 'docs'])
  assert.is(readFileSync(join(folder, 'keep.txt'), 'utf8'), 'mine')
  assert.equal((await cli(home, ['folder', 'list', '--json'])).json, [])
})

test('20 edits while the agent runs give 20 restorable versions; a deleted file comes back; snapshots restore byte for byte', async () => {
  const { dir, home, folder } = setupDevice()
  await cli(home, ['init'])
  await cli(home, ['folder', 'add', folder, '--label', 'docs'])
  const agent = await startAgent(home, ['--listen', '127.0.0.1:0'])
  const socket = join(home, 'agent.sock')
  const file = join(folder, 'notes.md')
  const contents: Buffer[] = []
  for (let i = 0; i < 20; i++) {
    const content = Buffer.concat([Buffer.from(`edit ${i}\n`), randomBytes(1000 + i * 5000)])
    contents.push(content)
    writeFileSync(file, content)
    await waitFor(async () => {
      try { return (await callAgent(socket, 'history', { path: file })).versions.length === i + 1 } catch { return false }
    }, { what: `version ${i + 1}` })
  }
  const history = await cli(home, ['history', file, '--json'])
  assert.is(history.json.versions.length, 20)
  assert.equal(history.json.versions.map((v: any) => v.number), Array.from({ length: 20 }, (_, i) => i + 1))
  const out = join(dir, 'out')
  mkdirSync(out)
  for (let i = 0; i < 20; i++) {
    await cli(home, ['restore', file, '--version', String(i + 1), '--to', join(out, `v${i + 1}`)])
    assert.ok(readFileSync(join(out, `v${i + 1}`)).equals(contents[i]), `version ${i + 1} is byte-identical`)
  }
  const human = await cli(home, ['history', file])
  assert.match(human.stdout, /#\s+TIME\s+SIZE\s+DEVICE\s+HASH/)

  // A snapshot moment, then more changes.
  mkdirSync(join(folder, 'sub'))
  writeFileSync(join(folder, 'sub', 'a.bin'), randomBytes(300_000))
  writeFileSync(join(folder, 'b.txt'), 'bee')
  await waitFor(async () => (await callAgent(socket, 'history', { path: join(folder, 'b.txt') }).catch(() => undefined))?.versions.length === 1)
  await waitFor(async () => (await callAgent(socket, 'history', { path: join(folder, 'sub/a.bin') }).catch(() => undefined))?.versions.length === 1)
  const before = readTree(folder)
  await new Promise(resolve => setTimeout(resolve, 20)) // let the clock move past the snapshot moment
  const moment = Date.now()
  await new Promise(resolve => setTimeout(resolve, 20))
  rmSync(join(folder, 'b.txt'))
  writeFileSync(join(folder, 'sub', 'a.bin'), 'replaced')
  writeFileSync(join(folder, 'c.txt'), 'new')
  await waitFor(async () => (await callAgent(socket, 'history', { path: join(folder, 'c.txt') }).catch(() => undefined))?.versions.length === 1)
  await waitFor(async () => (await callAgent(socket, 'history', { path: join(folder, 'b.txt') }).catch(() => undefined))?.versions.length === 2)
  await waitFor(async () => (await callAgent(socket, 'history', { path: join(folder, 'sub/a.bin') }).catch(() => undefined))?.versions.length === 2)

  const snap = join(dir, 'snap')
  const restored = await cli(home, ['snapshot', 'restore', 'docs', '--at', String(moment), '--to', snap, '--json'])
  assert.is(restored.json.files, 3)
  assert.equal(readTree(snap), before)

  // Restoring into a non-empty directory is refused: nothing is overwritten.
  const refused = await runCli(home, ['snapshot', 'restore', 'docs', '--at', String(moment), '--to', snap])
  assert.is(refused.code, 2)
  assert.match(refused.stderr, /not empty/)

  // The deleted file comes back with no options (the newest version that has content).
  await cli(home, ['restore', join(folder, 'b.txt')])
  assert.is(readFileSync(join(folder, 'b.txt'), 'utf8'), 'bee')
  await waitFor(async () => (await callAgent(socket, 'history', { path: join(folder, 'b.txt') })).versions.length === 3, { what: 'restored file recorded' })

  // Bad inputs: clear one-line errors and non-zero exits.
  const noVersion = await runCli(home, ['restore', file, '--version', '99'])
  assert.is(noVersion.code, 3)
  assert.match(noVersion.stderr, /has versions 1 to 20, not 99/)
  const outside = await runCli(home, ['history', join(dir, 'elsewhere.txt')])
  assert.is(outside.code, 3)
  assert.match(outside.stderr, /not inside any lansync folder/)
  const badTime = await runCli(home, ['restore', file, '--at', 'someday'])
  assert.is(badTime.code, 2)

  // The marker disappears (an unmounted disk): the agent stops scanning and says why; nothing is deleted.
  rmSync(join(folder, '.lansync'), { recursive: true })
  writeFileSync(join(folder, 'after-unmount.txt'), 'x')
  await callAgent(socket, 'rescan', {})
  const status = await cli(home, ['status', '--json'])
  assert.is(status.json.folders[0].state, 'stopped')
  assert.match(status.json.folders[0].reason, /^folder marker missing at .*\.lansync: is the disk mounted\?/)
  assert.is((await cli(home, ['history', file, '--json'])).json.versions.length, 20)
  await agent.stop()
})

test('prune keeps what the policy says and GC frees the rest', async () => {
  const { dir, home, folder } = setupDevice()
  await cli(home, ['init'])
  await cli(home, ['folder', 'add', folder, '--label', 'docs'])
  const file = join(folder, 'big.bin')
  const agent = await startAgent(home, ['--listen', '127.0.0.1:0'])
  const socket = join(home, 'agent.sock')
  const contents: Buffer[] = []
  for (let i = 0; i < 5; i++) {
    contents.push(randomBytes(200_000))
    writeFileSync(file, contents[i])
    await waitFor(async () => (await callAgent(socket, 'history', { path: file }).catch(() => undefined))?.versions.length === i + 1)
  }
  await agent.stop()
  const pruned = await cli(home, ['history', 'prune', '--policy', 'last:2', '--json'])
  assert.is(pruned.json.folders[0].versionsRemoved, 3)
  assert.ok(pruned.json.bytesFreed >= 3 * 200_000, `freed ${pruned.json.bytesFreed}`)
  const history = await cli(home, ['history', file, '--json'])
  assert.is(history.json.versions.length, 2)
  await cli(home, ['restore', file, '--version', '1', '--to', join(dir, 'v')])
  assert.ok(readFileSync(join(dir, 'v')).equals(contents[3]))
  const again = await cli(home, ['history', 'prune', '--policy', 'last:2', '--json'])
  assert.is(again.json.bytesFreed, 0)
})

test('a locked or corrupt database gives a clear error and touches no file', async () => {
  const { home, folder } = setupDevice()
  await cli(home, ['init'])
  await cli(home, ['folder', 'add', folder, '--label', 'docs'])
  writeFileSync(join(folder, 'a.txt'), 'a')
  const { Level } = await import('level')
  const holder = new Level(join(home, 'db'))
  await holder.open()
  const locked = await runCli(home, ['status'])
  assert.is(locked.code, 1)
  assert.match(locked.stderr, /in use by another lansync process/)
  await holder.close()
  await cli(home, ['status'])
  for (const name of readdirSync(join(home, 'db'))) {
    if (name.startsWith('MANIFEST') || name === 'CURRENT') writeFileSync(join(home, 'db', name), 'garbage')
  }
  const corrupt = await runCli(home, ['status'])
  assert.is(corrupt.code, 1)
  assert.match(corrupt.stderr, /corrupt|cannot open/)
  assert.is(readFileSync(join(folder, 'a.txt'), 'utf8'), 'a')
})

test.after(cleanupAll)
test.run()
