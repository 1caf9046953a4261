// Bandwidth rates as people write them ("500KiB", "2MB/s", "10Mbit") and as the config keeps
// them: whole bytes per second, 0 meaning no limit.
//
// Syntax: a number (decimals allowed), then an optional unit, then an optional "/s".
//   bytes, binary (1024):  K, M, G, KiB, MiB, GiB        (K = KiB, as curl and rsync read it)
//   bytes, decimal (1000): B, kB/KB, MB, GB (also kBps, MBps, …)
//   bits (÷ 8):            bit, kbit, Mbit, Gbit, Kibit, … and bps, kbps, Mbps, Gbps
//   no limit:              0, off, none, unlimited
// A bare number is bytes per second. "Mb"/"kb" are refused as ambiguous (bits or bytes?).
import { LansyncError } from '../errors.js'

/** The smallest limit: below it one 256 KiB block would take minutes. */
export const MIN_RATE_BPS = 1000
/** The largest limit accepted (1 TiB/s): beyond it a limit means nothing. */
export const MAX_RATE_BPS = 2 ** 40

const PREFIX_POWER: Record<string, number> = { k: 1, m: 2, g: 3, t: 4 }
const UNLIMITED = new Set(['0', 'off', 'none', 'unlimited'])

/**
 * Parses a rate as a person typed it into bytes per second (0: no limit). Throws ARG_INVALID
 * naming `what` (e.g. "--max-recv") and the accepted forms.
 */
export function parseRate (text: unknown, what = 'a rate'): number {
  const bad = (why: string): never => {
    throw new LansyncError('ARG_INVALID', `${what} must be a rate such as 500KiB, 2MB/s or 10Mbit (0 or "off": no limit), not ${JSON.stringify(text)}: ${why}`)
  }
  if (typeof text === 'number') text = String(text)
  if (typeof text !== 'string') return bad('not a string')
  const trimmed = text.trim()
  if (UNLIMITED.has(trimmed.toLowerCase())) return 0
  const m = /^(\d+(?:\.\d+)?|\.\d+)\s*([A-Za-z]*)(\/s)?$/.exec(trimmed)
  if (m === null) return bad('expected a number and a unit')
  const [, numberText, unit, perSecond] = m
  const factor = unitFactor(unit, perSecond !== undefined, bad)
  const bps = Math.round(Number(numberText) * factor)
  if (bps === 0) return 0
  if (!Number.isFinite(bps) || bps > MAX_RATE_BPS) return bad('too large')
  if (bps < MIN_RATE_BPS) return bad(`below the smallest limit, ${MIN_RATE_BPS} bytes/s (use 0 for no limit)`)
  return bps
}

function unitFactor (unit: string, hasPerSecond: boolean, bad: (why: string) => never): number {
  if (unit === '' || unit === 'B' || unit === 'Bps') {
    if (unit === 'Bps' && hasPerSecond) bad('"/s" after "ps"')
    return 1
  }
  if (unit === 'bit' || unit === 'bits' || unit === 'bps') {
    if (unit === 'bps' && hasPerSecond) bad('"/s" after "ps"')
    return 1 / 8
  }
  if (unit === 'b') return bad('"b" is ambiguous: write B for bytes or bit for bits')
  const power = PREFIX_POWER[unit[0].toLowerCase()]
  if (power === undefined) return bad(`unknown unit "${unit}"`)
  let rest = unit.slice(1)
  const isBinary = rest.startsWith('i') || rest.startsWith('I')
  if (isBinary) rest = rest.slice(1)
  if (rest.endsWith('ps') && hasPerSecond) bad('"/s" after "ps"')
  if (rest.toLowerCase() === 'bit' || rest.toLowerCase() === 'bits') rest = 'bit'
  switch (rest) {
    case '': return 1024 ** power // K, M, G: binary bytes
    case 'B': case 'Bps': return (isBinary ? 1024 : 1000) ** power
    case 'bit': case 'bits': case 'bps': return (isBinary ? 1024 : 1000) ** power / 8
    case 'b': return bad(`"${unit}" is ambiguous: write ${unit[0]}${isBinary ? 'i' : ''}B for bytes or ${unit[0]}${isBinary ? 'i' : ''}bit for bits`)
    default: return bad(`unknown unit "${unit}"`)
  }
}

/** A limit for people: "unlimited", or binary bytes per second ("1.5 MiB/s"). */
export function formatRate (bps: number): string {
  if (bps <= 0) return 'unlimited'
  if (bps < 1024) return `${bps} B/s`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = bps / 1024; let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${Number(v.toFixed(v < 10 ? 2 : 1))} ${units[i]}/s`
}

/** A valid limit in the config: 0 (none) or a whole number of bytes/s within the bounds. */
export function isRateLimit (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && (value === 0 || (value >= MIN_RATE_BPS && value <= MAX_RATE_BPS))
}
