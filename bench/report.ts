// One run's report as text (the table, the ceilings, restart and memory, the one-device figures,
// the verdict rows) and as JSON. Pure: returns strings; bench.ts prints and writes them.
import { resultOf, type BenchReport, type CaseRow, type Tool } from './results.js'
import * as fmt from './format.js'
import { cpuBound } from './cpu-bound.js'

/** A tool's cells: seconds (with MB/s for first syncs), wire bytes, peak RSS of its largest process. */
function cells (row: CaseRow, tool: Tool): string[] {
  const o = row.outcomes[tool]
  if (o === undefined) return ['–', '–', '–']
  if ('error' in o) return ['failed', '–', '–']
  const peak = Math.max(0, ...o.processes.map(p => p.peakRssBytes))
  return [
    fmt.seconds(o.seconds) + (row.dataBytes === undefined ? '' : ` ${fmt.rate(row.dataBytes / o.seconds)}`),
    fmt.wireBytes(o.wireDownBytes + o.wireUpBytes),
    peak === 0 ? '–' : fmt.memory(peak)
  ]
}

function ratios (row: CaseRow, peer: Tool): string {
  const a = resultOf(row.outcomes.lansync)
  const b = resultOf(row.outcomes[peer])
  if (a === undefined || b === undefined) return '–'
  return `${fmt.ratio(a.seconds, b.seconds)} / ${fmt.ratio(a.wireDownBytes + a.wireUpBytes, b.wireDownBytes + b.wireUpBytes)}`
}

/** Columns padded to their widest cell; the first left-aligned, the rest right-aligned. */
export function alignColumns (header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map(r => (r[i] ?? '').length)))
  const line = (r: string[]): string => r.map((v, i) => i === 0 ? v.padEnd(widths[i]) : v.padStart(widths[i])).join(' | ')
  return [line(header), widths.map(w => '-'.repeat(w)).join('-|-'), ...rows.map(line)]
}

export function formatCaseTable (report: BenchReport): string[] {
  const header = ['case']
  for (const tool of report.tools) header.push(tool, 'wire', 'RSS')
  const peers = report.tools.filter(t => t !== 'lansync')
  const hasLansync = report.tools.includes('lansync')
  if (hasLansync) for (const peer of peers) header.push(`lansync/${peer} time / bytes`)
  const rows = report.cases.map(row => [
    `${row.id} ${row.label}`,
    ...report.tools.flatMap(tool => cells(row, tool)),
    ...(hasLansync ? peers.map(peer => ratios(row, peer)) : [])
  ])
  const lines = alignColumns(header, rows)
  const perRun = report.tools.map(tool => {
    const peaks = new Map<string, number>()
    for (const row of report.cases) {
      for (const p of resultOf(row.outcomes[tool])?.processes ?? []) peaks.set(p.name, Math.max(peaks.get(p.name) ?? 0, p.peakRssBytes))
    }
    return [...peaks].map(([name, bytes]) => `${name} ${fmt.memory(bytes)}`).join(', ')
  }).filter(s => s !== '')
  if (perRun.length > 0) lines.push(`peak RSS over the cases: ${perRun.join('; ')}`)
  for (const row of report.cases) {
    for (const [tool, o] of Object.entries(row.outcomes)) if (o !== undefined && 'error' in o) lines.push(`${tool} · ${row.id}: ${o.error}`)
  }
  return lines
}

export function formatRestart (report: BenchReport): string[] {
  const tools = Object.keys(report.restart) as Tool[]
  if (tools.length === 0) return []
  const rows = tools.map(tool => {
    const o = report.restart[tool]
    if (o === undefined || 'error' in o) return [tool, `failed: ${o?.error ?? ''}`, '', '', '', '']
    return [tool, `${fmt.count(o.files)} (${fmt.memory(o.fileBytes)})`, fmt.seconds(o.firstScanSeconds), fmt.seconds(o.restartSeconds), fmt.memory(o.peakRssBytes), fmt.memory(o.peakPrivateBytes)]
  })
  return alignColumns(['S1/M1: one device', 'files', 'first start (index built)', 'restart to ready', 'peak RSS', 'peak private'], rows)
}

