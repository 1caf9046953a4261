// The bench's pure parts: issue 8's verdicts over a given table, and the report written as text,
// JSON and SVG (well-formed, escaped, every number there).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { judge } from '../../bench/targets.js'
import { formatReport, toJson } from '../../bench/report.js'
import { escapeXml, toSvg } from '../../bench/chart.js'
import { cpuBound } from '../../bench/cpu-bound.js'
import type { BenchReport, CaseId, CaseResult, Outcome, Tool, Verdict } from '../../bench/results.js'

const MiB = 1024 * 1024

function result (seconds: number, wireBytes: number, extra: Partial<CaseResult> = {}): CaseResult {
  return { seconds, wireDownBytes: wireBytes, wireUpBytes: 0, processes: [{ name: 'x', peakRssBytes: 80 * MiB, peakPrivateBytes: 40 * MiB }], ...extra }
}

type Table = Partial<Record<CaseId, Partial<Record<Tool, Outcome<CaseResult>>>>>

/** A report where lansync meets every target. */
function makeReport (table: Table = {}, overrides: Partial<BenchReport> = {}): BenchReport {
  const base: Table = {
    W1: { lansync: result(5, 90e6), rsync: result(1, 85e6), syncthing: result(16, 95e6) },
    W2: { lansync: result(3.5, 1.1e9, { blockBytes: 1.07e9 }), rsync: result(4, 1.07e9), syncthing: result(6, 1.1e9) },
    D3: { lansync: result(0.3, 2_000, { blockBytes: 0 }), rsync: result(2, 1.07e9), syncthing: result(1.2, 3_000) },
    D1: { lansync: result(0.5, 100_000, { blockBytes: 80_000 }), rsync: result(0.9, 82_000), syncthing: result(1.8, 308_000) },
    'D2-base': { lansync: result(0.5, 67e6), rsync: result(0.4, 67e6), syncthing: result(0.6, 67e6) },
    D2: { lansync: result(0.3, 120_000, { blockBytes: 100_000 }), rsync: result(0.23, 33_000), syncthing: result(1.8, 154_000) }
  }
  const merged = { ...base, ...table }
  const labels: Record<CaseId, string> = { W1: 'first sync: 10,000 files of 1–16 KiB', W2: 'first sync: 4 × 256 MiB', D3: 'rename of a 256 MiB file', D1: '4 KiB overwritten inside a 256 MiB file', 'D2-base': 'first sync: 1 × 64 MiB', D2: '100 B inserted at the start of a 64 MiB file' }
  const dataBytes: Partial<Record<CaseId, number>> = { W1: 88e6, W2: 1024 * MiB, 'D2-base': 64 * MiB }
  const report: BenchReport = {
    mode: 'full',
    startedAt: '2026-11-30T23:00:00.000Z',
    wallSeconds: 480,
    phaseSeconds: { ceilings: 5, 'two-agents': 300 },
    machine: { cpus: 2, loadAverageStart: [1, 1, 1], loadAverageEnd: [2, 2, 2] },
    tools: ['lansync', 'rsync', 'syncthing'],
    ceilings: { bytes: 256 * MiB, secretStreamBytesPerSecond: 350e6, sha256BytesPerSecond: 1.6e9, writeFsyncBytesPerSecond: 400e6 },
    cases: (Object.keys(labels) as CaseId[]).map(id => ({ id, label: labels[id], ...(dataBytes[id] !== undefined ? { dataBytes: dataBytes[id] } : {}), outcomes: merged[id] ?? {} })),
    restart: {
      lansync: { files: 100_000, fileBytes: 250 * MiB, firstScanSeconds: 60, restartSeconds: 4, peakRssBytes: 120 * MiB, peakPrivateBytes: 70 * MiB },
      syncthing: { files: 100_000, fileBytes: 250 * MiB, firstScanSeconds: 30, restartSeconds: 5, peakRssBytes: 200 * MiB, peakPrivateBytes: 150 * MiB }
    },
    core: { lines: [['history', 'store 260 MiB']], history: { fileBytes: 256 * MiB, edits: 10, storeBytes: 260 * MiB }, peakRssBytes: 300 * MiB },
    notes: ['a note'],
    networkChecks: ['lansync sender: listens on 127.0.0.1:1 only'],
    verdicts: [],
    ...overrides
  }
  report.verdicts = judge(report)
  return report
}

