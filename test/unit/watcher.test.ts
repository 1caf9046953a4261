// The watcher's batches: a path still being written is held back at the deadline (so a scan never
// records a file halfway through a rewrite), while quiet paths touched with it go on time.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { appendFileSync, writeFileSync } from 'node:fs'
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

test.after(cleanupAll)
test.run()
