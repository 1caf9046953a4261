// Selective sync: which paths of a folder this device holds. A selection is a list of gitignore-
// style patterns (`docs/**`, `*.pdf`, `photos/2024/`); an empty selection holds everything.
// "Not selected" is not "ignored": local changes of a path outside the selection are still sent,
// and this device never tells peers such a path was deleted. Pure.
import ignore, { type Ignore } from 'ignore'
import { LansyncError } from '../errors.js'
import type { FileKind, FileRecord } from './types.js'
import { compareVectors } from './clock.js'

export class Selection {
  readonly patterns: string[]
  /**
   * One matcher per pattern, `!` stripped: the last pattern that matches a path or a directory
   * above it decides. Unlike gitignore, a `!` pattern can take back part of a selected directory
   * (`docs/**` then `!docs/big/**`): a selection lists what to hold, not what to skip.
   */
  private readonly rules: Array<{ isNegation: boolean, matcher: Ignore }>
  /** The literal directory part of each positive pattern before its first wildcard ('' = anywhere). */
  private readonly prefixes: string[]

  private readonly always: Set<string>

  /** `always`: paths held whatever the patterns say (the shared ignore rules must reach every device). */
  constructor (patterns: readonly string[], { always = [] }: { always?: readonly string[] } = {}) {
    this.patterns = [...patterns]
    this.always = new Set(always)
    this.rules = patterns.map(p => ({ isNegation: p.startsWith('!'), matcher: ignore().add(p.replace(/^!/, '')) }))
    this.prefixes = patterns.filter(p => !p.startsWith('!')).map(literalDirPrefix)
  }

  get isAll (): boolean { return this.rules.length === 0 }

  /**
   * Whether this device holds `path`: it matches a pattern, or lies under a directory that does,
   * or is a directory on the way to what a pattern names (`docs` for `docs/**`), so that selected
   * files have their parent directories. A pattern that can match anywhere (`*.pdf`) makes every
   * directory such a way.
   */
  isSelected (path: string, kind: FileKind = 'file'): boolean {
    if (this.rules.length === 0 || path === '' || this.always.has(path)) return true
    const isDir = kind === 'dir'
    const target = isDir ? path + '/' : path
    for (let i = this.rules.length - 1; i >= 0; i--) {
      if (this.rules[i].matcher.ignores(target)) {
        if (!this.rules[i].isNegation) return true
        break
      }
    }
    if (!isDir) return false
    return this.prefixes.some(prefix => prefix === '' || prefix === path || prefix.startsWith(path + '/'))
  }
}

/**
 * The directory part of a pattern before anything that can match more than one name:
 * `docs/**` → `docs`, `a/b/*.txt` → `a/b`, `/x/y` → `x`, `*.pdf` → '' (anywhere).
 * A pattern without an inner '/' matches at any depth (gitignore), so it has no prefix.
 */
function literalDirPrefix (pattern: string): string {
  let p = pattern.startsWith('/') ? pattern.slice(1) : pattern
  if (p.endsWith('/')) p = p.slice(0, -1)
  if (!pattern.slice(0, -1).includes('/') && !pattern.startsWith('/')) return ''
  const parts = p.split('/')
  const literal: string[] = []
  for (const part of parts.slice(0, -1)) {
    if (/[*?[\\]/.test(part)) break
    literal.push(part)
  }
  // The last segment names the selected thing itself; it is a directory on the way only if it is literal.
  if (literal.length === parts.length - 1 && !/[*?[\\]/.test(parts[parts.length - 1])) literal.push(parts[parts.length - 1])
  return literal.join('/')
}

/**
 * Checks and normalises the patterns a person gave `folder only`: at least one, each a relative
 * gitignore-style pattern (no `..` segment, no NUL, not empty). Throws ARG_INVALID naming the bad one.
 */
export function parseSelectionPatterns (patterns: readonly unknown[]): string[] {
  if (patterns.length === 0) throw new LansyncError('ARG_INVALID', 'name at least one pattern (e.g. `docs/**`), or --all to hold everything')
  const out: string[] = []
  for (const raw of patterns) {
    if (typeof raw !== 'string') throw new LansyncError('ARG_INVALID', `a selection pattern must be text, not ${JSON.stringify(raw)}`)
    const pattern = raw.trim()
    const bad = (why: string): never => { throw new LansyncError('ARG_INVALID', `selection pattern ${JSON.stringify(raw)}: ${why}`) }
    if (pattern === '' || pattern === '!') bad('empty')
    if (pattern.startsWith('#')) bad("a pattern cannot start with '#' (that is a comment in gitignore syntax)")
    if (pattern.includes('\0')) bad('contains NUL')
    if (pattern.includes('\\')) bad("use '/' between names")
    if (pattern.replace(/^!/, '').split('/').some(s => s === '..' || s === '.')) bad("'.' and '..' are not allowed; patterns are relative to the folder root")
    out.push(pattern)
  }
  return [...new Set(out)]
}

/**
 * What to keep of a remote record for a path this device does not hold, given the record kept so
 * far (`known`) and the index record (`local`, a copy still here or a tombstone): the remote
 * record when it is news, else undefined. News is neither older than nor equal to either.
 */
export function isKnownNews (remote: FileRecord, known: FileRecord | undefined, local: FileRecord | undefined): boolean {
  for (const other of [known, local]) {
    if (other === undefined) continue
    const order = compareVectors(remote.vector, other.vector)
    if (order === 'before' || order === 'equal') return false
  }
  return true
}

/**
 * The vector of a file that appears here at a path whose latest version this device only knows
 * of (`known`, not held here): it is new content made without that version, so it must be
 * concurrent with it (a peer keeps both, as a conflict, instead of overwriting one). Keyed by the
 * index epoch like a first vector, plus this device's counter above any it used for the path, so
 * that it never equals a vector sent before.
 */
export function vectorOverKnown (known: Record<string, number>, epoch: string, device: string): Record<string, number> {
  return { [epoch]: 1, [device]: (known[device] ?? 0) + 1 }
}
