// Turns chokidar's stream of filesystem events into batches of touched relative paths: a batch is
// released once the folder has been quiet for `quietMs`, or `maxDelayMs` after its first event,
// so a storm of events becomes a few rescans and a single edit is picked up within a quarter second.
// The quiet period is long enough that chokidar's unlink and add of one rename (often 50-150 ms
// apart) land in one batch: the scan then sees a rename, not an add (rehashing the whole file)
// followed by a delete.
import { EventEmitter } from 'node:events'
import { relative, sep } from 'node:path'
import { watch, type FSWatcher } from 'chokidar'
import { LOCAL_IGNORE_FILE, isAlwaysIgnored } from './ignore-rules.js'
import { MARKER_DIR } from '../config.js'

/** A path written without pause is still scanned this often: a log appended to for ever syncs too. */
const MAX_HOLD_MS = 20_000

interface WatcherEvents {
  batch: [string[]]
  error: [Error]
  ready: []
}

export interface FolderWatcherOptions {
  root: string
  quietMs?: number
  maxDelayMs?: number
}

export class FolderWatcher extends EventEmitter<WatcherEvents> {
  private readonly root: string
  private readonly quietMs: number
  private readonly maxDelayMs: number
  private watcher: FSWatcher | undefined
  /** Paths with events since the last batch: when the first and the last event came. */
  private readonly touched = new Map<string, { firstMs: number, lastMs: number }>()
  private quietTimer: NodeJS.Timeout | undefined
  private maxTimer: NodeJS.Timeout | undefined

  constructor ({ root, quietMs = 250, maxDelayMs = 2000 }: FolderWatcherOptions) {
    super()
    this.root = root
    this.quietMs = quietMs
    this.maxDelayMs = maxDelayMs
  }

  async ready (): Promise<void> {
    if (this.watcher !== undefined) return
    const watcher = watch(this.root, {
      ignoreInitial: true,
      persistent: true,
      followSymlinks: false,
      // Our own metadata and temp files never trigger a rescan; the local ignore rules do (the
      // scan that follows re-reads them).
      ignored: (path: string) => {
        const rel = this.toRelative(path)
        return rel !== '' && rel !== MARKER_DIR && rel !== LOCAL_IGNORE_FILE && isAlwaysIgnored(rel)
      }
    })
    this.watcher = watcher
    watcher.on('all', (_event, path) => this.touch(this.toRelative(path)))
    watcher.on('error', err => this.emit('error', err as Error))
    await new Promise<void>(resolve => watcher.once('ready', () => resolve()))
    this.emit('ready')
  }

  async close (): Promise<void> {
    clearTimeout(this.quietTimer)
    clearTimeout(this.maxTimer)
    const watcher = this.watcher
    this.watcher = undefined
    if (watcher !== undefined) await watcher.close()
  }

  private toRelative (path: string): string {
    const rel = relative(this.root, path)
    return sep === '/' ? rel : rel.split(sep).join('/')
  }

  private touch (path: string): void {
    const nowMs = Date.now()
    const seen = this.touched.get(path)
    this.touched.set(path, { firstMs: seen?.firstMs ?? nowMs, lastMs: nowMs })
    clearTimeout(this.quietTimer)
    this.quietTimer = setTimeout(() => this.release(), this.quietMs)
    if (this.maxTimer === undefined) this.maxTimer = setTimeout(() => this.release(true), this.maxDelayMs)
  }

  /**
   * Hands the touched paths to the scanner. At the deadline (`isDeadline`) other events are still
   * coming: paths quiet for `quietMs` go, but a path still being written stays for the next batch
   * (up to MAX_HOLD_MS), so that a scan does not record the state of a file halfway through a
   * rewrite or a long copy (an empty file just after truncation, say) and send it to every device.
   */
  private release (isDeadline = false): void {
    clearTimeout(this.quietTimer)
    clearTimeout(this.maxTimer)
    this.quietTimer = undefined
    this.maxTimer = undefined
    if (this.touched.size === 0) return
    const nowMs = Date.now()
    const batch: string[] = []
    for (const [path, { firstMs, lastMs }] of this.touched) {
      if (isDeadline && nowMs - lastMs < this.quietMs && nowMs - firstMs < MAX_HOLD_MS) continue
      batch.push(path)
      this.touched.delete(path)
    }
    if (this.touched.size > 0) this.maxTimer = setTimeout(() => this.release(true), this.maxDelayMs)
    if (batch.length > 0) this.emit('batch', batch)
  }
}
