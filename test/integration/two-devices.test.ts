// Two and three real agents on 127.0.0.1 keep a folder identical in both directions.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, writeFileSync, rmSync, renameSync, readFileSync, readdirSync, existsSync, chmodSync, symlinkSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { cleanupAll, cli, waitFor } from '../helpers/cli.js'
import { makeCluster, waitConverged } from '../helpers/cluster.js'

test('add, modify, delete, rename and move into a subdir propagate both ways', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  writeFileSync(join(a.folder, 'one.txt'), 'one')
  await a.start(); await b.start()
  await waitConverged([a, b])
  assert.is(readFileSync(join(b.folder, 'one.txt'), 'utf8'), 'one')

  writeFileSync(join(b.folder, 'two.bin'), randomBytes(300_000))
  mkdirSync(join(b.folder, 'empty-dir'))
  writeFileSync(join(b.folder, 'empty.txt'), '')
  writeFileSync(join(b.folder, 'run.sh'), '#!/bin/sh\necho hi\n')
  chmodSync(join(b.folder, 'run.sh'), 0o755)
  symlinkSync('one.txt', join(b.folder, 'link-to-one'))
  await waitConverged([a, b])

  writeFileSync(join(a.folder, 'one.txt'), 'one, modified on a')
  await waitConverged([a, b])
  assert.is(readFileSync(join(b.folder, 'one.txt'), 'utf8'), 'one, modified on a')

  mkdirSync(join(a.folder, 'sub'))
  renameSync(join(a.folder, 'two.bin'), join(a.folder, 'sub', 'two.bin'))
  renameSync(join(b.folder, 'empty.txt'), join(b.folder, 'renamed-empty.txt'))
  await waitConverged([a, b])
  assert.ok(existsSync(join(b.folder, 'sub', 'two.bin')))

  rmSync(join(b.folder, 'sub'), { recursive: true })
  rmSync(join(a.folder, 'empty-dir'), { recursive: true })
  const tree = await waitConverged([a, b])
  assert.equal(Object.keys(tree).sort(), ['link-to-one', 'one.txt', 'renamed-empty.txt', 'run.sh'])

  // The mtime travels with the content.
  const past = new Date('2020-01-02T03:04:05Z')
  writeFileSync(join(a.folder, 'old.txt'), 'old')
  utimesSync(join(a.folder, 'old.txt'), past, past)
  await waitConverged([a, b])
  const { statSync } = await import('node:fs')
  await waitFor(() => statSync(join(b.folder, 'old.txt')).mtimeMs === past.getTime())

  // Every replaced version is in history on the receiving side too.
  const history = await cli(b.home, ['history', join(b.folder, 'one.txt'), '--json'])
  assert.is(history.json.versions.length, 2)
  await a.stop(); await b.stop()
})

test('an offline edit on both sides ends with the same winner and conflict copy everywhere; delete vs edit keeps the edit', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  writeFileSync(join(a.folder, 'plan.txt'), 'v1')
  writeFileSync(join(a.folder, 'keep.txt'), 'v1')
  await a.start(); await b.start()
  await waitConverged([a, b])
  await a.stop(); await b.stop()

  // Offline: both edit plan.txt (b later, so b wins); a deletes keep.txt while b edits it.
  writeFileSync(join(a.folder, 'plan.txt'), 'edit on a')
  utimesSync(join(a.folder, 'plan.txt'), new Date(Date.now() - 60_000), new Date(Date.now() - 60_000))
  writeFileSync(join(b.folder, 'plan.txt'), 'edit on b')
  rmSync(join(a.folder, 'keep.txt'))
  writeFileSync(join(b.folder, 'keep.txt'), 'edited on b')

  await a.start(); await b.start()
  const tree = await waitConverged([a, b], { what: 'the conflict to settle' })
  assert.is(readFileSync(join(a.folder, 'plan.txt'), 'utf8'), 'edit on b')
  const copies = readdirSync(a.folder).filter(n => n.startsWith('plan.sync-conflict-'))
  assert.is(copies.length, 1, `one conflict copy: ${JSON.stringify(tree)}`)
  assert.match(copies[0], /^plan\.sync-conflict-\d{8}-\d{6}-[A-Z2-7]{7}\.txt$/)
  assert.is(readFileSync(join(b.folder, copies[0]), 'utf8'), 'edit on a')
  assert.is(readFileSync(join(a.folder, 'keep.txt'), 'utf8'), 'edited on b')
  // Both versions of plan.txt are in history on both devices.
  for (const d of [a, b]) {
    const h = await cli(d.home, ['history', join(d.folder, 'plan.txt'), '--json'])
    assert.ok(h.json.versions.length >= 2)
  }
  await a.stop(); await b.stop()
})

test('three devices chained A–B–C converge', async () => {
  const [a, b, c] = await makeCluster(['a', 'b', 'c'], { links: [[0, 1], [1, 2]] })
  await a.start(); await b.start(); await c.start()
  writeFileSync(join(a.folder, 'from-a.txt'), 'a')
  writeFileSync(join(c.folder, 'from-c.bin'), randomBytes(200_000))
  await waitConverged([a, b, c])
  rmSync(join(c.folder, 'from-a.txt'))
  writeFileSync(join(a.folder, 'from-c.bin'), 'changed on a')
  const tree = await waitConverged([a, b, c])
  assert.equal(Object.keys(tree).sort(), ['from-c.bin'])
  assert.is(readFileSync(join(c.folder, 'from-c.bin'), 'utf8'), 'changed on a')
  await a.stop(); await b.stop(); await c.stop()
})

test.after(cleanupAll)
test.run()
