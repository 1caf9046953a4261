// Two-agent figures on loopback: lansync, and rsync and Syncthing where installed, run the same
// five cases on the same data in the same run (first sync of many small files, of large files,
// a rename, an in-place edit, an insertion), each timed from the moment the change is in place
// until the receiver's tree equals the sender's; printed as one table with lansync/peer ratios.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { cpus, loadavg } from 'node:os'
import { casesFor, makeDataset, sizesFor, type Case, type Expectation } from './cases.js'
import type { Contender, WireCounters } from './contender.js'
import { LansyncContender } from './lansync.js'
import { RsyncContender } from './rsync.js'
import { SyncthingContender } from './syncthing.js'
import { hasCommand, releaseAll, removeDir, run, sleep, tempDir, withTimeout } from './procs.js'
import { forgetHashes, hashFile, listTree, sameListing, treeDifference } from './tree.js'

const MiB = 1024 * 1024
const TOOLS = ['lansync', 'rsync', 'syncthing'] as const
type Tool = typeof TOOLS[number]

export interface TwoAgentOptions {
  isQuick: boolean
  tools?: Tool[]
  /** apt-get install rsync / syncthing if missing (root only). */
  isInstallAllowed?: boolean
}

interface Result { seconds: number, wire: WireCounters }
type Outcome = Result | { error: string }

function makeContender (tool: Tool, dir: string): Contender {
  switch (tool) {
    case 'lansync': return new LansyncContender(dir)
    case 'rsync': return new RsyncContender(dir)
    case 'syncthing': return new SyncthingContender(dir)
  }
}

/** Whether `tool` can run here; installs it with apt-get when allowed. */
function isAvailable (tool: Tool, isInstallAllowed: boolean): boolean {
  if (tool === 'lansync' || hasCommand(tool)) return true
  if (isInstallAllowed && process.getuid?.() === 0 && hasCommand('apt-get')) {
    console.log(`${tool}: not installed; apt-get install -y ${tool}`)
    try { run('apt-get', ['install', '-y', '-q', tool], { timeoutMs: 300_000, env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } }) } catch (err) {
      console.log(`${tool}: apt-get failed: ${(err as Error).message.split('\n')[0]}`)
    }
    if (hasCommand(tool)) return true
  }
  console.log(`${tool}: not installed${isInstallAllowed ? '' : ` (apt-get install -y ${tool}, or rerun with --install-missing)`}; its columns are skipped`)
  return false
}

/**
 * Waits until the receiver matches the sender: the files the change touches have their expected
 * content and the removed paths are gone (cheap: a stat per file, a hash when it changed), then the
 * whole listing matches and the tool says it is done. Returns when the cheap check first held in
 * the streak that ended in success (performance.now() ms).
 */
