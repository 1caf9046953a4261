// Which paths of a folder are not synced: the `.lansyncignore` file at the folder root (gitignore
// syntax, matched by the `ignore` package) plus our own metadata dir and temp files, always.
import { readFileSync, statSync } from 'node:fs'
import { join } from 'node:path'
import ignore, { type Ignore } from 'ignore'
import { MARKER_DIR } from '../config.js'

export const IGNORE_FILE = '.lansyncignore'
export const TEMP_PREFIX = '.lansync-tmp-'

export class IgnoreRules {
  private readonly root: string
  private matcher: Ignore = ignore()
  private loadedMtimeMs = -1

  constructor (root: string) {
    this.root = root
    this.reload()
  }

  /** Re-reads `.lansyncignore` if it changed since the last read. Cheap to call before each scan. */
  reload (): void {
    const file = join(this.root, IGNORE_FILE)
    let mtimeMs = 0
    try { mtimeMs = statSync(file).mtimeMs } catch { mtimeMs = 0 }
    if (mtimeMs === this.loadedMtimeMs) return
    this.loadedMtimeMs = mtimeMs
    this.matcher = ignore()
    if (mtimeMs !== 0) {
      try { this.matcher.add(readFileSync(file, 'utf8')) } catch { /* unreadable: no user rules */ }
    }
  }

  /** True when `path` (relative, '/'-separated; `isDir` for directories) is not synced. */
  isIgnored (path: string, isDir = false): boolean {
    if (isAlwaysIgnored(path)) return true
    return this.matcher.ignores(isDir ? path + '/' : path)
  }
}

/** Our own files, never synced whatever the rules say. */
export function isAlwaysIgnored (path: string): boolean {
  if (path === MARKER_DIR || path.startsWith(MARKER_DIR + '/')) return true
  return isTempFile(path)
}

/** Whether a path names one of our temp files (a write in progress, or one cut short). */
export function isTempFile (path: string): boolean {
  return path.slice(path.lastIndexOf('/') + 1).startsWith(TEMP_PREFIX)
}
