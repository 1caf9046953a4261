// Conflict rules: the one deterministic winner between two concurrent records (the same answer on
// every device, whatever order they meet in) and the names of the conflict copies that keep the loser.
import type { FileRecord } from './types.js'

/**
 * Which of two concurrent records keeps the path: 'a' or 'b'. A strict total order over the fields
 * every device sees identically, so that resolving three or more concurrent versions pairwise in any
 * order ends in the same record (the maximum) everywhere:
 *   1. a live record beats a tombstone (delete vs edit: the edit wins);
 *   2. a directory beats a file or symlink (its children are records of their own and could not
 *      live under a file; the file is kept as a conflict copy instead);
 *   3. the newer mtimeMs;
 *   4. the larger modifiedBy (plain code-unit string comparison, no locale);
 *   5. then content and metadata (hash bytes, kind, linkTarget, mode), only so that two records from
 *      a device whose index was wiped still order the same everywhere.
 * Fully identical records give 'a' (either is the same answer).
 */
export function chooseWinner (a: FileRecord, b: FileRecord): 'a' | 'b' {
  const order = compareRank(a, b)
  return order >= 0 ? 'a' : 'b'
}

/** Positive when `a` outranks `b`, negative when `b` does, 0 when they are indistinguishable. */
function compareRank (a: FileRecord, b: FileRecord): number {
  if (a.isDeleted !== b.isDeleted) return a.isDeleted ? -1 : 1
  if (!a.isDeleted) {
    const aDir = a.kind === 'dir'
    const bDir = b.kind === 'dir'
    if (aDir !== bDir) return aDir ? 1 : -1
  }
  if (a.mtimeMs !== b.mtimeMs) return a.mtimeMs > b.mtimeMs ? 1 : -1
  if (a.modifiedBy !== b.modifiedBy) return a.modifiedBy > b.modifiedBy ? 1 : -1
  const hash = compareBytes(a.hash, b.hash)
  if (hash !== 0) return hash
  if (a.kind !== b.kind) return a.kind > b.kind ? 1 : -1
  if (a.linkTarget !== b.linkTarget) return a.linkTarget > b.linkTarget ? 1 : -1
  if (a.mode !== b.mode) return a.mode > b.mode ? 1 : -1
  return 0
}

function compareBytes (a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length)
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return a[i] > b[i] ? 1 : -1
  return a.length === b.length ? 0 : (a.length > b.length ? 1 : -1)
}

const MARKER = '.sync-conflict-'
/** Parses a base name that already carries a conflict marker: stem, the marker, extension. */
const MARKED_BASE = /^(.*)\.sync-conflict-\d{8}-\d{6}-[A-Za-z0-9_-]+(\.[^.]*)?$/
/** mtimes outside 0000..9999 AD would print more than 8 date digits and no longer parse as a marker. */
const MAX_MTIME_MS = 253402300799999

/**
 * Where the loser of a conflict at `path` is kept:
 * `dir/name.sync-conflict-YYYYMMDD-HHMMSS-<label>.ext`, the time being the loser's mtime in UTC.
 * The extension (after the last dot of the base name) stays last so the copy still opens with the
 * same program; a base name without one, or a dotfile such as `.bashrc`, just gets the suffix.
 * A path that is already a conflict copy is renamed from its original stem, so copies of copies do
 * not grow names (`a.sync-conflict-X-D1.txt` → `a.sync-conflict-Y-D2.txt`), unless that would
 * give back the very same path.
 * `label` is sanitised to [A-Za-z0-9_-] so it can never add a separator, a dot or a NUL.
 */
export function conflictName (path: string, loserMtimeMs: number, label: string): string {
  const slash = path.lastIndexOf('/')
  const dir = slash === -1 ? '' : path.slice(0, slash + 1)
  const base = path.slice(slash + 1)
  const suffix = `${MARKER}${formatUtc(loserMtimeMs)}-${sanitiseLabel(label)}`
  const marked = MARKED_BASE.exec(base)
  if (marked !== null) {
    const renamed = dir + marked[1] + suffix + (marked[2] ?? '')
    if (renamed !== path) return renamed
  }
  const { stem, ext } = splitExtension(base)
  return dir + stem + suffix + ext
}

/** True when the last segment of `path` carries a conflict marker made by conflictName. */
export function isConflictName (path: string): boolean {
  return MARKED_BASE.test(path.slice(path.lastIndexOf('/') + 1))
}

/**
 * The path a conflict copy was made for (`dir/a.sync-conflict-X-D.txt` → `dir/a.txt`), or
 * undefined when `path` carries no conflict marker. A copy of a copy names the first original too,
 * since conflictName renames copies from their original stem.
 */
export function conflictOriginal (path: string): string | undefined {
  const slash = path.lastIndexOf('/')
  const marked = MARKED_BASE.exec(path.slice(slash + 1))
  if (marked === null || marked[1] === '') return undefined
  return path.slice(0, slash + 1) + marked[1] + (marked[2] ?? '')
}

/**
 * The name a resolved conflict copy keeps when both versions stay (`--keep both`):
 * `dir/name (from LABEL).ext` beside the original, `name (from LABEL 2).ext` and on when
 * `isTaken` says a name is in use. `label` is reduced to letters, digits, space, `_` and `-`.
 */
export function keptCopyName (original: string, label: string, isTaken: (path: string) => boolean, maxTries = 100): string | undefined {
  const slash = original.lastIndexOf('/')
  const dir = original.slice(0, slash + 1)
  const { stem, ext } = splitExtension(original.slice(slash + 1))
  const clean = label.replace(/[^A-Za-z0-9 _-]/g, '').trim().slice(0, 40)
  const who = clean === '' ? 'device' : clean
  for (let n = 1; n <= maxTries; n++) {
    const candidate = `${dir}${stem} (from ${who}${n === 1 ? '' : ` ${n}`})${ext}`
    if (!isTaken(candidate)) return candidate
  }
  return undefined
}

function splitExtension (base: string): { stem: string, ext: string } {
  const dot = base.lastIndexOf('.')
  // A leading dot names a dotfile, a trailing one ends no extension.
  if (dot <= 0 || dot === base.length - 1) return { stem: base, ext: '' }
  return { stem: base.slice(0, dot), ext: base.slice(dot) }
}

function sanitiseLabel (label: string): string {
  const clean = label.replace(/[^A-Za-z0-9_-]/g, '')
  return clean === '' ? 'device' : clean
}

/** YYYYMMDD-HHMMSS in UTC; a pure function of its argument (no clock is read). */
function formatUtc (mtimeMs: number): string {
  const ms = Number.isFinite(mtimeMs) ? Math.min(Math.max(mtimeMs, 0), MAX_MTIME_MS) : 0
  const d = new Date(ms)
  const two = (n: number): string => String(n).padStart(2, '0')
  return `${String(d.getUTCFullYear()).padStart(4, '0')}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}-` +
    `${two(d.getUTCHours())}${two(d.getUTCMinutes())}${two(d.getUTCSeconds())}`
}