async function waitConverged (c: Contender, expect: Expectation, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  const expected = Object.entries(expect.hashes)
  const isTouched = expected.length > 0 || expect.gone.length > 0
  let senderListing: Map<string, string> | undefined
  let passedAt: number | undefined
  let why = 'nothing yet'
  while (Date.now() < deadline) {
    const cheap = expected.every(([rel, hash]) => { try { return hashFile(join(c.receiverDir, rel)) === hash } catch { return false } }) &&
      expect.gone.every(rel => !existsSync(join(c.receiverDir, rel)))
    if (!cheap) { passedAt = undefined; why = 'the changed files are not in place'; await sleep(20); continue }
    const listStarted = performance.now()
    senderListing ??= listTree(c.senderDir, c.ignoredAtRoot)
    const isSame = sameListing(senderListing, listTree(c.receiverDir, c.ignoredAtRoot))
    const listMs = performance.now() - listStarted
    passedAt ??= isTouched ? listStarted : performance.now()
    // Listing a big tree costs CPU the tools need: poll no more than a fifth of the time.
    if (!isSame) { passedAt = undefined; why = 'the listings differ'; await sleep(Math.max(50, 4 * listMs)); continue }
    if (!await c.isInSync()) { passedAt = undefined; why = `${c.name} does not say it is in sync`; await sleep(50); continue }
    return passedAt
  }
  throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s: ${why}`)
}

async function runCase (c: Contender, testCase: Case, stage: string): Promise<Result> {
  mkdirSync(stage, { recursive: true })
  const expect = await testCase.prepare(c.senderDir, stage)
  const before = await c.counters()
  testCase.apply(c.senderDir, stage)
  const startedAt = performance.now()
  await withTimeout(c.trigger(), testCase.timeoutMs, `${c.name} to take in the change`)
  const doneAt = c.isSynchronous ? performance.now() : await waitConverged(c, expect, testCase.timeoutMs)
  const difference = treeDifference(c.senderDir, c.receiverDir, c.ignoredAtRoot)
  if (difference !== undefined) throw new Error(`${c.name} finished but the trees differ: ${difference}`)
  // Read after the full comparison, so late messages of this case (index updates) count too.
  const after = await c.counters()
  return {
    seconds: (doneAt - startedAt) / 1000,
    wire: { down: after.down - before.down, up: after.up - before.up, blockBytes: after.blockBytes === undefined ? undefined : after.blockBytes - (before.blockBytes ?? 0) }
  }
}

export async function runTwoAgentBench ({ isQuick, tools = [...TOOLS], isInstallAllowed = false }: TwoAgentOptions): Promise<boolean> {
  const budgetMs = (isQuick ? 20 : 150) * 60_000
  const deadline = Date.now() + budgetMs
  const work = tempDir('lansync-bench-2-')
  const log = (line: string): void => console.log(`  ${line}`)
  console.log(`\ntwo agents on loopback (${isQuick ? 'quick' : 'full'}; ${cpus().length} CPUs, load average ${loadavg().map(n => n.toFixed(1)).join(' ')}; temp dir ${work})`)
  const available = tools.filter(t => isAvailable(t, isInstallAllowed))
  let data
  try {
    data = makeDataset(join(work, 'data'), sizesFor(isQuick))
  } catch (err) {
    await releaseAll()
    throw err
  }
  const cases = casesFor(data)
  const outcomes = new Map<Tool, Map<Case['id'], Outcome>>()
  const notes: string[] = []
  const checks: string[] = []
  let isOk = true
  for (const tool of available) {
    const results = new Map<Case['id'], Outcome>()
    outcomes.set(tool, results)
    const dir = join(work, tool)
    mkdirSync(dir)
    const c = makeContender(tool, dir)
    notes.push(...c.notes)
    try {
      console.log(`${tool}: starting`)
      const started = await withTimeout(c.start(), 240_000, `${tool} to start`)
      if (c instanceof SyncthingContender) notes.push(`syncthing version: ${c.version}`)
      checks.push(...started.map(l => `${l} (after start)`))
      for (const testCase of cases) {
        if (Date.now() > deadline) { results.set(testCase.id, { error: 'skipped: the bench ran out of time' }); continue }
        try {
          const r = await runCase(c, testCase, join(dir, 'stage'))
          results.set(testCase.id, r)
          log(`${tool} · ${testCase.label}: ${r.seconds.toFixed(2)} s, ${describeWire(r.wire)}`)
        } catch (err) {
          isOk = false
          results.set(testCase.id, { error: (err as Error).message.split('\n')[0] })
          log(`${tool} · ${testCase.label}: FAILED: ${(err as Error).message}`)
          if (testCase.id === 'small' || testCase.id === 'large') {
            // Later cases build on the data of the first syncs.
            for (const rest of cases.filter(x => !results.has(x.id))) results.set(rest.id, { error: `skipped: ${testCase.id} failed` })
            break
          }
        }
      }
      checks.push(...c.checkNetwork().map(l => `${l} (after the cases)`))
    } catch (err) {
      isOk = false
      log(`${tool}: FAILED: ${(err as Error).message}`)
      for (const rest of cases.filter(x => !results.has(x.id))) results.set(rest.id, { error: (err as Error).message.split('\n')[0] })
    } finally {
      await c.close()
      removeDir(dir)
      forgetHashes(dir)
    }
  }
  removeDir(work)
  console.log(`\nload average at the end: ${loadavg().map(n => n.toFixed(1)).join(' ')} (other work on this machine skews the times)`)
  printTable(cases, outcomes)
  console.log('\nHow:')
  for (const n of notes) console.log(`- ${n}`)
  console.log('- times: from the instant the change is in place on the sender (renamed in from a staging dir on the same filesystem) to the first poll that sees it on the receiver; ' +
    'every case then checks the whole receiver tree against the sender\'s by SHA-256 (untimed); the tools run one after another on their own copies of the same data')
  console.log('\nNetwork checks (ss -tunap, per process):')
  for (const line of checks) console.log(`- ${line}`)
  return isOk
}

function describeWire (w: WireCounters): string {
  return `wire ${bytes(w.down + w.up)} (${bytes(w.down)} to the receiver, ${bytes(w.up)} back)${w.blockBytes !== undefined ? `, block data ${bytes(w.blockBytes)}` : ''}`
}

function bytes (n: number): string {
  if (n < 1024) return `${n} B`
  if (n < MiB) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 * MiB) return `${(n / MiB).toFixed(1)} MiB`
  return `${(n / 1024 / MiB).toFixed(2)} GiB`
}

function printTable (cases: Case[], outcomes: Map<Tool, Map<Case['id'], Outcome>>): void {
  const cell = (tool: Tool, c: Case): [string, string] => {
    const o = outcomes.get(tool)?.get(c.id)
    if (o === undefined) return ['–', '–']
    if ('error' in o) return ['failed', '–']
    const mibPerSecond = c.dataBytes === undefined ? undefined : c.dataBytes / MiB / o.seconds
    const rate = mibPerSecond === undefined ? '' : ` (${mibPerSecond.toFixed(mibPerSecond < 10 ? 1 : 0)} MiB/s)`
    return [`${o.seconds.toFixed(2)}${rate}`, bytes(o.wire.down + o.wire.up)]
  }
  const ratio = (peer: Tool, c: Case): string => {
    const a = outcomes.get('lansync')?.get(c.id)
    const b = outcomes.get(peer)?.get(c.id)
    if (a === undefined || b === undefined || 'error' in a || 'error' in b) return '–'
    const bytesA = a.wire.down + a.wire.up
    const bytesB = b.wire.down + b.wire.up
    return `time ${(a.seconds / b.seconds).toFixed(2)}×, bytes ${bytesB === 0 ? '∞' : (bytesA / bytesB).toFixed(2)}×`
  }
  const header = ['case', 'lansync s', 'lansync wire bytes', 'rsync s', 'rsync bytes', 'syncthing s', 'syncthing bytes', 'lansync/rsync', 'lansync/syncthing']
  const rows = cases.map(c => [c.label, ...cell('lansync', c), ...cell('rsync', c), ...cell('syncthing', c), ratio('rsync', c), ratio('syncthing', c)])
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => r[i].length)))
  const line = (r: string[]): string => r.map((v, i) => i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i])).join(' | ')
  console.log('\n' + line(header))
  console.log(widths.map(w => '-'.repeat(w)).join('-|-'))
  for (const r of rows) console.log(line(r))
  for (const [tool, results] of outcomes) {
    for (const [id, o] of results) if ('error' in o) console.log(`${tool} · ${id}: ${o.error}`)
  }
}
