// One-device figures (no peer): first-scan throughput of a generated folder of mixed sizes and of
// many small files, rescan time with nothing changed, the history store's size after 10 small
// edits to one large file (H1), and this process's peak RSS. Uses the store and scanner directly.
import { mkdirSync, openSync, writeSync, closeSync, readdirSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Store } from '../src/store/store.js'
import { Scanner } from '../src/fs/scanner.js'
import type { CoreResult } from './results.js'
import { tempDir } from './two-agents/procs.js'

const MiB = 1024 * 1024
const HISTORY_EDITS = 10

interface CoreSizes { mixedBytes: number, smallFiles: number, historyFileBytes: number }

/** H1 uses issue 8's 256 MiB file in the full run. */
export function coreSizesFor (isQuick: boolean): CoreSizes {
  return isQuick
    ? { mixedBytes: 64 * MiB, smallFiles: 1_000, historyFileBytes: 32 * MiB }
    : { mixedBytes: 1024 * MiB, smallFiles: 10_000, historyFileBytes: 256 * MiB }
}

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

async function scanCase (work: string, label: string, lines: Array<[string, string]>, fill: (root: string) => number): Promise<void> {
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
  lines.push([`${label}: first scan`, `${first.added.length} entries, ${(bytes / MiB).toFixed(0)} MiB in ${firstSecs.toFixed(2)} s = ${(bytes / MiB / firstSecs).toFixed(0)} MiB/s`])
  lines.push([`${label}: rescan, nothing changed`, `${rescanSecs.toFixed(3)} s (${again.filesHashed} files rehashed)`])
  await store.close()
}

/** H1: a random file scanned, then 10 edits of 4 KiB at spread offsets, each scanned; store size on disk. */
async function historyCase (work: string, sizeBytes: number): Promise<NonNullable<CoreResult['history']>> {
  const root = join(work, 'history', 'folder')
  mkdirSync(join(root, '.lansync'), { recursive: true })
  const file = join(root, 'big.bin')
  const fdw = openSync(file, 'w')
  for (let done = 0; done < sizeBytes; done += 4 * MiB) writeSync(fdw, randomBytes(Math.min(4 * MiB, sizeBytes - done)))
  closeSync(fdw)
  const store = await Store.open(join(work, 'history', 'db'))
  const scanner = new Scanner({ folderId: 'bench', root, store, device: 'aaaaaaaaaaaaaaaa' })
  await scanner.scanAll()
  for (let i = 0; i < HISTORY_EDITS; i++) {
    const fd = openSync(file, 'r+'); writeSync(fd, randomBytes(4096), 0, 4096, Math.floor((i + 0.5) * sizeBytes / HISTORY_EDITS)); closeSync(fd)
    await scanner.scanAll()
  }
  await store.close()
  return { fileBytes: sizeBytes, edits: HISTORY_EDITS, storeBytes: duBytes(join(work, 'history', 'db')) }
}

export async function runCore (isQuick: boolean): Promise<CoreResult> {
  const sizes = coreSizesFor(isQuick)
  // Removed when the bench exits, not here: the two-agent phase's first syncs would otherwise
  // create their files right after this phase's deletions (see removeDir in two-agents/run.ts).
  const work = tempDir('lansync-bench-')
  const lines: Array<[string, string]> = []
  console.log(`\none device (core; temp dir ${work})`)
  await scanCase(work, `mixed ${(sizes.mixedBytes / MiB).toFixed(0)} MiB`, lines, root => {
    let written = 0; let i = 0
    const fileSizes = [4 * 1024, 64 * 1024, 1 * MiB, 16 * MiB, 64 * MiB]
    while (written < sizes.mixedBytes) {
      const size = Math.min(fileSizes[i % fileSizes.length], sizes.mixedBytes - written)
      const dir = join(root, `d${i % 16}`)
      mkdirSync(dir, { recursive: true })
      writeRandom(join(dir, `f${i}.bin`), size)
      written += size; i++
    }
    return written
  })
  await scanCase(work, `${sizes.smallFiles.toLocaleString('en-US')} small files`, lines, root => {
    let written = 0
    for (let i = 0; i < sizes.smallFiles; i++) {
      const dir = join(root, `d${i % 100}`)
      if (i < 100) mkdirSync(dir)
      const size = 1024 + (i * 37) % 15_000
      const fd = openSync(join(dir, `f${i}.txt`), 'w'); writeSync(fd, randomBytes(size)); closeSync(fd)
      written += size
    }
    return written
  })
  const history = await historyCase(work, sizes.historyFileBytes)
  lines.push([`history: ${history.fileBytes / MiB} MiB file + ${history.edits} edits of 4 KiB`, `store ${(history.storeBytes / MiB).toFixed(1)} MiB on disk = ${(history.storeBytes / history.fileBytes).toFixed(3)} × data`])
  const peakRssBytes = process.resourceUsage().maxRSS * 1024
  lines.push(['peak RSS (bench process so far)', `${(peakRssBytes / MiB).toFixed(0)} MiB`])
  for (const [k, v] of lines) console.log(`  ${k}: ${v}`)
  return { lines, history, peakRssBytes }
}
