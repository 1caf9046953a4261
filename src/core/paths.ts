// Paths at the wire boundary: the one place where a path from a peer (or from a directory walk) is
// checked and normalised to the wire form (relative, '/'-separated, NFC), and where a wire path is
// joined to a folder root without ever leaving it. Spec: protocol.md, section 2, "Paths".
import { isAbsolute, relative, resolve, sep } from 'node:path'
import { LansyncError } from '../errors.js'

export const MAX_PATH_BYTES = 4096
/**
 * Longest name on the wire. Deliberately above Linux's 255-byte NAME_MAX: NTFS allows 255 UTF-16
 * units (up to 765 UTF-8 bytes), and a name this device cannot create must be its own per-file
 * problem, not a reason to refuse the peer's whole manifest.
 */
export const MAX_SEGMENT_BYTES = 1024
/** The marker/metadata directory at a folder root; never synced. */
export const MARKER_SEGMENT = '.lansync'
/** Prefix of the temp files written beside a target while applying; never synced. */
export const TEMP_SEGMENT_PREFIX = '.lansync-tmp-'

// C0 controls (NUL included) and unpaired UTF-16 surrogates, which have no UTF-8 form.
const CONTROL = /[\u0000-\u001f]/
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/

/**
 * The wire form of a path: NFC, relative, '/'-separated. Throws PATH_INVALID naming the problem
 * for an empty or absolute path, '.', '..' or empty segments, a backslash, a control character,
 * a segment over 255 or a path over 4096 UTF-8 bytes, or a path inside our marker directory or
 * naming one of our temp files (both compared case-insensitively: they would be ours on a
 * case-insensitive file system too).
 */
export function normaliseWirePath (p: string): string {
  if (typeof p !== 'string') throw new TypeError('a path must be a string')
  if (p === '') throw invalid(p, 'is empty')
  // Printable ASCII without a backslash (nearly every path) has no control character or
  // surrogate, is its own NFC form and has a byte per character: the checks below that a path of
  // other characters needs (two regular expressions, normalize, byte counts) are skipped. Every
  // received record's path is checked here, and a received file's path is joined several times.
  const isPlain = isPlainAscii(p)
  if (!isPlain) {
    if (CONTROL.test(p)) throw invalid(p, p.includes('\u0000') ? 'contains a NUL character' : 'contains a control character')
    if (LONE_SURROGATE.test(p)) throw invalid(p, 'contains an unpaired surrogate (not valid Unicode)')
    if (p.includes('\\')) throw invalid(p, 'contains a backslash')
  }
  if (p.startsWith('/')) throw invalid(p, 'is absolute')
  const path = isPlain ? p : p.normalize('NFC')
  if (utf8Length(path, isPlain) > MAX_PATH_BYTES) throw invalid(p, `is longer than ${MAX_PATH_BYTES} bytes`)
  const segments = path.split('/')
  for (let i = 0; i < segments.length; i++) {
    const segment = segments[i]
    if (segment === '') throw invalid(p, i === segments.length - 1 ? 'ends with /' : 'has an empty segment')
    if (segment === '.' || segment === '..') throw invalid(p, `has a '${segment}' segment`)
    if (utf8Length(segment, isPlain) > MAX_SEGMENT_BYTES) throw invalid(p, `has a name longer than ${MAX_SEGMENT_BYTES} bytes`)
    // Both reserved names start with '.', and only '.' lower-cases to '.'.
    if (segment.charCodeAt(0) !== DOT) continue
    const lower = segment.toLowerCase()
    if (i === 0 && lower === MARKER_SEGMENT) throw invalid(p, `is inside the ${MARKER_SEGMENT} directory, which is never synced`)
    if (lower.startsWith(TEMP_SEGMENT_PREFIX)) throw invalid(p, `names a ${TEMP_SEGMENT_PREFIX} temp file, which is never synced`)
  }
  return path
}

const DOT = 0x2e
const BACKSLASH = 0x5c

/** Bytes of `text` in UTF-8; `isAscii`: it is known to be ASCII, a byte per character. */
function utf8Length (text: string, isAscii: boolean): number {
  return isAscii ? text.length : Buffer.byteLength(text, 'utf8')
}

/** Whether every character of `text` is printable ASCII (space to '~') other than a backslash. */
function isPlainAscii (text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    if (c < 0x20 || c > 0x7e || c === BACKSLASH) return false
  }
  return true
}

/** The wire form of a path relative to a folder root as the OS gives it (OS separators, any form). */
export function toWirePath (relativeOsPath: string): string {
  return normaliseWirePath(sep === '/' ? relativeOsPath : relativeOsPath.split(sep).join('/'))
}

/**
 * Whether `absolutePath` is `root` or below it, lexically (symlinks are not resolved: this module
 * does no I/O). Both must be absolute.
 */
export function isInsideFolder (root: string, absolutePath: string): boolean {
  assertAbsolute(root, 'folder root')
  assertAbsolute(absolutePath, 'path')
  const rel = relative(resolve(root), resolve(absolutePath))
  return rel === '' || (rel !== '..' && !rel.startsWith('..' + sep) && !isAbsolute(rel))
}

/**
 * The absolute OS path of `wirePath` inside the folder at `root` (absolute). Validates the wire
 * path and asserts the result is strictly below `root` (PATH_NOT_IN_FOLDER otherwise). Lexical
 * only: a caller writing there must still not follow a symlink in a parent directory.
 */
export function joinFolderPath (root: string, wirePath: string): string {
  assertAbsolute(root, 'folder root')
  const path = normaliseWirePath(wirePath)
  // A wire path's segments are never empty, '.' or '..' and hold no separator, so with '/' as the
  // OS separator the join is already the resolved path: no resolve() and relative() per call
  // (a received small file's paths are joined several times each).
  if (sep === '/') {
    const base = resolvedRoot(root)
    return base === '/' ? `/${path}` : `${base}/${path}`
  }
  const full = resolve(root, ...path.split('/'))
  if (full === resolve(root) || !isInsideFolder(root, full)) {
    throw new LansyncError('PATH_NOT_IN_FOLDER', `path ${JSON.stringify(path)} resolves to ${full}, outside the folder ${root}`)
  }
  return full
}

let lastRoot: string | undefined
let lastResolvedRoot = ''

/** resolve(root), remembered for the last root asked (one folder's paths come in runs). */
function resolvedRoot (root: string): string {
  if (root !== lastRoot) {
    lastResolvedRoot = resolve(root)
    lastRoot = root
  }
  return lastResolvedRoot
}

function assertAbsolute (p: string, what: string): void {
  if (typeof p !== 'string' || !isAbsolute(p)) throw new TypeError(`${what} must be an absolute path, got ${String(p)}`)
}

function invalid (p: string, problem: string): LansyncError {
  // A hostile path can be megabytes long; the message quotes only its start.
  const shown = p.length > 200 ? `${p.slice(0, 200)}…` : p
  return new LansyncError('PATH_INVALID', `path ${JSON.stringify(shown)} ${problem}`)
}
