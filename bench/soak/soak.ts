// Soak runs (not tests; GitHub issue 5): the long cases the test suite cannot afford. Two agents on
// 127.0.0.1 (--no-mdns, as every agent outside a network namespace): (1) one folder of 100,000 small
// files synced from a to b; (2) a 4 GiB file synced, then one byte of it changed in place. For each
// phase it prints the time, and for each agent the peak RSS (VmHWM from /proc/PID/status), the peak
// of its private part (RssAnon: LevelDB maps its table files into memory to read them, and those
// file-backed pages count in RSS although they are page cache the kernel reclaims at will), and the
// most open file descriptors seen (/proc/PID/fd, sampled every 200 ms). (3) A watcher storm: with
// both agents running, a "checkout" writes 50,000 small files (1-16 KiB) in 500 directories into
// a's folder as fast as it can; it prints when a has recorded them all and when b holds them all,
// and for each agent also the most inotify watches it held (one per directory, all on the one
// inotify descriptor of the process; chokidar, used before, also held one per file).
// Usage: npm run soak [-- --files 100000] [--big-mib 4096] [--storm-files 50000] [--only files|big|storm]
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { cleanupAll, waitFor } from '../../test/helpers/cli.js'
import { makeCluster, snapshotTree, type Device } from '../../test/helpers/cluster.js'

const MiB = 1024 * 1024
const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
const fileCount = Number(argValue('--files') ?? 100_000)
const bigMiB = Number(argValue('--big-mib') ?? 4096)
const stormFiles = Number(argValue('--storm-files') ?? 50_000)
const only = argValue('--only')
if (!Number.isInteger(fileCount) || fileCount < 1) throw new TypeError('--files takes a positive integer')
if (!Number.isInteger(bigMiB) || bigMiB < 1) throw new TypeError('--big-mib takes a positive integer')
if (!Number.isInteger(stormFiles) || stormFiles < 1) throw new TypeError('--storm-files takes a positive integer')
if (only !== undefined && only !== 'files' && only !== 'big' && only !== 'storm') throw new TypeError('--only takes files, big or storm')
/** No phase may run longer than this (a soak run is bounded too). */
const PHASE_TIMEOUT_MS = Number(process.env.SOAK_PHASE_TIMEOUT_S ?? 3600) * 1000

interface Peak { rssKiB: number, anonKiB: number, fds: number, watches: number }

/** The inotify watches a process holds (one line per watch in its inotify descriptors' fdinfo). */
function inotifyWatches (pid: number): number {
  let n = 0
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    let target = ''
    try { target = readlinkSync(`/proc/${pid}/fd/${fd}`) } catch { continue }
    if (target !== 'anon_inode:inotify') continue
    try {
      const info = readFileSync(`/proc/${pid}/fdinfo/${fd}`, 'utf8')
      for (let i = info.indexOf('inotify wd:'); i !== -1; i = info.indexOf('inotify wd:', i + 1)) n += 1
    } catch {}
  }
  return n
}

/** Samples each agent's peak RSS and open descriptors every 200 ms until stopped. */
function watch (devices: Device[]): { stop: () => Map<string, Peak>, peek: () => Map<string, Peak> } {
  const peaks = new Map<string, Peak>(devices.map(d => [d.name, { rssKiB: 0, anonKiB: 0, fds: 0, watches: 0 }]))
  let samples = 0
  const sample = (): void => {
    samples += 1
    for (const d of devices) {
      const pid = d.agent?.child.pid
      if (pid === undefined) continue
      const peak = peaks.get(d.name) as Peak
      try {
        const status = readFileSync(`/proc/${pid}/status`, 'utf8')
        const hwm = /VmHWM:\s+(\d+) kB/.exec(status)
        if (hwm !== null) peak.rssKiB = Math.max(peak.rssKiB, Number(hwm[1]))
        const anon = /RssAnon:\s+(\d+) kB/.exec(status)
        if (anon !== null) peak.anonKiB = Math.max(peak.anonKiB, Number(anon[1]))
        peak.fds = Math.max(peak.fds, readdirSync(`/proc/${pid}/fd`).length)
        // A watch is a line of fdinfo: with 100,000 of them, every 2 s is often enough.
        if (samples % 10 === 1) peak.watches = Math.max(peak.watches, inotifyWatches(pid))
      } catch {} // the process is between states or gone: the next sample counts
    }
  }
  sample()
  const timer = setInterval(sample, 200)
  return { stop: () => { samples = 0; sample(); clearInterval(timer); return peaks }, peek: () => new Map([...peaks].map(([k, v]) => [k, { ...v }])) }
}

