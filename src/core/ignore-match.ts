// Which paths of a folder are not synced, from layers of gitignore rules: built-in (our own
// metadata and temp files, always), then the shared `.lansyncignore`, then the device's local-only
// rules. Later rules win, across layers too (a local `!x` re-includes what a shared `x` ignored),
// except that nothing under an ignored directory can be re-included (gitignore's own rule).
// Pure: the caller reads the rule files; matching is the `ignore` package (no I/O).
import ignore, { type Ignore } from 'ignore'

export type IgnoreLayer = 'built-in' | 'shared' | 'local'

/** One rule file's text and where it came from (for people: `why` names the file and line). */
export interface RuleSource { layer: 'shared' | 'local', file: string, text: string }

/** Why a path is (or is not) ignored: the deciding rule, if any. */
export interface IgnoreVerdict {
  isIgnored: boolean
  /** The rule that decided; undefined when no rule matches (not ignored). */
  layer?: IgnoreLayer
  /** Rule file (as the source named it), or a description for built-in rules. */
  file?: string
  /** 1-based line in `file`; 0 for built-in rules. */
  line?: number
  pattern?: string
  /** The deciding rule is a `!` rule that re-includes the path. */
  isNegation?: boolean
  /** The path is ignored because this ancestor directory is (its rule is the one above). */
  viaDirectory?: string
}

export interface BuiltInNames { markerDir: string, tempPrefix: string }

interface Mark { layer: 'shared' | 'local', file: string, line: number, pattern: string }

/**
 * Lookups after which the matcher is built afresh. The `ignore` package caches the verdict on every
 * path it is asked about (and each of its ancestors) for as long as the matcher lives: with
 * 100,000 files that was 19 MiB held by an agent between scans. Rebuilding drops the cache; the
 * rules compile again in microseconds, and a walk in path order loses little of what it reuses
 * (the verdicts on the directories it is in).
 */
const LOOKUPS_PER_MATCHER = 4096

export class IgnoreMatcher {
  private matcher: Ignore
  private lookups = 0
  private readonly marks: Mark[] = []
  private readonly builtIn: BuiltInNames

  constructor (sources: RuleSource[], builtIn: BuiltInNames) {
    this.builtIn = builtIn
    for (const source of sources) {
      const lines = source.text.split(/\r?\n/)
      for (let i = 0; i < lines.length; i++) {
        const pattern = lines[i]
        if (pattern.trim() === '' || pattern.startsWith('#')) continue
        this.marks.push({ layer: source.layer, file: source.file, line: i + 1, pattern })
      }
    }
    this.matcher = this.build()
  }

  private build (): Ignore {
    const matcher = ignore()
    this.marks.forEach(({ pattern }, i) => matcher.add({ pattern, mark: String(i) }))
    return matcher
  }

  /** The matcher, built afresh every LOOKUPS_PER_MATCHER lookups (its cache only grows). */
  private fresh (): Ignore {
    this.lookups += 1
    if (this.lookups > LOOKUPS_PER_MATCHER) {
      this.matcher = this.build()
      this.lookups = 1
    }
    return this.matcher
  }

  /** The built-in rule that ignores `path`, if any: our marker dir and our temp files. */
  builtInRule (path: string): string | undefined {
    const { markerDir, tempPrefix } = this.builtIn
    if (path === markerDir || path.startsWith(markerDir + '/')) return `${markerDir}/ (the folder's marker and local settings)`
    if (path.slice(path.lastIndexOf('/') + 1).startsWith(tempPrefix)) return `${tempPrefix}* (a write in progress)`
    return undefined
  }

  /** True when `path` (relative, '/'-separated; `isDir` for directories) is not synced. */
  isIgnored (path: string, isDir = false): boolean {
    if (this.builtInRule(path) !== undefined) return true
    if (path === '' || this.marks.length === 0) return false // no rule files: nothing to match (or cache)
    return this.fresh().ignores(isDir ? path + '/' : path)
  }

  /** The verdict on `path` and the rule that decides it, as `git check-ignore -v` would name it. */
  explain (path: string, isDir = false): IgnoreVerdict {
    const builtIn = this.builtInRule(path)
    if (builtIn !== undefined) return { isIgnored: true, layer: 'built-in', file: '(built in)', line: 0, pattern: builtIn }
    if (path === '') return { isIgnored: false }
    const target = isDir ? path + '/' : path
    const result = this.fresh().test(target)
    if (result.ignored) {
      const mark = this.marks[Number(result.rule?.mark)]
      const verdict: IgnoreVerdict = { isIgnored: true, ...describe(mark), isNegation: false }
      const via = this.ignoredAncestor(path)
      if (via !== undefined) verdict.viaDirectory = via
      return verdict
    }
    // Not ignored: name the `!` rule that re-included it, if one matched the path itself.
    if (result.unignored) {
      for (let i = this.marks.length - 1; i >= 0; i--) {
        const mark = this.marks[i]
        if (!mark.pattern.startsWith('!')) continue
        if (ignore().add(mark.pattern).test(target).unignored) return { isIgnored: false, ...describe(mark), isNegation: true }
      }
    }
    return { isIgnored: false }
  }

  /** The nearest ancestor directory of `path` that the rules ignore, if any. */
  private ignoredAncestor (path: string): string | undefined {
    const parts = path.split('/')
    for (let n = 1; n < parts.length; n++) {
      const dir = parts.slice(0, n).join('/')
      if (this.matcher.ignores(dir + '/')) return dir
    }
    return undefined
  }
}

function describe (mark: Mark | undefined): Pick<IgnoreVerdict, 'layer' | 'file' | 'line' | 'pattern'> {
  if (mark === undefined) return {}
  return { layer: mark.layer, file: mark.file, line: mark.line, pattern: mark.pattern }
}
