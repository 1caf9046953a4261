// Issue 8's targets as verdicts over one run's numbers: each says what was measured, the target,
// and met / not met with the gap. Pure: takes a report's data, returns rows; a target whose inputs
// are missing (a tool not installed, a case failed, a phase not run) is "not measured", never met.
import { resultOf, type BenchReport, type CaseId, type CaseResult, type Tool, type Verdict, type VerdictStatus } from './results.js'
import * as fmt from './format.js'
import { cpuBound } from './cpu-bound.js'

const MiB = 1024 * 1024
/** D2: the "150 KB", decimal like its peer figures. */
const D2_MAX_WIRE_BYTES = 150_000
const M1_MAX_RSS_BYTES = 150 * MiB
/**
 * M1's "memory flat in the size of a file", as this bench reads it: the busiest agent's peak RSS
 * while first-syncing the large files (W2) is at most this much above its peak during the small
 * files (W1, 1–16 KiB each).
 */
const FLAT_MAX_GROWTH = 1.25

type Input = Pick<BenchReport, 'cases' | 'ceilings' | 'restart' | 'core' | 'machine'>

interface Check { isMet: boolean, gap?: string }

/** met if every check was made and held; not met if any made check failed; else not measured. */
function combine (checks: Array<Check | undefined>): { status: VerdictStatus, gap?: string } {
  const made = checks.filter((c): c is Check => c !== undefined)
  const failed = made.filter(c => !c.isMet)
  if (failed.length > 0) return { status: 'not met', gap: failed.map(c => c.gap).filter(g => g !== undefined).join('; ') }
  return { status: made.length === checks.length && made.length > 0 ? 'met' : 'not measured' }
}

/** `value <= limit`, with the gap phrased as how much over and by what factor. */
function atMost (value: number, limit: number, show: (n: number) => string): Check {
  return value <= limit ? { isMet: true } : { isMet: false, gap: `${show(value - limit)} over (${fmt.ratio(value, limit)} the limit ${show(limit)})` }
}

function atLeast (value: number, floor: number, show: (n: number) => string): Check {
  return value >= floor ? { isMet: true } : { isMet: false, gap: `${show(floor - value)} short (${fmt.ratio(value, floor)} of ${show(floor)})` }
}

function caseResult (input: Input, id: CaseId, tool: Tool): CaseResult | undefined {
  return resultOf(input.cases.find(c => c.id === id)?.outcomes[tool])
}

function caseLabel (input: Input, id: CaseId): string {
  return input.cases.find(c => c.id === id)?.label ?? id
}

const wire = (r: CaseResult): number => r.wireDownBytes + r.wireUpBytes
const peakRss = (r: CaseResult): number => Math.max(0, ...r.processes.map(p => p.peakRssBytes))
const missing = (what: string): string => `${what}: not measured`

function verdict (id: string, target: string, measured: string[], checks: Array<Check | undefined>): Verdict {
  const { status, gap } = combine(checks)
  return { id, target, measured: measured.join('; '), status, ...(gap !== undefined && gap !== '' ? { gap } : {}) }
}

function w1 (input: Input): Verdict {
  const l = caseResult(input, 'W1', 'lansync')
  const s = caseResult(input, 'W1', 'syncthing')
  return verdict('W1', `${caseLabel(input, 'W1')}: lansync ≤ 0.5 × Syncthing's time`, [
    l !== undefined ? `lansync ${fmt.seconds(l.seconds)}` : missing('lansync'),
    s !== undefined ? `Syncthing ${fmt.seconds(s.seconds)}` : missing('Syncthing'),
    ...(l !== undefined && s !== undefined ? [`ratio ${fmt.ratio(l.seconds, s.seconds)}`] : [])
  ], [l !== undefined && s !== undefined ? atMost(l.seconds, 0.5 * s.seconds, fmt.seconds) : undefined])
}

function w2 (input: Input): Verdict {
  const row = input.cases.find(c => c.id === 'W2')
  const dataBytes = row?.dataBytes ?? 0
  const l = caseResult(input, 'W2', 'lansync')
  const r = caseResult(input, 'W2', 'rsync')
  const ceiling = resultOf(input.ceilings)?.secretStreamBytesPerSecond
  const lRate = l !== undefined ? dataBytes / l.seconds : undefined
  const rRate = r !== undefined ? dataBytes / r.seconds : undefined
  const bound = cpuBound(resultOf(input.ceilings), input.machine.cpus)
  return verdict('W2', `${caseLabel(input, 'W2')}: lansync ≥ 80% of the secret-stream loopback ceiling, and faster than rsync`, [
    lRate !== undefined ? `lansync ${fmt.rate(lRate)}` : missing('lansync'),
    ceiling !== undefined ? `ceiling ${fmt.rate(ceiling)}` : missing('ceiling'),
    ...(lRate !== undefined && ceiling !== undefined ? [`= ${(100 * lRate / ceiling).toFixed(0)}% of it`] : []),
    rRate !== undefined ? `rsync ${fmt.rate(rRate)}` : missing('rsync'),
    // Context, not a check: what this machine's CPUs allow at most for the work (see cpu-bound.ts).
    ...(bound !== undefined ? [`CPU bound ${fmt.rate(bound.withHistoryBytesPerSecond)} with history kept, ${fmt.rate(bound.plainBytesPerSecond)} without`] : [])
  ], [
    lRate !== undefined && ceiling !== undefined ? atLeast(lRate, 0.8 * ceiling, fmt.rate) : undefined,
    lRate !== undefined && rRate !== undefined ? (lRate > rRate ? { isMet: true } : { isMet: false, gap: `${fmt.ratio(lRate, rRate)} rsync's rate` }) : undefined
  ])
}