function report (phase: string, startedMs: number, peaks: Map<string, Peak>): void {
  const seconds = ((Date.now() - startedMs) / 1000).toFixed(1)
  const agents = [...peaks].map(([name, p]) => p.rssKiB === 0 ? `${name}: not running` : `${name}: peak RSS ${(p.rssKiB / 1024).toFixed(0)} MiB (private ${(p.anonKiB / 1024).toFixed(0)} MiB), up to ${p.fds} open fds, ${p.watches} inotify watches`).join('; ')
  console.log(`${phase.padEnd(44)} ${seconds.padStart(8)} s   ${agents}`)
}

async function phase (devices: Device[], name: string, work: () => Promise<void>): Promise<void> {
  const watcher = watch(devices)
  const startedMs = Date.now()
  await work()
  report(name, startedMs, watcher.stop())
}

function writeBig (path: string, sizeBytes: number): void {
  const fd = openSync(path, 'w')
  try {
    for (let done = 0; done < sizeBytes; done += 4 * MiB) writeSync(fd, randomBytes(Math.min(4 * MiB, sizeBytes - done)))
  } finally { closeSync(fd) }
}

async function soakFiles (): Promise<void> {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  for (let i = 0; i < fileCount; i++) writeFileSync(join(a.folder, `f${String(i).padStart(6, '0')}.txt`), `file ${i}\n`)
  await phase([a, b], `${fileCount} files: start a, first scan`, async () => {
    await a.start()
    await waitFor(async () => (await a.status()).folders[0].state === 'idle', { timeoutMs: PHASE_TIMEOUT_MS, intervalMs: 500, what: 'a to finish its first scan' })
  })
  await phase([a, b], `${fileCount} files: start b, sync to b`, async () => {
    await b.start()
    await waitFor(() => readdirSync(b.folder).length >= fileCount + 1, { timeoutMs: PHASE_TIMEOUT_MS, intervalMs: 500, what: `b to hold ${fileCount} files` })
  })
  await phase([a, b], `${fileCount} files: one edit on b reaches a`, async () => {
    writeFileSync(join(b.folder, 'f000000.txt'), 'edited on b\n')
    await waitFor(() => readFileSync(join(a.folder, 'f000000.txt'), 'utf8') === 'edited on b\n', { timeoutMs: PHASE_TIMEOUT_MS, intervalMs: 200, what: 'the edit to reach a' })
  })
  await a.stop(); await b.stop()
}

async function soakBig (): Promise<void> {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const sizeBytes = bigMiB * MiB
  writeBig(join(a.folder, 'big.bin'), sizeBytes)
  await a.start(); await b.start()
  const target = join(b.folder, 'big.bin')
  await phase([a, b], `${bigMiB} MiB file: scan on a and sync to b`, async () => {
    await waitFor(() => existsSync(target) && statSync(target).size === sizeBytes, { timeoutMs: PHASE_TIMEOUT_MS, intervalMs: 500, what: 'big.bin to reach b' })
  })
  // One byte in the middle, in place: a rehashes the file, b fetches one block.
  const offset = Math.floor(sizeBytes / 2) + 12_345
  const fd = openSync(join(a.folder, 'big.bin'), 'r+')
  const old = Buffer.alloc(1)
  const { readSync } = await import('node:fs')
  readSync(fd, old, 0, 1, offset)
  const changed = Buffer.from([old[0] ^ 0xff])
  writeSync(fd, changed, 0, 1, offset)
  closeSync(fd)
  await phase([a, b], `${bigMiB} MiB file: one-byte edit reaches b`, async () => {
    await waitFor(() => {
      const fdB = openSync(target, 'r')
      try {
        const byte = Buffer.alloc(1)
        readSync(fdB, byte, 0, 1, offset)
        return byte[0] === changed[0]
      } finally { closeSync(fdB) }
    }, { timeoutMs: PHASE_TIMEOUT_MS, intervalMs: 500, what: 'the edited byte to reach b' })
  })
  await a.stop(); await b.stop()
}

/** A small file's bytes: `size` bytes of `pool` from `offset`, with `name` first so no two files are equal. */
function fileBytes (pool: Buffer, name: string, size: number, offset: number): Buffer {
  const head = Buffer.from(`${name}\n`)
  return Buffer.concat([head, pool.subarray(offset, offset + size - head.length)])
}

