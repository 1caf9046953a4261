// A watcher storm (GitHub issue 5): a "checkout" writes thousands of small files into the watched
// folder while the agent runs, as fast as it can, and within the storm rewrites some of them,
// deletes others, and removes a whole directory it had just filled. Every final version must be
// recorded (no event lost for good), a rescan finds nothing more, no temp file is left (the
// ledger's checks), and neither the agent's open file descriptors nor its inotify watches grow with
// the number of files: one watch per directory (on the one inotify descriptor of the process).
// Watching every file as well (as chokidar did: 4,000 files, some 3,500 watches) costs memory per
// file and runs into the per-user inotify limit on big trees (see src/fs/watcher.ts).
// (The 50,000-file storm between two agents is the soak's: npm run soak -- --only storm.)
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { mkdirSync, readdirSync, readlinkSync, readFileSync, renameSync, rmSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, waitFor } from '../helpers/cli.js'
import { makeCluster, type Device } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const FILES = 4000
const DIRS = 80
/** Open descriptors the agent may hold above its idle count, whatever the number of files. */
const FD_HEADROOM = 40

/** The agent's open descriptors now, and its inotify watches (lines of its inotify fds' fdinfo). */
function openFds (pid: number): { fds: number, watches: number } {
  const fds = readdirSync(`/proc/${pid}/fd`)
  let watches = 0
  for (const fd of fds) {
    try {
      if (readlinkSync(`/proc/${pid}/fd/${fd}`) !== 'anon_inode:inotify') continue
      watches += readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8').split('inotify wd:').length - 1
    } catch {} // closed meanwhile
  }
  return { fds: fds.length, watches }
}

/** Samples the agent's descriptors every 100 ms until stopped; returns the most seen. */
function sampleFds (device: Device): () => { fds: number, watches: number } {
  const pid = device.agent?.child.pid as number
  const peak = { fds: 0, watches: 0 }
  const sample = (): void => {
    try {
      const now = openFds(pid)
      peak.fds = Math.max(peak.fds, now.fds)
      peak.watches = Math.max(peak.watches, now.watches)
    } catch {}
  }
  sample()
  const timer = setInterval(sample, 100)
  return () => { clearInterval(timer); sample(); return peak }
}

const yieldNow = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))

test(`a storm of ${FILES} files written, rewritten and deleted while the agent runs: every final version recorded, descriptors bounded`, async () => {
  const [a] = await makeCluster(['a'], { isSetUpInProcess: true })
  const ledger = new Ledger([a])
  await a.start()
  await waitFor(async () => (await a.status()).folders[0].state === 'idle', { what: 'a to finish its first scan' })
  const idle = openFds(a.agent?.child.pid as number)
  const stopSampling = sampleFds(a)
  const startedMs = Date.now()
  // Any file written in place is empty for a moment (created, then written): a scan may see that.
  ledger.noteWritten(a, 'empty', Buffer.alloc(0), { isPassing: true })
  const live = new Map<string, Buffer>()
  /** Every state written is noted passing; those the storm leaves become versions to keep at the end. */
  const write = (path: string, bytes: Buffer): void => {
    writeFileSync(join(a.folder, path), bytes)
    ledger.noteWritten(a, path, bytes, { isPassing: true })
    live.set(path, bytes)
  }
  const dirs = Array.from({ length: DIRS }, (_, i) => `pkg${String(Math.floor(i / 8)).padStart(2, '0')}/mod${i % 8}`)
  for (const dir of dirs) mkdirSync(join(a.folder, dir), { recursive: true })
  for (let i = 0; i < FILES; i++) {
    const path = `${dirs[i % DIRS]}/f${String(i).padStart(5, '0')}.c`
    write(path, Buffer.concat([Buffer.from(`${path}\n`), randomBytes(1024 + (i * 37) % 3072)]))
    // Within the storm, some files written a moment ago change again or go.
    if (i % 10 === 9) {
      const again = `${dirs[(i - 5) % DIRS]}/f${String(i - 5).padStart(5, '0')}.c`
      write(again, Buffer.concat([Buffer.from(`${again} rewritten\n`), randomBytes(500 + i % 700)]))
    }
    if (i % 25 === 24) {
      const gone = `${dirs[(i - 12) % DIRS]}/f${String(i - 12).padStart(5, '0')}.c`
      unlinkSync(join(a.folder, gone))
      live.delete(gone)
    }
    if (i % 200 === 199) await yieldNow() // lets the sampler run; the writes themselves do not wait
    // Halfway, a tree made outside the folder is moved in, and one of its files changes at once.
    if (i === FILES / 2) {
      const outside = join(a.folder, '..', 'vendor-staging')
      mkdirSync(join(outside, 'lib'), { recursive: true })
      for (let k = 0; k < 200; k++) writeFileSync(join(outside, 'lib', `v${k}.h`), `vendor ${k}\n`)
      renameSync(outside, join(a.folder, 'vendor'))
      for (let k = 0; k < 200; k++) ledger.noteWritten(a, `vendor/lib/v${k}.h`, Buffer.from(`vendor ${k}\n`), { isPassing: true })
      for (let k = 0; k < 200; k++) live.set(`vendor/lib/v${k}.h`, Buffer.from(`vendor ${k}\n`))
      write('vendor/lib/v7.h', Buffer.from('vendor 7, patched right after the move\n'))
    }
  }
  // A directory filled during the storm and removed whole before it ended.
  mkdirSync(join(a.folder, 'build/out'), { recursive: true })
  for (let i = 0; i < 100; i++) write(`build/out/o${i}.o`, randomBytes(2048))
  rmSync(join(a.folder, 'build'), { recursive: true })
  for (const path of [...live.keys()]) if (path.startsWith('build/')) live.delete(path)
  const writtenMs = Date.now()
  // What stays is what must be recorded.
  for (const [path, bytes] of live) ledger.noteWritten(a, path, bytes)
  const liveBytes = [...live.values()].reduce((n, b) => n + b.length, 0)
  await waitFor(async () => {
    const f = (await a.status()).folders[0]
    return f.state === 'idle' && f.files === live.size && f.bytes === liveBytes
  }, { timeoutMs: 60_000, intervalMs: 250, what: `a to record the ${live.size} files the storm left` })
  const peak = stopSampling()
  const recordedMs = Date.now()
  await ledger.check({ timeoutMs: 30_000 })
  console.log(`  (storm written in ${writtenMs - startedMs} ms, all recorded ${recordedMs - startedMs} ms after it began, checks ${Date.now() - recordedMs} ms; idle: ${idle.fds} fds, ${idle.watches} inotify watches; storm of ${FILES} files: up to ${peak.fds} fds, ${peak.watches} inotify watches)`)
  assert.ok(peak.fds <= idle.fds + FD_HEADROOM, `open descriptors stay bounded: ${peak.fds} at most, ${idle.fds} idle`)
  // The root and its marker dir, 10 + 80 directories of the storm, vendor/ and vendor/lib, and build/ and build/out while they lived.
  assert.ok(peak.watches >= 1, 'the sampler sees the inotify watches')
  assert.ok(peak.watches <= 2 + 10 + DIRS + 2 + 2, `one inotify watch per directory, none per file: ${peak.watches} for ${FILES} files in ${DIRS + 10} directories`)
  await a.stop()
})

test.after(cleanupAll)
test.run()
