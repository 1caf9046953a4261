// Turns filesystem events into batches of touched relative paths: a batch is
// released once the folder has been quiet for `quietMs`, or `maxDelayMs` after its first event,
// so a storm of events becomes a few rescans and a single edit is picked up within a quarter second.
// The quiet period is long enough that the unlink and add of one rename (often 50-150 ms apart)
// land in one batch: the scan then sees a rename, not an add (rehashing the whole file) followed
// by a delete.
//
// chokidar watches directories only (one inotify watch each): files are passed to it as ignored,
// and their changes come from their directory's watch, by name, as chokidar's raw events. Letting
// chokidar watch each file too costs an inotify watch and some 10 KiB of memory per file: 50,000
// files took over half a GiB, and a big tree runs into the per-user inotify limit
// (fs.inotify.max_user_watches, 8192 on older kernels), after which changes go unseen. chokidar
// still follows the tree: a directory made or moved in is watched, and its path is touched, so the
// scan of it that follows finds whatever was written before its watch began.
//
// A burst of more events than the kernel queues (fs.inotify.max_queued_events, 16384 by default)
// may overflow that queue, and libuv drops the overflow notice silently: after more than half that
// many events between two batches (2 s at most), the quiet batch that ends the burst asks for a
// scan of the whole folder, which finds whatever was lost (the index trusts size, mtime and inode,
// so an unchanged file costs a stat).
import { EventEmitter } from 'node:events'
import { readFileSync } from 'node:fs'
import { join, relative, sep } from 'node:path'
import { watch, type FSWatcher } from 'chokidar'
import { LOCAL_IGNORE_FILE, isAlwaysIgnored } from './ignore-rules.js'
import { MARKER_DIR } from '../config.js'

/** A path written without pause is still scanned this often: a log appended to for ever syncs too. */
const MAX_HOLD_MS = 20_000

/** Events between two batches after which the whole folder is scanned: half the kernel's queue. */
function defaultBurstEvents (): number {
  try {
    const queued = Number(readFileSync('/proc/sys/fs/inotify/max_queued_events', 'utf8').trim())
    if (Number.isInteger(queued) && queued > 0) return Math.floor(queued / 2)
  } catch {} // not Linux, or no /proc
  return 8192
}

interface WatcherEvents {
  batch: [string[]]
  error: [Error]
  ready: []
}

export interface FolderWatcherOptions {
  root: string
  quietMs?: number
  maxDelayMs?: number
  /** Events between two batches beyond which the next quiet batch asks for a scan of everything (''). */
  burstEvents?: number
}

export class FolderWatcher extends EventEmitter<WatcherEvents> {
  private readonly root: string
  private readonly quietMs: number
  private readonly maxDelayMs: number
  private readonly burstEvents: number
  private watcher: FSWatcher | undefined
  private isClosed = false
  private isLimitReported = false
  /** Events since the last batch, and whether a burst since the last quiet batch may have overflowed the kernel's queue. */
  private windowEvents = 0
  private isFullScanDue = false
  /** Paths with events since the last batch: when the first and the last event came. */
  private readonly touched = new Map<string, { firstMs: number, lastMs: number }>()
  private quietTimer: NodeJS.Timeout | undefined
  private maxTimer: NodeJS.Timeout | undefined

  constructor ({ root, quietMs = 250, maxDelayMs = 2000, burstEvents = defaultBurstEvents() }: FolderWatcherOptions) {
    super()
    this.root = root
    this.quietMs = quietMs
    this.maxDelayMs = maxDelayMs
    this.burstEvents = burstEvents
  }

  /** Watches the root and every directory below it (resolves once all are watched). */
  async ready (): Promise<void> {
    if (this.watcher !== undefined) return
    const watcher = watch(this.root, {
      ignoreInitial: true,
      persistent: true,
      followSymlinks: false,
      // Directories only (see the top of this file); never our metadata or temp files, but the
      // marker dir is, for the local ignore rules in it.
      ignored: (path: string, stats?: { isDirectory: () => boolean }) => {
        const rel = this.toRelative(path)
        if (rel === '' || rel === MARKER_DIR) return false
        if (this.isIgnored(rel)) return true
        return stats !== undefined && !stats.isDirectory()
      }
    })
    this.watcher = watcher
    // A file's change, by name, from its directory's watch.
    watcher.on('raw', (_event, name, details) => this.onRaw(name, (details as { watchedPath?: string } | undefined)?.watchedPath))
    // A directory made or removed (chokidar has started or stopped watching it).
    watcher.on('all', (_event, path) => { if (!this.isClosed) this.touch(this.toRelative(path)) })
    watcher.on('error', err => this.onWatchError(err as NodeJS.ErrnoException))
    await new Promise<void>(resolve => watcher.once('ready', () => resolve()))
    this.emit('ready')
  }

  async close (): Promise<void> {
    this.isClosed = true
    clearTimeout(this.quietTimer)
    clearTimeout(this.maxTimer)
    const watcher = this.watcher
    this.watcher = undefined
    if (watcher !== undefined) await watcher.close()
  }

  /** How many directories are watched (for tests and status). */
  get watchedDirs (): number {
    const watched = this.watcher?.getWatched() ?? {}
    // chokidar lists each watched directory with its children; the root's parent appears too.
    return Object.keys(watched).filter(dir => dir === this.root || dir.startsWith(this.root + sep)).length
  }

  /**
   * Our own metadata and temp files never trigger a rescan; the marker dir (gone: so is the disk)
   * and the local ignore rules in it do.
   */
  private isIgnored (rel: string): boolean {
    return rel !== '' && rel !== MARKER_DIR && rel !== LOCAL_IGNORE_FILE && isAlwaysIgnored(rel)
  }

  private toRelative (path: string): string {
    const rel = relative(this.root, path)
    return sep === '/' ? rel : rel.split(sep).join('/')
  }

  private onRaw (name: unknown, watchedPath: string | undefined): void {
    if (this.isClosed || watchedPath === undefined) return
    const dir = this.toRelative(watchedPath)
    if (dir.startsWith('..')) return
    // No name: something in the directory changed, which is not said: scan it.
    if (typeof name !== 'string' || name === '') { this.touch(dir); return }
    const rel = this.toRelative(join(watchedPath, name))
    if (rel.startsWith('..') || this.isIgnored(rel)) return
    this.touch(rel)
  }

  private onWatchError (err: NodeJS.ErrnoException): void {
    if (err.code === 'ENOSPC') {
      // The per-user inotify limit: say so once, with the fix (changes in unwatched directories go unseen).
      if (this.isLimitReported) return
      this.isLimitReported = true
      this.emit('error', new Error(`cannot watch all of ${this.root}: the system's limit of inotify watches is reached (raise fs.inotify.max_user_watches); changes there are seen only by a full scan (lansync rescan, or a restart)`))
      return
    }
    this.emit('error', err)
  }

  private touch (path: string): void {
    if (this.isClosed) return
    this.windowEvents += 1
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
   * The quiet batch that ends a burst too big for the kernel's queue asks for the whole folder.
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
    if (this.windowEvents > this.burstEvents) this.isFullScanDue = true
    this.windowEvents = 0
    if (!isDeadline && this.isFullScanDue) {
      batch.push('')
      this.isFullScanDue = false
    }
    if (this.touched.size > 0) this.maxTimer = setTimeout(() => this.release(true), this.maxDelayMs)
    if (batch.length > 0) this.emit('batch', batch)
  }
}