const byId = (verdicts: Verdict[], id: string): Verdict => {
  const v = verdicts.find(x => x.id === id)
  if (v === undefined) throw new Error(`no verdict ${id}`)
  return v
}

test('every issue 8 target has a row, in the issue\'s order', () => {
  assert.equal(judge(makeReport()).map(v => v.id), ['W1', 'W2', 'D1', 'D2', 'D3', 'S1', 'M1', 'M1 flat', 'H1'])
})

test('a run meeting every target: every row met, no gap, the numbers in the measured text', () => {
  const verdicts = makeReport().verdicts
  for (const v of verdicts) {
    assert.is(v.status, 'met', `${v.id}: ${v.measured} ${v.gap ?? ''}`)
    assert.is(v.gap, undefined, v.id)
  }
  assert.match(byId(verdicts, 'W1').measured, 'lansync 5.00 s')
  assert.match(byId(verdicts, 'W1').measured, 'Syncthing 16.0 s')
  assert.match(byId(verdicts, 'S1').target, '100,000')
  assert.match(byId(verdicts, 'H1').target, '256 MiB')
})

test('each target fails on its own limit, with the gap', () => {
  const cases: Array<[string, Table | Partial<BenchReport>, RegExp]> = [
    ['W1', { W1: { lansync: result(10, 90e6), syncthing: result(16, 95e6) } }, /2\.00 s over/],
    // 1 GiB in 4 s = 268 MB/s < 80% of 350 MB/s = 280 MB/s
    ['W2', { W2: { lansync: result(4, 1.1e9), rsync: result(8, 1.07e9) } }, /short/],
    // fast enough for the ceiling, slower than rsync
    ['W2', { W2: { lansync: result(3.5, 1.1e9), rsync: result(3, 1.07e9) } }, /rsync's rate/],
    ['D1', { D1: { lansync: result(1.0, 100_000), rsync: result(0.9, 82_000) } }, /s over/],
    ['D1', { D1: { lansync: result(0.5, 200_000), rsync: result(0.9, 82_000) } }, /kB over/],
    ['D2', { D2: { lansync: result(0.3, 160_000), rsync: result(0.23, 33_000) } }, /10\.0 kB over/],
    ['D2', { D2: { lansync: result(0.5, 120_000), rsync: result(0.23, 33_000) } }, /s over/],
    ['D3', { D3: { lansync: result(0.3, 300e6, { blockBytes: 268e6 }) } }, /block data sent/],
    ['D3', { D3: { lansync: result(0.6, 2_000, { blockBytes: 0 }) } }, /0\.10 s over/],
    ['M1 flat', { W2: { lansync: result(3.5, 1.1e9, { processes: [{ name: 'x', peakRssBytes: 120 * MiB, peakPrivateBytes: 60 * MiB }] }), rsync: result(3.6, 1.07e9) } }, /MiB over/]
  ]
  for (const [id, change, gap] of cases) {
    const report = 'cases' in change || 'restart' in change || 'core' in change ? makeReport({}, change as Partial<BenchReport>) : makeReport(change as Table)
    const v = byId(report.verdicts, id)
    assert.is(v.status, 'not met', `${id}: ${v.measured}`)
    assert.ok(gap.test(v.gap ?? ''), `${id} gap "${v.gap ?? ''}" should match ${String(gap)}`)
  }
})

test('S1, M1 and H1 fail on their own limits', () => {
  const slow = makeReport({}, { restart: { lansync: { files: 20_000, fileBytes: 50 * MiB, firstScanSeconds: 20, restartSeconds: 6, peakRssBytes: 160 * MiB, peakPrivateBytes: 90 * MiB }, syncthing: { files: 20_000, fileBytes: 50 * MiB, firstScanSeconds: 9, restartSeconds: 2, peakRssBytes: 90 * MiB, peakPrivateBytes: 60 * MiB } } })
  assert.is(byId(slow.verdicts, 'S1').status, 'not met')
  assert.match(byId(slow.verdicts, 'S1').target, '20,000', 'the row names the count it measured')
  assert.is(byId(slow.verdicts, 'M1').status, 'not met')
  assert.match(byId(slow.verdicts, 'M1').gap ?? '', '10 MiB over')
  const big = makeReport({}, { core: { lines: [], history: { fileBytes: 256 * MiB, edits: 10, storeBytes: 300 * MiB }, peakRssBytes: 0 } })
  assert.is(byId(big.verdicts, 'H1').status, 'not met')
})

test('a missing tool, failed case or phase not run is "not measured", never met', () => {
  const noSyncthing = makeReport({ W1: { lansync: result(5, 90e6), rsync: result(1, 85e6) } })
  assert.is(byId(noSyncthing.verdicts, 'W1').status, 'not measured')
  assert.match(byId(noSyncthing.verdicts, 'W1').measured, 'Syncthing: not measured')
  const failed = makeReport({ D1: { lansync: { error: 'timed out' }, rsync: result(0.9, 82_000) } })
  assert.is(byId(failed.verdicts, 'D1').status, 'not measured')
  const noCeiling = makeReport({}, { ceilings: { error: 'sink died' } })
  assert.is(byId(noCeiling.verdicts, 'W2').status, 'not measured', 'faster than rsync alone does not make W2 met')
  const nothing = makeReport({}, { restart: {}, core: undefined, ceilings: undefined, cases: [] })
  for (const v of nothing.verdicts) assert.is(v.status, 'not measured', v.id)
  // A part that was measured and failed makes the row not met even if another part is missing.
  const partial = makeReport({ D2: { lansync: result(0.3, 500_000) } })
  assert.is(byId(partial.verdicts, 'D2').status, 'not met')
})

test('the JSON is the report, whole', () => {
  const report = makeReport()
  const text = toJson(report)
  assert.ok(text.endsWith('\n'))
  assert.equal(JSON.parse(text), report)
})

/** Checks that `xml` is well-formed: one root, every tag closed in order, attributes quoted, text escaped. */
function checkWellFormed (xml: string): string[] {
  const body = xml.replace(/^<\?xml [^?]*\?>\s*/, '')
  const stack: string[] = []
  const roots: string[] = []
  let last = 0
  for (const m of body.matchAll(/<[^<>]*>/g)) {
    const between = body.slice(last, m.index)
    if (/[<>]|&(?!(amp|lt|gt|quot|apos);)/.test(between)) throw new Error(`unescaped text: ${between}`)
    last = (m.index ?? 0) + m[0].length
    const tag = m[0]
    const close = tag.match(/^<\/([a-zA-Z]+)>$/)
    if (close !== null) {
      assert.is(stack.pop(), close[1], `closing ${tag}`)
      continue
    }
    const open = tag.match(/^<([a-zA-Z]+)((?:\s+[a-zA-Z:-]+="[^"<&]*(?:&(?:amp|lt|gt|quot|apos);[^"<&]*)*")*)\s*(\/?)>$/)
    if (open === null) throw new Error(`malformed tag: ${tag}`)
    if (stack.length === 0) roots.push(open[1])
    if (open[3] !== '/') stack.push(open[1])
  }
  assert.equal(stack, [], 'every tag closed')
  assert.is(body.slice(last).trim(), '')
  return roots
}

test('the SVG is well-formed, escapes text, and shows every case, tool and verdict', () => {
  const report = makeReport()
  report.cases[0].label = 'files <of> "1–16 KiB" & more'
  report.verdicts = judge(report)
  const svg = toSvg(report)
  assert.equal(checkWellFormed(svg), ['svg'])
  assert.match(svg, 'xmlns="http://www.w3.org/2000/svg"')
  assert.match(svg, 'files &lt;of&gt; &quot;1–16 KiB&quot; &amp; more')
  for (const id of ['W1', 'W2', 'D3', 'D1', 'D2']) assert.match(svg, `>${id} `)
  for (const tool of ['lansync', 'rsync', 'syncthing']) assert.match(svg, `>${tool}<`)
  assert.match(svg, 'secret-stream loopback')
  assert.is((svg.match(/>met</g) ?? []).length, report.verdicts.length)
})

test('the SVG of a failed or partial run is well-formed too', () => {
  const report = makeReport({ W1: { lansync: { error: 'x < y & z' } }, W2: {} }, { ceilings: { error: 'no' }, tools: ['lansync'] })
  const svg = toSvg(report)
  checkWellFormed(svg)
  assert.match(svg, 'failed')
  assert.match(svg, 'not measured')
  checkWellFormed(toSvg({ ...report, cases: [], verdicts: [] }))
})

test('the CPU bound adds up the per-byte work a first sync cannot skip, and shows in W2 and the ceilings', () => {
  // 4 ns stream + 2 × 1 ns SHA-256 + 0.5 ns read + 1.5 ns write = 8 ns a byte; + 2 × 1.5 ns = 11 ns with history.
  const cpuPerByte = { secretStream: 4e-9, sha256: 1e-9, write: 1.5e-9, read: 0.5e-9 }
  const ceilings = { bytes: 256 * MiB, secretStreamBytesPerSecond: 350e6, sha256BytesPerSecond: 1e9, writeFsyncBytesPerSecond: 400e6, cpuPerByte }
  const bound = cpuBound(ceilings, 2)
  assert.ok(bound !== undefined)
  assert.ok(Math.abs(bound.plainCpuPerByte - 8e-9) < 1e-15)
  assert.ok(Math.abs(bound.withHistoryCpuPerByte - 11e-9) < 1e-15)
  assert.ok(Math.abs(bound.plainBytesPerSecond - 250e6) < 1, 'two CPUs at 8 ns a byte: 250 MB/s')
  assert.ok(Math.abs(bound.withHistoryBytesPerSecond - 2 / 11e-9) < 1)
  assert.is(cpuBound({ ...ceilings, cpuPerByte: undefined }, 2), undefined, 'an older report has no bound')
  const report = makeReport({}, { ceilings })
  assert.match(byId(report.verdicts, 'W2').measured, 'CPU bound 182 MB/s with history kept, 250 MB/s without')
  const text = formatReport(report)
  assert.match(text, 'CPU per byte: secret-stream 4.00 ns (both ends), SHA-256 1.00 ns, write 1.50 ns, read 0.50 ns')
  assert.match(text, '= 8.00 ns, so at most 250 MB/s on 2 CPUs')
  assert.match(toSvg(report), 'CPU bound, history kept')
  // Without the CPU figures the report is as before.
  assert.not.match(byId(makeReport().verdicts, 'W2').measured, 'CPU bound')
  assert.not.match(formatReport(makeReport()), 'CPU per byte')
})

test('escapeXml escapes the five XML specials', () => {
  assert.is(escapeXml(`<a href="x">'&'</a>`), '&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;')
})

test('the printed report has the table with ratios and the verdict rows', () => {
  const text = formatReport(makeReport({ W1: { lansync: result(10, 90e6), rsync: result(1, 85e6), syncthing: result(16, 95e6) } }))
  assert.match(text, 'lansync/syncthing')
  assert.match(text, '0.63× / 0.95×')
  assert.match(text, /W1\s+\| NOT met/)
  assert.match(text, /H1\s+\|\s+met/)
  assert.match(text, 'secret-stream over TCP on 127.0.0.1 350 MB/s')
  assert.match(text, 'S1/M1')
  assert.match(text, 'peak RSS over the cases: x 80 MiB; x 80 MiB; x 80 MiB')
})

test.run()
