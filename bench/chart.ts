// One run's report as an SVG bar chart, written by hand (no dependency): per case, each tool's
// time as a bar scaled to the slowest tool of that case; W2's throughput next to the measured
// ceilings; and the verdict rows. Pure: returns the SVG text.
import { resultOf, TOOLS, type BenchReport, type Tool } from './results.js'
import * as fmt from './format.js'
import { cpuBound } from './cpu-bound.js'

const COLORS: Record<Tool | 'ceiling', string> = { lansync: '#2b6cb0', rsync: '#718096', syncthing: '#38a169', ceiling: '#d69e2e' }
const WIDTH = 1000
const LABEL_WIDTH = 180
/** Room right of the longest bar for its value label. */
const BAR_MAX = WIDTH - LABEL_WIDTH - 320
const BAR_HEIGHT = 14
const LINE = 18

export function escapeXml (text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&apos;')
}

function text (x: number, y: number, content: string, attrs = ''): string {
  return `<text x="${x.toFixed(1)}" y="${y.toFixed(1)}"${attrs === '' ? '' : ' ' + attrs}>${escapeXml(content)}</text>`
}

function bar (y: number, value: number, max: number, color: string, label: string, caption: string): string[] {
  const length = max > 0 ? Math.max(1, BAR_MAX * value / max) : 1
  return [
    text(LABEL_WIDTH - 8, y + BAR_HEIGHT - 3, caption, 'text-anchor="end"'),
    `<rect x="${LABEL_WIDTH}" y="${y.toFixed(1)}" width="${length.toFixed(1)}" height="${BAR_HEIGHT}" fill="${color}"/>`,
    text(LABEL_WIDTH + length + 6, y + BAR_HEIGHT - 3, label)
  ]
}

export function toSvg (report: BenchReport): string {
  const body: string[] = []
  let y = 28
  body.push(text(12, y, `lansync bench (${report.mode}), ${report.startedAt}: seconds per case (shorter is better; bars scaled per case)`, 'font-weight="bold"'))
  y += 14
  const tools = TOOLS.filter(t => report.tools.includes(t))
  tools.forEach((tool, i) => {
    const x = 12 + i * 140
    body.push(`<rect x="${x}" y="${y}" width="12" height="12" fill="${COLORS[tool]}"/>`, text(x + 18, y + 11, tool))
  })
  y += 26
  for (const row of report.cases) {
    body.push(text(12, y + 11, `${row.id} ${row.label}`, 'font-weight="bold"'))
    y += LINE
    const max = Math.max(0, ...tools.map(t => resultOf(row.outcomes[t])?.seconds ?? 0))
    for (const tool of tools) {
      const o = row.outcomes[tool]
      const r = resultOf(o)
      if (r === undefined) {
        body.push(text(LABEL_WIDTH - 8, y + BAR_HEIGHT - 3, tool, 'text-anchor="end"'), text(LABEL_WIDTH, y + BAR_HEIGHT - 3, o === undefined ? 'not run' : 'failed', 'fill="#c53030"'))
      } else {
        const extra = row.dataBytes !== undefined ? `, ${fmt.rate(row.dataBytes / r.seconds)}` : ''
        body.push(...bar(y, r.seconds, max, COLORS[tool], `${fmt.seconds(r.seconds)}${extra}, ${fmt.wireBytes(r.wireDownBytes + r.wireUpBytes)} on the wire`, tool))
      }
      y += LINE
    }
    y += 8
  }
  const w2 = report.cases.find(c => c.id === 'W2')
  const ceilings = resultOf(report.ceilings)
  if (w2?.dataBytes !== undefined || ceilings !== undefined) {
    y += 10
    body.push(text(12, y + 11, 'throughput: W2 first sync against the ceilings measured in the same run (longer is better)', 'font-weight="bold"'))
    y += LINE + 4
    const rates: Array<[string, number, string]> = []
    for (const tool of tools) {
      const r = resultOf(w2?.outcomes[tool])
      if (r !== undefined && w2?.dataBytes !== undefined) rates.push([`${tool} W2`, w2.dataBytes / r.seconds, COLORS[tool]])
    }
    if (ceilings !== undefined) {
      rates.push(['secret-stream loopback', ceilings.secretStreamBytesPerSecond, COLORS.ceiling])
      rates.push(['SHA-256', ceilings.sha256BytesPerSecond, COLORS.ceiling])
      rates.push(['write+fsync', ceilings.writeFsyncBytesPerSecond, COLORS.ceiling])
      const bound = cpuBound(ceilings, report.machine.cpus)
      if (bound !== undefined) rates.push(['CPU bound, history kept', bound.withHistoryBytesPerSecond, COLORS.ceiling])
    }
    const max = Math.max(0, ...rates.map(r => r[1]))
    for (const [caption, value, color] of rates) { body.push(...bar(y, value, max, color, fmt.rate(value), caption)); y += LINE }
  }
  if (report.verdicts.length > 0) {
    y += 18
    body.push(text(12, y, 'targets (issue 8)', 'font-weight="bold"'))
    y += 6
    for (const v of report.verdicts) {
      y += LINE + 4
      const color = v.status === 'met' ? '#2f855a' : v.status === 'not met' ? '#c53030' : '#718096'
      body.push(text(12, y, v.status === 'met' ? 'met' : v.status === 'not met' ? 'NOT met' : 'not measured', `fill="${color}" font-weight="bold"`))
      body.push(text(110, y, `${v.id}: ${v.target}`))
      y += LINE - 2
      body.push(text(110, y, `${v.measured}${v.gap !== undefined ? ` — gap: ${v.gap}` : ''}`, 'fill="#4a5568"'))
    }
  }
  const height = y + 24
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${WIDTH}" height="${height}" fill="#ffffff"/>`,
    ...body,
    '</svg>',
    ''
  ].join('\n')
}
