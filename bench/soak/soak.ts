// Soak runs (not tests; GitHub issue 5): the long cases the test suite cannot afford. Two agents on
// 127.0.0.1 (--no-mdns, as every agent outside a network namespace): (1) one folder of 100,000 small
// files synced from a to b; (2) a 4 GiB file synced, then one byte of it changed in place. For each
// phase it prints the time, and for each agent the peak RSS (VmHWM from /proc/PID/status), the peak
// of its private part (RssAnon: LevelDB maps its table files into memory to read them, and those
// file-backed pages count in RSS although they are page cache the kernel reclaims at will), and the
// most open file descriptors seen (/proc/PID/fd, sampled every 200 ms).
// Usage: npm run soak [-- --files 100000] [--big-mib 4096] [--only files|big]
import { closeSync, existsSync, openSync, readFileSync, readdirSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { cleanupAll, waitFor } from '../../test/helpers/cli.js'
import { makeCluster, type Device } from '../../test/helpers/cluster.js'

const MiB = 1024 * 1024
const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
const fileCount = Number(argValue('--files') ?? 100_000)
const bigMiB = Number(argValue('--big-mib') ?? 4096)
const only = argValue('--only')
if (!Number.isInteger(fileCount) || fileCount < 1) throw new TypeError('--files takes a positive integer')
if (!Number.isInteger(bigMiB) || bigMiB < 1) throw new TypeError('--big-mib takes a positive integer')
if (only !== undefined && only !== 'files' && only !== 'big') throw new TypeError('--only takes files or big')
/** No phase may run longer than this (a soak run is bounded too). */
const PHASE_TIMEOUT_MS = Number(process.env.SOAK_PHASE_TIMEOUT_S ?? 3600) * 1000

interface Peak { rssKiB: number, anonKiB: number, fds: number }

/** Samples each agent's peak RSS and open descriptors every 200 ms until stopped. */
function watch (devices: Device[]): { stop: () => Map<string, Peak> } {
  const peaks = new Map<string, Peak>(devices.map(d => [d.name, { rssKiB: 0, anonKiB: 0, fds: 0 }]))
  const sample = (): void => {
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
      } catch {} // the process is between states or gone: the next sample counts
    }
  }
  sample()
  const timer = setInterval(sample, 200)
  return { stop: () => { sample(); clearInterval(timer); return peaks } }
}

function report (phase: string, startedMs: number, peaks: Map<string, Peak>): void {
  const seconds = ((Date.now() - startedMs) / 1000).toFixed(1)
  const agents = [...peaks].map(([name, p]) => p.rssKiB === 0 ? `${name}: not running` : `${name}: peak RSS ${(p.rssKiB / 1024).toFixed(0)} MiB (private ${(p.anonKiB / 1024).toFixed(0)} MiB), up to ${p.fds} open fds`).join('; ')
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

// Ctrl-C or a kill: stop the agents and remove the temp dirs (a signal skips the 'exit' hooks).
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.once(signal, () => { void cleanupAll().finally(() => process.exit(130)) })
}

try {
  const cases = [only !== 'big' ? `${fileCount} files` : '', only !== 'files' ? `a ${bigMiB} MiB file` : ''].filter(c => c !== '')
  console.log(`soak: ${cases.join(', ')}; two agents on 127.0.0.1`)
  if (only !== 'big') await soakFiles()
  if (only !== 'files') await soakBig()
} finally {
  await cleanupAll()
}