/**
 * A watcher storm: `git checkout` of a big repository into a's folder while both agents run.
 * 500 directories (50 top-level, 10 below each), files of 1-16 KiB, written without pause (the
 * soak's event loop gets a turn every 100 files, only to keep sampling).
 */
async function soakStorm (): Promise<void> {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  await a.start(); await b.start()
  await waitFor(async () => (await a.status()).peers.some((p: any) => p.isConnected), { timeoutMs: 60_000, what: 'a and b to connect' })
  const dirs: string[] = []
  for (let i = 0; i < 50; i++) for (let j = 0; j < 10; j++) dirs.push(`src${String(i).padStart(2, '0')}/mod${j}`)
  const pool = randomBytes(MiB)
  let totalBytes = 0
  const allRecordedOnA = async (): Promise<boolean> => {
    const f = (await a.status()).folders[0]
    return f.files === stormFiles && f.bytes === totalBytes
  }
  const allOnB = async (): Promise<boolean> => {
    const f = (await b.status()).folders[0]
    return f.files === stormFiles && f.bytes === totalBytes
  }
  const watcher = watch([a, b])
  const startedMs = Date.now()
  let writtenMs = 0
  let recordedMs = 0
  try {
    for (let i = 0; i < stormFiles; i++) {
      const dir = dirs[i % dirs.length]
      if (i < dirs.length) mkdirSync(join(a.folder, dir), { recursive: true })
      const name = `${dir}/file${String(i).padStart(6, '0')}.c`
      const size = 1024 + Math.floor(Math.random() * 15 * 1024)
      writeFileSync(join(a.folder, name), fileBytes(pool, name, size, Math.floor(Math.random() * (pool.length - size))))
      totalBytes += size
      if (i % 100 === 99) await new Promise(resolve => setImmediate(resolve))
    }
    writtenMs = Date.now()
    console.log(`storm: ${stormFiles} files (${(totalBytes / MiB).toFixed(0)} MiB) in ${dirs.length} dirs written in ${((writtenMs - startedMs) / 1000).toFixed(1)} s`)
    await waitFor(allRecordedOnA, { timeoutMs: PHASE_TIMEOUT_MS, intervalMs: 1000, what: `a to record all ${stormFiles} files` })
    recordedMs = Date.now()
    report(`${stormFiles} files: checkout on a, a records all`, startedMs, watcher.peek())
    // b's progress once a minute: a long run cut short still says how far it got.
    const progress = setInterval(() => {
      void b.status().then(s => console.log(`storm: b holds ${s.folders[0].files} files after ${((Date.now() - startedMs) / 1000).toFixed(0)} s`), () => {})
    }, 60_000)
    await waitFor(allOnB, { timeoutMs: PHASE_TIMEOUT_MS, intervalMs: 1000, what: `b to hold all ${stormFiles} files` })
      .finally(() => clearInterval(progress))
    console.log(`storm: b held every file ${((Date.now() - startedMs) / 1000).toFixed(1)} s after the checkout began`)
  } finally {
    report(`${stormFiles} files: checkout on a, synced to b`, startedMs, watcher.stop())
    if (recordedMs === 0) console.log(`storm: a recorded ${JSON.stringify(await a.status().then(s => ({ files: s.folders[0].files, bytes: s.folders[0].bytes, state: s.folders[0].state, problems: s.folders[0].problems.slice(0, 5) })).catch(e => String(e)))} of ${stormFiles} files, ${totalBytes} bytes`)
  }
  const ta = JSON.stringify(snapshotTree(a.folder))
  const tb = JSON.stringify(snapshotTree(b.folder))
  console.log(`storm: trees equal on a and b: ${String(ta === tb)}`)
  if (ta !== tb) throw new Error('the trees of a and b differ after the storm')
  await a.stop(); await b.stop()
}

// Ctrl-C or a kill: stop the agents and remove the temp dirs (a signal skips the 'exit' hooks).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void cleanupAll().finally(() => process.exit(130)) })
}

try {
  const isRun = (name: string): boolean => only === undefined || only === name
  const cases = [isRun('files') ? `${fileCount} files` : '', isRun('big') ? `a ${bigMiB} MiB file` : '', isRun('storm') ? `a storm of ${stormFiles} files` : ''].filter(c => c !== '')
  console.log(`soak: ${cases.join(', ')}; two agents on 127.0.0.1`)
  if (isRun('files')) await soakFiles()
  if (isRun('big')) await soakBig()
  if (isRun('storm')) await soakStorm()
} finally {
  await cleanupAll()
}
