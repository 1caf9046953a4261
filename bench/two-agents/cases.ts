// The data and the cases every tool runs on it, in order, in one folder (issue 8's W1, W2, D3, D1,
// D2): first sync of many small files, of large files, then changes to them. Each change is
// made whole before the clock starts (data is staged next to the folder and renamed into place),
// so no tool sees a half-written change.
import { closeSync, cpSync, mkdirSync, openSync, readFileSync, renameSync, statSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { createHash, randomBytes } from 'node:crypto'
import { sleep } from './procs.js'
import { hashFile } from './tree.js'
import type { CaseId } from '../results.js'

const KiB = 1024
const MiB = 1024 * KiB

export interface Sizes {
  smallFiles: number
  largeFiles: number
  largeFileBytes: number
  /** The file D2 inserts into (issue 8: 64 MiB), first synced by the untargeted D2-base case. */
  insertFileBytes: number
}

/** Issue 8's sizes in the full run; a smaller set for --quick (under a minute with all tools). */
export function sizesFor (isQuick: boolean): Sizes {
  return isQuick
    ? { smallFiles: 1_000, largeFiles: 2, largeFileBytes: 32 * MiB, insertFileBytes: 16 * MiB }
    : { smallFiles: 10_000, largeFiles: 4, largeFileBytes: 256 * MiB, insertFileBytes: 64 * MiB }
}

export interface Dataset {
  dir: string
  sizes: Sizes
  smallBytes: number
  largeBytes: number
  /** The bytes of the in-place edit and of the insertion, the same for every tool. */
  editBytes: Buffer
  insertBytes: Buffer
}

/** Writes `dir/small` (1–16 KiB files in 100 dirs), `dir/large` and `dir/insert` (one file), all random. */
export function makeDataset (dir: string, sizes: Sizes): Dataset {
  let smallBytes = 0
  for (let i = 0; i < sizes.smallFiles; i++) {
    const sub = join(dir, 'small', `d${String(i % 100).padStart(2, '0')}`)
    if (i < 100) mkdirSync(sub, { recursive: true })
    const size = 1 * KiB + (i * 37 * 41) % (15 * KiB)
    writeFileSync(join(sub, `f${i}.txt`), randomBytes(size))
    smallBytes += size
  }
  mkdirSync(join(dir, 'large'))
  for (let i = 0; i < sizes.largeFiles; i++) writeRandomFile(join(dir, 'large', largeName(i)), sizes.largeFileBytes)
  mkdirSync(join(dir, 'insert'))
  writeRandomFile(join(dir, 'insert', INSERT_NAME), sizes.insertFileBytes)
  return { dir, sizes, smallBytes, largeBytes: sizes.largeFiles * sizes.largeFileBytes, editBytes: randomBytes(4 * KiB), insertBytes: randomBytes(100) }
}

function writeRandomFile (path: string, sizeBytes: number): void {
  const fd = openSync(path, 'w')
  for (let done = 0; done < sizeBytes; done += 4 * MiB) writeSync(fd, randomBytes(Math.min(4 * MiB, sizeBytes - done)))
  closeSync(fd)
}

const INSERT_NAME = 'f.bin'
const nothing: Expectation = { hashes: {}, gone: [] }
const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex')

function largeName (i: number): string { return `f${String(i).padStart(2, '0')}.bin` }

export interface Case {
  id: CaseId
  label: string
  /** Bytes of new data, for a throughput figure (first syncs only). */
  dataBytes?: number
  /**
   * Untimed preparation in `stage` (a dir on the same filesystem, outside the folder). Returns what
   * the change will look like, so polls need only stat (and hash once) the files it touches.
   */
  prepare: (sender: string, stage: string) => Promise<Expectation>
  /** The change itself, done the instant before the clock starts. */
  apply: (sender: string, stage: string) => void
  timeoutMs: number
}

/** Files the change leaves with a given content (rel path → SHA-256), and paths it removes. */
export interface Expectation { hashes: Record<string, string>, gone: string[] }

/** Waits (≤ 1 s) until the clock is in a later second than `path`'s mtime, so rsync's size+mtime check sees the edit. */
async function afterMtimeSecond (path: string): Promise<void> {
  const second = Math.floor(statSync(path).mtimeMs / 1000)
  while (Math.floor(Date.now() / 1000) <= second) await sleep(20)
}

/**
 * The cases in the order they run: W1 and W2 first-sync the small and the large files, D3 renames
 * large file 0, D1 edits large file 1 in place, D2-base first-syncs the file D2 then inserts into.
 */
export function casesFor (data: Dataset): Case[] {
  const { sizes } = data
  const big = (i: number): string => join('large', largeName(i))
  const renamed = join('large', 'f00-renamed.bin')
  const insertTarget = join('insert', INSERT_NAME)
  const mib = (n: number): string => `${(n / MiB).toFixed(0)} MiB`
  const editAt = Math.floor(sizes.largeFileBytes / 2)
  return [
    {
      id: 'W1',
      label: `first sync: ${sizes.smallFiles.toLocaleString('en-US')} files of 1–16 KiB (${mib(data.smallBytes)})`,
      dataBytes: data.smallBytes,
      prepare: async (_sender, stage) => { cpSync(join(data.dir, 'small'), join(stage, 'small'), { recursive: true }); return nothing },
      apply: (sender, stage) => renameSync(join(stage, 'small'), join(sender, 'small')),
      timeoutMs: 600_000
    },
    {
      id: 'W2',
      label: `first sync: ${sizes.largeFiles} × ${mib(sizes.largeFileBytes)}`,
      dataBytes: data.largeBytes,
      prepare: async (_sender, stage) => { cpSync(join(data.dir, 'large'), join(stage, 'large'), { recursive: true }); return nothing },
      apply: (sender, stage) => renameSync(join(stage, 'large'), join(sender, 'large')),
      timeoutMs: 900_000
    },
    {
      id: 'D3',
      label: `rename of a ${mib(sizes.largeFileBytes)} file`,
      prepare: async sender => ({ hashes: { [renamed]: hashFile(join(sender, big(0))) }, gone: [big(0)] }),
      apply: sender => renameSync(join(sender, big(0)), join(sender, renamed)),
      timeoutMs: 300_000
    },
    {
      id: 'D1',
      label: `4 KiB overwritten inside a ${mib(sizes.largeFileBytes)} file`,
      prepare: async sender => {
        const content = readFileSync(join(sender, big(1)))
        data.editBytes.copy(content, editAt)
        await afterMtimeSecond(join(sender, big(1)))
        return { hashes: { [big(1)]: sha256(content) }, gone: [] }
      },
      apply: sender => {
        const fd = openSync(join(sender, big(1)), 'r+')
        writeSync(fd, data.editBytes, 0, data.editBytes.length, editAt)
        closeSync(fd)
      },
      timeoutMs: 300_000
    },
    {
      id: 'D2-base',
      label: `first sync: 1 × ${mib(sizes.insertFileBytes)} (D2's file; no target)`,
      dataBytes: sizes.insertFileBytes,
      prepare: async (_sender, stage) => { cpSync(join(data.dir, 'insert'), join(stage, 'insert'), { recursive: true }); return nothing },
      apply: (sender, stage) => renameSync(join(stage, 'insert'), join(sender, 'insert')),
      timeoutMs: 300_000
    },
    {
      id: 'D2',
      label: `100 B inserted at the start of a ${mib(sizes.insertFileBytes)} file`,
      prepare: async (sender, stage) => {
        const content = Buffer.concat([data.insertBytes, readFileSync(join(sender, insertTarget))])
        writeFileSync(join(stage, 'insert.bin'), content)
        await afterMtimeSecond(join(sender, insertTarget))
        return { hashes: { [insertTarget]: sha256(content) }, gone: [] }
      },
      // Saved the way editors save: a new file renamed over the old one.
      apply: (sender, stage) => renameSync(join(stage, 'insert.bin'), join(sender, insertTarget)),
      timeoutMs: 300_000
    }
  ]
}