function d1 (input: Input): Verdict {
  const l = caseResult(input, 'D1', 'lansync')
  const r = caseResult(input, 'D1', 'rsync')
  return verdict('D1', `${caseLabel(input, 'D1')}: lansync ≤ rsync's time and ≤ 2 × rsync's bytes`, [
    l !== undefined ? `lansync ${fmt.seconds(l.seconds)}, ${fmt.wireBytes(wire(l))}` : missing('lansync'),
    r !== undefined ? `rsync ${fmt.seconds(r.seconds)}, ${fmt.wireBytes(wire(r))}` : missing('rsync')
  ], [
    l !== undefined && r !== undefined ? atMost(l.seconds, r.seconds, fmt.seconds) : undefined,
    l !== undefined && r !== undefined ? atMost(wire(l), 2 * wire(r), fmt.wireBytes) : undefined
  ])
}

function d2 (input: Input): Verdict {
  const l = caseResult(input, 'D2', 'lansync')
  const r = caseResult(input, 'D2', 'rsync')
  return verdict('D2', `${caseLabel(input, 'D2')}: lansync ≤ ${fmt.wireBytes(D2_MAX_WIRE_BYTES)} on the wire and ≤ 2 × rsync's time`, [
    l !== undefined ? `lansync ${fmt.seconds(l.seconds)}, ${fmt.wireBytes(wire(l))}` : missing('lansync'),
    r !== undefined ? `rsync ${fmt.seconds(r.seconds)}` : missing('rsync')
  ], [
    l !== undefined ? atMost(wire(l), D2_MAX_WIRE_BYTES, fmt.wireBytes) : undefined,
    l !== undefined && r !== undefined ? atMost(l.seconds, 2 * r.seconds, fmt.seconds) : undefined
  ])
}

function d3 (input: Input): Verdict {
  const l = caseResult(input, 'D3', 'lansync')
  return verdict('D3', `${caseLabel(input, 'D3')}: lansync sends no block data and takes ≤ 0.5 s`, [
    l !== undefined ? `lansync ${fmt.seconds(l.seconds)}, block data ${fmt.wireBytes(l.blockBytes ?? 0)}, wire ${fmt.wireBytes(wire(l))}` : missing('lansync')
  ], [
    l !== undefined ? ((l.blockBytes ?? 0) === 0 ? { isMet: true } : { isMet: false, gap: `${fmt.wireBytes(l.blockBytes ?? 0)} of block data sent` }) : undefined,
    l !== undefined ? atMost(l.seconds, 0.5, fmt.seconds) : undefined
  ])
}

function s1 (input: Input): Verdict {
  const l = resultOf(input.restart.lansync)
  const s = resultOf(input.restart.syncthing)
  const files = l?.files ?? s?.files
  return verdict('S1', `restart with ${files !== undefined ? fmt.count(files) : 'N'} unchanged files: lansync ready to sync in ≤ Syncthing's startup scan time`, [
    l !== undefined ? `lansync ${fmt.seconds(l.restartSeconds)}` : missing('lansync'),
    s !== undefined ? `Syncthing ${fmt.seconds(s.restartSeconds)}` : missing('Syncthing')
  ], [l !== undefined && s !== undefined ? atMost(l.restartSeconds, s.restartSeconds, fmt.seconds) : undefined])
}

function m1 (input: Input): Verdict {
  const l = resultOf(input.restart.lansync)
  return verdict('M1', `peak RSS of an agent holding ${l !== undefined ? fmt.count(l.files) : 'N'} files ≤ ${fmt.memory(M1_MAX_RSS_BYTES)}`, [
    l !== undefined ? `lansync ${fmt.memory(l.peakRssBytes)} (private ${fmt.memory(l.peakPrivateBytes)})` : missing('lansync')
  ], [l !== undefined ? atMost(l.peakRssBytes, M1_MAX_RSS_BYTES, fmt.memory) : undefined])
}

function m1Flat (input: Input): Verdict {
  const small = caseResult(input, 'W1', 'lansync')
  const large = caseResult(input, 'W2', 'lansync')
  const privateOf = (r: CaseResult): number => Math.max(0, ...r.processes.map(p => p.peakPrivateBytes))
  return verdict('M1 flat', `memory flat in file size: busiest agent's peak RSS during W2 (large files) ≤ ${FLAT_MAX_GROWTH} × during W1 (small files)`, [
    small !== undefined ? `W1 ${fmt.memory(peakRss(small))} (private ${fmt.memory(privateOf(small))})` : missing('W1'),
    large !== undefined ? `W2 ${fmt.memory(peakRss(large))} (private ${fmt.memory(privateOf(large))})` : missing('W2')
  ], [small !== undefined && large !== undefined && peakRss(small) > 0 ? atMost(peakRss(large), FLAT_MAX_GROWTH * peakRss(small), fmt.memory) : undefined])
}

function h1 (input: Input): Verdict {
  const h = input.core?.history
  return verdict('H1', `history store after ${h?.edits ?? 10} edits of 4 KiB to a ${h !== undefined ? fmt.memory(h.fileBytes) : 'N MiB'} file ≤ 1.05 × the file on disk`, [
    h !== undefined ? `store ${fmt.memory(h.storeBytes)} = ${(h.storeBytes / h.fileBytes).toFixed(3)} × the file` : missing('store')
  ], [h !== undefined ? atMost(h.storeBytes, 1.05 * h.fileBytes, fmt.memory) : undefined])
}

/** Every target of issue 8, in the order. */
export function judge (input: Input): Verdict[] {
  return [w1(input), w2(input), d1(input), d2(input), d3(input), s1(input), m1(input), m1Flat(input), h1(input)]
}
