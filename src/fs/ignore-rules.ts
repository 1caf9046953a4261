// Reads a folder's ignore rules from disk: the shared `.lansyncignore` at the folder root (a
// normal synced file: a rule written on one device applies on all) and the local-only
// `.lansync/ignore` inside the marker dir (never synced). Matching lives in core/ignore-match.ts.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { MARKER_DIR } from '../config.js'
import { IgnoreMatcher, type IgnoreVerdict, type RuleSource } from '../core/ignore-match.js'

export const IGNORE_FILE = '.lansyncignore'
/** The local-only rules, relative to the folder root (inside the marker dir, which is never synced). */
export const LOCAL_IGNORE_FILE = `${MARKER_DIR}/ignore`
export const TEMP_PREFIX = '.lansync-tmp-'

const BUILT_IN = { markerDir: MARKER_DIR, tempPrefix: TEMP_PREFIX }

export class IgnoreRules {
  private readonly root: string
  private matcher: IgnoreMatcher = new IgnoreMatcher([], BUILT_IN)
  private loadedText: string | undefined

  constructor (root: string) {
    this.root = root
    this.reload()
  }

  /**
   * Re-reads both rule files; true when the rules changed since the last read. Cheap (two small
   * reads): called before each scan and each batch of remote records.
   */
  reload (): boolean {
    const sources = readRuleSources(this.root)
    const text = JSON.stringify(sources)
    if (text === this.loadedText) return false
    const isFirst = this.loadedText === undefined
    this.loadedText = text
    this.matcher = new IgnoreMatcher(sources, BUILT_IN)
    return !isFirst
  }

  /** True when `path` (relative, '/'-separated; `isDir` for directories) is not synced. */
  isIgnored (path: string, isDir = false): boolean {
    return this.matcher.isIgnored(path, isDir)
  }

  explain (path: string, isDir = false): IgnoreVerdict {
    return this.matcher.explain(path, isDir)
  }
}

/** The shared and local rule files of a folder, as they are on disk now (a missing file has no rules). */
export function readRuleSources (root: string): RuleSource[] {
  const sources: RuleSource[] = []
  for (const [layer, file] of [['shared', IGNORE_FILE], ['local', LOCAL_IGNORE_FILE]] as const) {
    try { sources.push({ layer, file, text: readFileSync(join(root, file), 'utf8') }) } catch { /* missing or unreadable: no rules */ }
  }
  return sources
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
