// The watcher's batches: a path still being written is held back at the deadline (so a scan never
// records a file halfway through a rewrite), while quiet paths touched with it go on time.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { appendFileSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { FolderWatcher } from '../../src/fs/watcher.js'
import { cleanupAll, tempDir, waitFor } from '../helpers/cli.js'

test('at the deadline, a file still being written waits; a quiet one goes', async () => {
  const root = tempDir()
  writeFileSync(join(root, 'busy.log'), 'start\n')
  writeFileSync(join(root, 'quiet.txt'), 'v1')
  const watcher = new FolderWatcher({ root, quietMs: 150, maxDelayMs: 400 })
  const batches: Array<{ atMs: number, paths: string[] }> = []
  watcher.on('batch', paths => batches.push({ atMs: Date.now(), paths }))
  await watcher.ready()
  try {
    const startedMs = Date.now()
    writeFileSync(join(root, 'quiet.txt'), 'v2')
    // busy.log is appended to every 40 ms for 1.6 s: never quiet for 150 ms.
    while (Date.now() - startedMs < 1600) {
      appendFileSync(join(root, 'busy.log'), 'line\n')
      await sleep(40)
    }
    const lastWriteMs = Date.now()
    await waitFor(() => batches.some(b => b.paths.includes('busy.log')), { timeoutMs: 5000, what: 'busy.log in a batch' })
    const quiet = batches.find(b => b.paths.includes('quiet.txt'))
    const busy = batches.find(b => b.paths.includes('busy.log'))
    assert.ok(quiet !== undefined && busy !== undefined)
    assert.ok(quiet.atMs - startedMs < 1400, `quiet.txt went at the deadline (${quiet.atMs - startedMs} ms), not after the writes`)
    assert.not.ok(quiet.paths.includes('busy.log'), 'the file being written was held back')
    assert.ok(busy.atMs >= lastWriteMs, 'busy.log went once its writes stopped')
  } finally {
    await watcher.close()
  }
})

test('directories are watched, not files: new and moved-in trees are followed, removed ones dropped', async () => {
  const root = tempDir()
  mkdirSync(join(root, 'a/b'), { recursive: true })
  for (let i = 0; i < 50; i++) writeFileSync(join(root, 'a/b', `f${i}`), 'x')
  const outside = tempDir()
  mkdirSync(join(outside, 'moved/deep'), { recursive: true })
  const watcher = new FolderWatcher({ root, quietMs: 100, maxDelayMs: 300 })
  const touched = new Set<string>()
  watcher.on('batch', paths => { for (const p of paths) touched.add(p) })
  await watcher.ready()
  try {
    assert.is(watcher.watchedDirs, 3, 'the root, a and a/b: none of the 50 files')
    writeFileSync(join(root, 'a/b/f7'), 'changed')
    await waitFor(() => touched.has('a/b/f7'), { timeoutMs: 5000, what: 'a change in a watched directory' })
    // A directory made and filled at once, and a tree moved in: both watched, and what is written in them later is seen.
    mkdirSync(join(root, 'new'))
    writeFileSync(join(root, 'new/first'), '1')
    renameSync(join(outside, 'moved'), join(root, 'moved'))
    await waitFor(() => touched.has('new') && touched.has('moved') && watcher.watchedDirs === 6, { timeoutMs: 5000, what: 'new and moved to be watched' })
    writeFileSync(join(root, 'moved/deep/later'), '2')
    await waitFor(() => touched.has('moved/deep/later'), { timeoutMs: 5000, what: 'a file written in the moved-in tree' })
    rmSync(join(root, 'moved'), { recursive: true })
    await waitFor(() => watcher.watchedDirs === 4, { timeoutMs: 5000, what: 'the removed tree to be dropped' })
  } finally {
    await watcher.close()
  }
})

test('after a burst of more events than the kernel may queue, the quiet batch asks for a full scan', async () => {
  const root = tempDir()
  const watcher = new FolderWatcher({ root, quietMs: 100, maxDelayMs: 300, burstEvents: 40 })
  const batches: string[][] = []
  watcher.on('batch', paths => batches.push(paths))
  await watcher.ready()
  try {
    writeFileSync(join(root, 'one'), '1')
    await waitFor(() => batches.length === 1, { timeoutMs: 5000, what: 'a small batch' })
    assert.not.ok(batches[0].includes(''), 'a few events: only their paths')
    for (let i = 0; i < 100; i++) writeFileSync(join(root, `f${i}`), String(i))
    await waitFor(() => batches.some(b => b.includes('')), { timeoutMs: 5000, what: 'a batch with the whole folder' })
  } finally {
    await watcher.close()
  }
})

test.after(cleanupAll)
test('a rename goes after the short quiet of names, both halves in one batch; writes in place wait the full quiet', async () => {
  const root = tempDir()
  const outside = tempDir()
  mkdirSync(join(root, 'sub'))
  writeFileSync(join(root, 'old.bin'), 'content')
  writeFileSync(join(outside, 'saved.txt'), 'a whole new version')
  // quietMs is long enough that no batch of this test can come from it by chance under load.
  const watcher = new FolderWatcher({ root, quietMs: 3000, nameQuietMs: 30, maxDelayMs: 10_000 })
  const batches: Array<{ atMs: number, paths: string[] }> = []
  watcher.on('batch', paths => batches.push({ atMs: Date.now(), paths }))
  await watcher.ready()
  try {
    let startedMs = Date.now()
    renameSync(join(root, 'old.bin'), join(root, 'sub', 'new.bin'))
    renameSync(join(outside, 'saved.txt'), join(root, 'saved.txt')) // an atomic save, from elsewhere
    await waitFor(() => batches.length > 0, { timeoutMs: 10_000, what: 'the rename batch' })
    assert.ok(batches[0].atMs - startedMs < 2500, `names need only the short quiet (${batches[0].atMs - startedMs} ms)`)
    assert.equal(batches[0].paths.sort(), ['old.bin', 'saved.txt', 'sub/new.bin'], 'both halves of the move together')

    // A file created and then written with pauses (longer than the names' quiet, shorter than
    // the full one): its last event is a write, so nothing goes until the writes stop.
    batches.length = 0
    startedMs = Date.now()
    writeFileSync(join(root, 'slow.log'), 'part 1\n')
    for (let i = 2; i <= 5; i++) { await sleep(150); appendFileSync(join(root, 'slow.log'), `part ${i}\n`) }
    const lastWriteMs = Date.now()
    await waitFor(() => batches.length > 0, { timeoutMs: 10_000, what: 'the write batch' })
    assert.equal(batches.map(b => b.paths), [['slow.log']], 'one batch, after the last write')
    assert.ok(batches[0].atMs >= lastWriteMs + 2500, 'held for the full quiet after the last write')
    assert.ok(lastWriteMs - startedMs < 2500, 'the writes came faster than the full quiet (else the test proves nothing)')
  } finally {
    await watcher.close()
  }
})

test.run()
