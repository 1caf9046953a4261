// Two-agent figures on loopback: lansync, and rsync and Syncthing where installed, run the same
// cases on the same data in the same run (issue 8's W1, W2, D3, D1, D2), each timed from the moment
// the change is in place until the receiver's tree equals the sender's, with the wire bytes and
// each process's peak memory during the case. Returns the rows; report.ts prints them.
import { existsSync, mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { casesFor, makeDataset, sizesFor, type Case, type Expectation } from './cases.js'
import type { Contender } from './contender.js'
import { PeakMemory } from './memory.js'
import { LansyncContender } from './lansync.js'
import { RsyncContender } from './rsync.js'
import { SyncthingContender } from './syncthing.js'
import { hasCommand, releaseAll, removeDir, run, sleep, tempDir, withTimeout } from './procs.js'
import { forgetHashes, hashFileSettled, listTree, sameListing, treeDifference } from './tree.js'
import { TOOLS, type CaseResult, type CaseRow, type Outcome, type Tool } from '../results.js'
import * as fmt from '../format.js'

export interface TwoAgentOptions {
  isQuick: boolean
  tools?: Tool[]
  /** apt-get install rsync / syncthing if missing (root only). */
  isInstallAllowed?: boolean
}

export interface TwoAgentResult {
  cases: CaseRow[]
  notes: string[]
  networkChecks: string[]
  /** False if any tool failed a case. */
  isOk: boolean
}

export function makeContender (tool: Tool, dir: string): Contender {
  switch (tool) {
    case 'lansync': return new LansyncContender(dir)
    case 'rsync': return new RsyncContender(dir)
    case 'syncthing': return new SyncthingContender(dir)
  }
}

/** Whether `tool` can run here; installs it with apt-get when allowed. */
export function isAvailable (tool: Tool, isInstallAllowed: boolean): boolean {
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
 * whole listing matches and the tool says it is done. Returns when the poll began whose cheap
 * check first held in the streak that ended in success (performance.now() ms).
 */
async function waitConverged (c: Contender, expect: Expectation, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs
  const expected = Object.entries(expect.hashes)
  const isTouched = expected.length > 0 || expect.gone.length > 0
  let senderListing: Map<string, string> | undefined
  let passedAt: number | undefined
  let why = 'nothing yet'
  while (Date.now() < deadline) {
    // The changed files were in place when this poll began if they hash right and did not change
    // while hashed: the time is taken here, not after hashing them (256 MiB took the bench
    // 0.3–0.5 s, which rsync's time, taken when its client exits, does not include).
    const polledAt = performance.now()
    const cheap = expected.every(([rel, hash]) => { try { const r = hashFileSettled(join(c.receiverDir, rel)); return r.isSettled && r.hash === hash } catch { return false } }) &&
      expect.gone.every(rel => !existsSync(join(c.receiverDir, rel)))
    if (!cheap) { passedAt = undefined; why = 'the changed files are not in place'; await sleep(20); continue }
    const listStarted = performance.now()
    senderListing ??= listTree(c.senderDir, c.ignoredAtRoot)
    const isSame = sameListing(senderListing, listTree(c.receiverDir, c.ignoredAtRoot))
    const listMs = performance.now() - listStarted
    passedAt ??= isTouched ? polledAt : performance.now()
    // Listing a big tree costs CPU the tools need: poll no more than a fifth of the time.
    if (!isSame) { passedAt = undefined; why = 'the listings differ'; await sleep(Math.max(50, 4 * listMs)); continue }
    if (!await c.isInSync()) { passedAt = undefined; why = `${c.name} does not say it is in sync`; await sleep(50); continue }
    return passedAt
  }
  throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s: ${why}`)
}

async function runCase (c: Contender, testCase: Case, stage: string, memory: PeakMemory): Promise<CaseResult> {
  mkdirSync(stage, { recursive: true })
  const expect = await testCase.prepare(c.senderDir, stage)
  // The staged data (and the last case's writes) go to disk first: otherwise their writeback lands
  // inside the timed window, where a tool that fsyncs waits behind it and one that does not
  // (rsync) does not. (It is not what makes W1 vary from 11 to 20 s between runs here: that
  // spread stayed the same with it.)
  run('sync', [], { timeoutMs: 120_000 })
  const before = await c.counters()
  memory.reset()
  testCase.apply(c.senderDir, stage)
  const startedAt = performance.now()
  await withTimeout(c.trigger(), testCase.timeoutMs, `${c.name} to take in the change`)
  const doneAt = c.isSynchronous ? performance.now() : await waitConverged(c, expect, testCase.timeoutMs)
  const processes = memory.read()
  const difference = treeDifference(c.senderDir, c.receiverDir, c.ignoredAtRoot)
  if (difference !== undefined) throw new Error(`${c.name} finished but the trees differ: ${difference}`)
  // Read after the full comparison, so late messages of this case (index updates) count too.
  const after = await c.counters()
  return {
    seconds: (doneAt - startedAt) / 1000,
    wireDownBytes: after.down - before.down,
    wireUpBytes: after.up - before.up,
    ...(after.blockBytes === undefined ? {} : { blockBytes: after.blockBytes - (before.blockBytes ?? 0) }),
    processes
  }
}

export async function runTwoAgentBench ({ isQuick, tools = [...TOOLS], isInstallAllowed = false }: TwoAgentOptions): Promise<TwoAgentResult> {
  const budgetMs = (isQuick ? 5 : 30) * 60_000
  const deadline = Date.now() + budgetMs
  const work = tempDir('lansync-bench-2-')
  const log = (line: string): void => console.log(`  ${line}`)
  console.log(`\ntwo agents on loopback (${isQuick ? 'quick' : 'full'}; temp dir ${work})`)
  const available = tools.filter(t => isAvailable(t, isInstallAllowed))
  let data
  try {
    data = makeDataset(join(work, 'data'), sizesFor(isQuick))
  } catch (err) {
    await releaseAll()
    throw err
  }
  const cases = casesFor(data)
  const rows: CaseRow[] = cases.map(c => ({ id: c.id, label: c.label, ...(c.dataBytes === undefined ? {} : { dataBytes: c.dataBytes }), outcomes: {} }))
  const notes: string[] = []
  const checks: string[] = []
  let isOk = true
  for (const tool of available) {
    const results = new Map<Case['id'], Outcome<CaseResult>>()
    const dir = join(work, tool)
    mkdirSync(dir)
    const c = makeContender(tool, dir)
    const memory = new PeakMemory(() => c.processes())
    notes.push(...c.notes)
    try {
      console.log(`${tool}: starting`)
      const started = await withTimeout(c.start(), 240_000, `${tool} to start`)
      if (c instanceof SyncthingContender) notes.push(`syncthing version: ${c.version}`)
      checks.push(...started.map(l => `${l} (after start)`))
      memory.start()
      for (const testCase of cases) {
        if (Date.now() > deadline) { results.set(testCase.id, { error: 'skipped: the bench ran out of time' }); continue }
        try {
          const r = await runCase(c, testCase, join(dir, 'stage'), memory)
          results.set(testCase.id, r)
          log(`${tool} · ${testCase.id} ${testCase.label}: ${fmt.seconds(r.seconds)}, wire ${fmt.wireBytes(r.wireDownBytes + r.wireUpBytes)}` +
            `${r.blockBytes !== undefined ? ` (block data ${fmt.wireBytes(r.blockBytes)})` : ''}, peak RSS ${r.processes.map(p => `${p.name} ${fmt.memory(p.peakRssBytes)}`).join(', ')}`)
        } catch (err) {
          isOk = false
          results.set(testCase.id, { error: (err as Error).message.split('\n')[0] })
          log(`${tool} · ${testCase.id}: FAILED: ${(err as Error).message}`)
          if (testCase.id === 'W1' || testCase.id === 'W2' || testCase.id === 'D2-base') {
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
      memory.stop()
      await c.close()
      // The tool's trees stay until every tool has run (removeDir(work) below): on ext4 without a
      // journal (this machine's root filesystem) a new inode is found by scanning past those deleted
      // in the last 60–360 s, so the next tool's 10,000-file first sync ran right after 20,000
      // deletions paid for them (10,000 creates with fsync: 3.3–3.8 s on a quiet filesystem,
      // 6.9–11.7 s after such deletions), and whichever tool ran later paid more.
      forgetHashes(dir)
    }
    for (const row of rows) { const o = results.get(row.id); if (o !== undefined) row.outcomes[tool] = o }
    if (!memory.isResettable) notes.push(`${tool}: /proc/PID/clear_refs was not writable: peak RSS per case runs from the process start`)
  }
  removeDir(work)
  notes.push('times: from the instant the change is in place on the sender (renamed in from a staging dir on the same filesystem, after a `sync` so that no earlier writes are still going to disk) to the first poll that sees it on the receiver; ' +
    'every case then checks the whole receiver tree against the sender\'s by SHA-256 (untimed); the tools run one after another on their own copies of the same data')
  notes.push('peak RSS per case: VmHWM of each process (with its children) from /proc, its kernel peak cleared (clear_refs 5) as the case starts and sampled every 100 ms; the table shows the largest process of the tool. VmHWM counts file-backed pages a process maps too; private memory (RssAnon, largest sample) is in the JSON')
  return { cases: rows, notes, networkChecks: checks, isOk }
}
