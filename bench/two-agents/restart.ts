// S1 and M1: one device holding N unchanged files. For lansync and Syncthing in turn, on the same
// generated folder: start the sender alone (no peer running) and wait for its first scan, then
// restart it and time process start → folder idle after its startup scan (ready to sync). The
// peak memory of the tool's process over both runs is M1's "agent holding N files".
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { isRestartable } from './contender.js'
import { PeakMemory } from './memory.js'
import { isAvailable, makeContender } from './run.js'
import { removeDir, tempDir, withTimeout } from './procs.js'
import type { Outcome, RestartResult, Tool } from '../results.js'
import * as fmt from '../format.js'

const KiB = 1024
const FILES_PER_DIR = 1000

export interface RestartOptions {
  files: number
  tools: Tool[]
  isInstallAllowed: boolean
}

/** `files` files of 1–4 KiB in dirs of 1,000 (random content); returns their total size. */
function makeFolder (dir: string, files: number): number {
  let bytes = 0
  for (let i = 0; i < files; i++) {
    const sub = join(dir, `d${String(Math.floor(i / FILES_PER_DIR)).padStart(3, '0')}`)
    if (i % FILES_PER_DIR === 0) mkdirSync(sub, { recursive: true })
    const size = 1 * KiB + (i * 37 * 41) % (3 * KiB)
    writeFileSync(join(sub, `f${i}.txt`), randomBytes(size))
    bytes += size
  }
  return bytes
}

/** Each tool's own entries at the folder root, removed before the next tool gets the folder. */
const MARKERS = ['.lansync', '.stfolder', '.stversions', '.stignore']

export async function runRestartBench ({ files, tools, isInstallAllowed }: RestartOptions): Promise<{ restart: Partial<Record<Tool, Outcome<RestartResult>>>, networkChecks: string[], notes: string[] }> {
  const restart: Partial<Record<Tool, Outcome<RestartResult>>> = {}
  const networkChecks: string[] = []
  const work = tempDir('lansync-bench-restart-')
  const folder = join(work, 'folder')
  const candidates = tools.filter(t => t !== 'rsync' && isAvailable(t, isInstallAllowed))
  if (candidates.length === 0) { removeDir(work); return { restart, networkChecks, notes: [] } }
  console.log(`\nS1/M1: one device, ${fmt.count(files)} unchanged files (temp dir ${work})`)
  const fileBytes = makeFolder(folder, files)
  for (const tool of candidates) {
    const dir = join(work, tool)
    mkdirSync(dir)
    const c = makeContender(tool, dir)
    const memory = new PeakMemory(() => c.processes())
    try {
      if (!isRestartable(c)) throw new TypeError(`${tool} cannot be restarted`)
      renameSync(folder, c.senderDir)
      await withTimeout(c.prepareAlone(), 240_000, `${tool} to be configured`)
      memory.start()
      let t = performance.now()
      await withTimeout(c.startAlone(), 900_000, `${tool} to start on ${files} files`)
      const firstScanSeconds = (performance.now() - t) / 1000
      networkChecks.push(...c.checkNetwork().map(l => `${l} (S1, first start)`))
      memory.sample()
      t = performance.now()
      await withTimeout(c.restartAlone(), 900_000, `${tool} to restart on ${files} files`)
      const restartSeconds = (performance.now() - t) / 1000
      networkChecks.push(...c.checkNetwork().map(l => `${l} (S1, after restart)`))
      const peaks = memory.read()
      const result: RestartResult = {
        files,
        fileBytes,
        firstScanSeconds,
        restartSeconds,
        peakRssBytes: Math.max(0, ...peaks.map(p => p.peakRssBytes)),
        peakPrivateBytes: Math.max(0, ...peaks.map(p => p.peakPrivateBytes))
      }
      restart[tool] = result
      console.log(`  ${tool}: first start ${fmt.seconds(firstScanSeconds)}, restart to ready ${fmt.seconds(restartSeconds)}, peak RSS ${fmt.memory(result.peakRssBytes)} (private ${fmt.memory(result.peakPrivateBytes)})`)
    } catch (err) {
      restart[tool] = { error: (err as Error).message.split('\n')[0] }
      console.log(`  ${tool}: FAILED: ${(err as Error).message}`)
    } finally {
      memory.stop()
      await c.close()
      try { renameSync(c.senderDir, folder) } catch {}
      for (const marker of MARKERS) rmSync(join(folder, marker), { recursive: true, force: true })
      removeDir(dir)
    }
  }
  removeDir(work)
  const notes = [
    `S1/M1: ${fmt.count(files)} files of 1–4 KiB in dirs of ${FILES_PER_DIR}, one device (its peer configured, not running); the same folder for each tool in turn. ` +
      'first start = process start to the folder idle after its first scan; restart = SIGTERM, then process start to the folder idle after a scan that finished after the restart ' +
      '(lansync: status lastScanMs; Syncthing: /rest/stats/folder lastScan); lansync runs as built (bin/lansync.js), as everywhere in this bench; ' +
      'peak RSS = VmHWM of the tool\'s largest process over both runs'
  ]
  return { restart, networkChecks, notes }
}