export function formatCeilings (report: BenchReport): string[] {
  const c = report.ceilings
  if (c === undefined) return []
  if ('error' in c) return [`ceilings: failed: ${c.error}`]
  const lines = [`ceilings (${fmt.memory(c.bytes)} each): @hyperswarm/secret-stream over TCP on 127.0.0.1 ${fmt.rate(c.secretStreamBytesPerSecond)}; ` +
    `SHA-256 (node:crypto, one thread) ${fmt.rate(c.sha256BytesPerSecond)}; write+fsync ${fmt.rate(c.writeFsyncBytesPerSecond)}`]
  const bound = cpuBound(c, report.machine.cpus)
  if (c.cpuPerByte !== undefined && bound !== undefined) {
    const ns = (secondsPerByte: number): string => `${(secondsPerByte * 1e9).toFixed(2)} ns`
    const cpu = c.cpuPerByte
    lines.push(`CPU per byte: secret-stream ${ns(cpu.secretStream)} (both ends), SHA-256 ${ns(cpu.sha256)}, write ${ns(cpu.write)}, read ${ns(cpu.read)}; ` +
      `a first sync needs at least stream + 2 × SHA-256 + read + write = ${ns(bound.plainCpuPerByte)}, so at most ${fmt.rate(bound.plainBytesPerSecond)} on ${report.machine.cpus} CPUs; ` +
      `with a kept copy at each end (+ 2 × write, as lansync's history) ${ns(bound.withHistoryCpuPerByte)}, at most ${fmt.rate(bound.withHistoryBytesPerSecond)}`)
  }
  return lines
}

export function formatVerdicts (report: BenchReport): string[] {
  const rows = report.verdicts.map(v => [v.id, v.status === 'met' ? 'met' : v.status === 'not met' ? 'NOT met' : 'not measured', v.target, v.measured, v.gap ?? ''])
  return alignColumns(['target', 'verdict', 'what', 'measured', 'gap'], rows).map(l => l.trimEnd())
}

/** The whole printed report, ending with the verdict rows. */
export function formatReport (report: BenchReport): string {
  const m = report.machine
  const out = [
    `lansync bench (${report.mode}) started ${report.startedAt}, ${report.wallSeconds.toFixed(0)} s wall ` +
      `(${Object.entries(report.phaseSeconds).map(([phase, s]) => `${phase} ${s.toFixed(0)} s`).join(', ')}); ${m.cpus} CPUs; ` +
      `load average ${m.loadAverageStart.map(n => n.toFixed(1)).join(' ')} at the start, ${m.loadAverageEnd.map(n => n.toFixed(1)).join(' ')} at the end (other work on this machine skews the times)`
  ]
  if (report.cases.length > 0) out.push('', 'Seconds (MB/s for first syncs), bytes on the wire, peak RSS of the largest process; ratios lansync/peer:', ...formatCaseTable(report))
  const ceilings = formatCeilings(report)
  if (ceilings.length > 0) out.push('', ...ceilings)
  const restart = formatRestart(report)
  if (restart.length > 0) out.push('', ...restart)
  if (report.core !== undefined) {
    const width = Math.max(...report.core.lines.map(l => l[0].length))
    out.push('', 'one device (core):', ...report.core.lines.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`))
  }
  if (report.notes.length > 0) out.push('', 'How:', ...report.notes.map(n => `- ${n}`))
  if (report.networkChecks.length > 0) out.push('', 'Network checks (ss -tunap, per process):', ...report.networkChecks.map(n => `- ${n}`))
  out.push('', 'Targets (issue 8):', ...formatVerdicts(report))
  return out.join('\n')
}

export function toJson (report: BenchReport): string {
  return JSON.stringify(report, null, 2) + '\n'
}
