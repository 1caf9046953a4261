// Which version of a file a restore means: by number (1 = oldest), as of a time, or by default the
// newest version that has content (so a deleted file comes back). Pure.
import { LansyncError } from '../errors.js'

export interface Selectable { recordedMs: number, isDeleted: boolean }

export interface VersionChoice {
  /** 1-based, oldest first, as `lansync history` numbers them. */
  number?: number
  /** The version that was current at this time (ms since the epoch). */
  atMs?: number
}

/** Returns the 0-based index of the chosen version, or throws VERSION_NOT_FOUND with the reason. */
export function selectVersion (versions: Selectable[], { number, atMs }: VersionChoice, what = 'this file'): number {
  if (versions.length === 0) throw new LansyncError('VERSION_NOT_FOUND', `there is no history for ${what}`)
  if (number !== undefined && atMs !== undefined) throw new LansyncError('ARG_INVALID', 'give --version or --at, not both')
  if (number !== undefined) {
    if (!Number.isInteger(number) || number < 1 || number > versions.length) {
      throw new LansyncError('VERSION_NOT_FOUND', `${what} has versions 1 to ${versions.length}, not ${number}`)
    }
    if (versions[number - 1].isDeleted) throw new LansyncError('VERSION_NOT_FOUND', `version ${number} of ${what} is its deletion; pick an earlier version`)
    return number - 1
  }
  if (atMs !== undefined) {
    const index = versionAt(versions, atMs)
    if (index === -1) throw new LansyncError('VERSION_NOT_FOUND', `${what} did not exist yet at ${new Date(atMs).toISOString()}`)
    if (versions[index].isDeleted) throw new LansyncError('VERSION_NOT_FOUND', `${what} was deleted at ${new Date(atMs).toISOString()}`)
    return index
  }
  for (let i = versions.length - 1; i >= 0; i--) if (!versions[i].isDeleted) return i
  throw new LansyncError('VERSION_NOT_FOUND', `no version of ${what} has content`)
}

/** Index of the last version recorded at or before `atMs`, or -1. Versions are oldest first. */
export function versionAt (versions: Selectable[], atMs: number): number {
  let found = -1
  for (let i = 0; i < versions.length; i++) if (versions[i].recordedMs <= atMs) found = i
  return found
}

/** Parses a user's time: ISO 8601, a plain date, or a relative "-2h"/"-3d"/"-30m"/"-45s". */
export function parseTime (text: string, nowMs: number): number {
  const rel = /^-(\d+(?:\.\d+)?)([smhdw])$/.exec(text.trim())
  if (rel !== null) {
    const unit = { s: 1e3, m: 60e3, h: 3600e3, d: 86400e3, w: 604800e3 }[rel[2] as 's' | 'm' | 'h' | 'd' | 'w']
    return nowMs - Number(rel[1]) * unit
  }
  if (/^\d{10,}$/.test(text.trim())) return Number(text.trim()) // ms since the epoch
  const ms = Date.parse(text)
  if (Number.isNaN(ms)) {
    throw new LansyncError('ARG_INVALID', `cannot read the time "${text}"; use ISO 8601 (2026-11-25T10:00:00Z), a date, or -2h / -3d`)
  }
  return ms
}
