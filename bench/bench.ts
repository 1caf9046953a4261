// Benchmarks (not tests). One device: first-scan throughput of a generated folder of mixed sizes
// and of 10,000 small files, rescan time with nothing changed, history store size after 10 small
// edits to a 256 MiB file, and peak RSS. Two agents on loopback (two-agents/run.ts): first syncs
// and delta cases, side by side with rsync and Syncthing where installed. `--quick` uses smaller data.
// Usage: npm run bench [-- --quick] [--only core|two-agents] [--tools lansync,rsync,syncthing] [--install-missing]
import { mkdirSync, mkdtempSync, openSync, writeSync, closeSync, rmSync, readdirSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Store } from '../src/store/store.js'
import { Scanner } from '../src/fs/scanner.js'
import { runTwoAgentBench } from './two-agents/run.js'

const MiB = 1024 * 1024
const isQuick = process.argv.includes('--quick')
const argValue = (name: string): string | undefined => {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
const only = argValue('--only')
if (only !== undefined && only !== 'core' && only !== 'two-agents') throw new TypeError('--only takes core or two-agents')
const tools = argValue('--tools')?.split(',') as Array<'lansync' | 'rsync' | 'syncthing'> | undefined
if (tools?.some(t => !['lansync', 'rsync', 'syncthing'].includes(t)) === true) throw new TypeError('--tools takes a comma-separated list of lansync, rsync, syncthing')
const work = mkdtempSync(join(tmpdir(), 'lansync-bench-'))
const rows: Array<[string, string]> = []

function writeRandom (path: string, sizeBytes: number): void {
  const fd = openSync(path, 'w')
  // Half random, half repetitive text, so compression has something to find.
  for (let done = 0; done < sizeBytes; done += 4 * MiB) {
    const n = Math.min(4 * MiB, sizeBytes - done)
    writeSync(fd, done % (8 * MiB) === 0 ? randomBytes(n) : Buffer.alloc(n, `line ${done}\n`))
  }
  closeSync(fd)
}

function duBytes (dir: string): number {
  let total = 0
  for (const name of readdirSync(dir)) {
    const s = statSync(join(dir, name))
    total += s.isDirectory() ? duBytes(join(dir, name)) : s.blocks * 512
  }
  return total
}

async function scanCase (label: string, fill: (root: string) => number): Promise<void> {
  const root = join(work, label, 'folder')
  mkdirSync(join(root, '.lansync'), { recursive: true })
  const bytes = fill(root)
  const store = await Store.open(join(work, label, 'db'))
  const scanner = new Scanner({ folderId: 'bench', root, store, device: 'aaaaaaaaaaaaaaaa' })
  let t = performance.now()
  const first = await scanner.scanAll()
  const firstSecs = (performance.now() - t) / 1000
  t = performance.now()
  const again = await scanner.scanAll()
  const rescanSecs = (performance.now() - t) / 1000
  rows.push([`${label}: first scan`, `${first.added.length} entries, ${(bytes / MiB).toFixed(0)} MiB in ${firstSecs.toFixed(2)} s = ${(bytes / MiB / firstSecs).toFixed(0)} MiB/s`])
  rows.push([`${label}: rescan, nothing changed`, `${rescanSecs.toFixed(3)} s (${again.filesHashed} files rehashed)`])
  await store.close()
}

async function runCore (): Promise<void> {
  await scanCase(isQuick ? 'mixed 128 MiB' : 'mixed 1 GiB', root => {
    const total = (isQuick ? 128 : 1024) * MiB
    let written = 0; let i = 0
    const sizes = [4 * 1024, 64 * 1024, 1 * MiB, 16 * MiB, 64 * MiB]
    while (written < total) {
      const size = Math.min(sizes[i % sizes.length], total - written)
      const dir = join(root, `d${i % 16}`)
      mkdirSync(dir, { recursive: true })
      writeRandom(join(dir, `f${i}.bin`), size)
      written += size; i++
    }
    return written
  })

  await scanCase('10,000 small files', root => {
    let written = 0
    for (let i = 0; i < 10_000; i++) {
      const dir = join(root, `d${i % 100}`)
      if (i < 100) mkdirSync(dir)
      const size = 1024 + (i * 37) % 15_000
      const fd = openSync(join(dir, `f${i}.txt`), 'w'); writeSync(fd, randomBytes(size)); closeSync(fd)
      written += size
    }
    return written
  })

  {
    const sizeBytes = (isQuick ? 64 : 256) * MiB
    const root = join(work, 'history', 'folder')
    mkdirSync(join(root, '.lansync'), { recursive: true })
    const file = join(root, 'big.bin')
    const fdw = openSync(file, 'w')
    for (let done = 0; done < sizeBytes; done += 4 * MiB) writeSync(fdw, randomBytes(4 * MiB))
    closeSync(fdw)
    const store = await Store.open(join(work, 'history', 'db'))
    const scanner = new Scanner({ folderId: 'bench', root, store, device: 'aaaaaaaaaaaaaaaa' })
    await scanner.scanAll()
    for (let i = 0; i < 10; i++) {
      const fd = openSync(file, 'r+'); writeSync(fd, randomBytes(4096), 0, 4096, Math.floor((i + 0.5) * sizeBytes / 10)); closeSync(fd)
      await scanner.scanAll()
    }
    await store.close()
    const storeBytes = duBytes(join(work, 'history', 'db'))
    rows.push([`history: ${sizeBytes / MiB} MiB file + 10 edits of 4 KiB`, `store ${(storeBytes / MiB).toFixed(1)} MiB on disk = ${(storeBytes / sizeBytes).toFixed(3)} × data`])
  }
  rows.push(['peak RSS', `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`])
  const width = Math.max(...rows.map(r => r[0].length))
  console.log(rows.map(([k, v]) => `${k.padEnd(width)}  ${v}`).join('\n'))
}

let isOk = true
try {
  if (only !== 'two-agents') await runCore()
  if (only !== 'core') isOk = await runTwoAgentBench({ isQuick, tools, isInstallAllowed: process.argv.includes('--install-missing') })
} finally {
  rmSync(work, { recursive: true, force: true })
}
process.exit(isOk ? 0 : 1)
