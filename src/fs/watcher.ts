// Turns filesystem events into batches of touched relative paths: a batch is
// released once the folder has been quiet for `quietMs`, or `maxDelayMs` after its first event,
// so a storm of events becomes a few rescans and a single edit is picked up within a quarter second.
// A path whose last event is a name coming or going (a rename into place, a move, a delete) is
// complete as it stands, so it needs only `nameQuietMs` of quiet: a rename is picked up within
// some 50 ms. Both halves of a rename come from the kernel together (one inotify read), so they
// land in one batch: the scan then sees a rename, not an add (rehashing the whole file) followed
// by a delete. Content written in place ('change' events) waits the full `quietMs` after its last
// write, so a file still being written is not scanned between two of its writes.
//
// Only directories are watched (one fs.watch each, on Linux one inotify watch): a directory's
// watch reports every change of the files in it, by name. This replaces chokidar, which did not
// do this job well at our scale, measured two ways: watching each file (its default) costs an
// inotify watch and some 10 KiB of memory per file (50,000 files: 37,000 watches and 1.26 GiB, and
// a big tree runs into the per-user limit fs.inotify.max_user_watches, after which changes go
// unseen); watching directories only, it still re-reads and lstats a whole directory after each
// change in it, which is quadratic in the directory's size (3,000 files received into one
// directory: 228.9 s, against 17.8 s with this watcher). A directory that appears is watched
// before it is touched, so the scan of it that follows finds whatever was written before its
// watch began.
//
// A burst of more events than the kernel queues (fs.inotify.max_queued_events, 16384 by default)
// may overflow that queue, and libuv drops the overflow notice silently: after more than half that
// many events between two batches (2 s at most), the quiet batch that ends the burst asks for a
// scan of the whole folder, which finds whatever was lost (the index trusts size, mtime and inode,
// so an unchanged file costs a stat).
import { EventEmitter } from 'node:events'
import { watch, readFileSync, type FSWatcher } from 'node:fs'
import { readdir } from 'node:fs/promises'
import { join } from 'node:path'
import { lstatNow } from './lstat-now.js'
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
  /** Quiet enough for a batch whose paths last saw a name come or go (see the top of this file). */
  nameQuietMs?: number
  maxDelayMs?: number
  /** Events between two batches beyond which the next quiet batch asks for a scan of everything (''). */
  burstEvents?: number
}

interface WatchedDir { watcher: FSWatcher, inode: number }

export class FolderWatcher extends EventEmitter<WatcherEvents> {
  private readonly root: string
  private readonly quietMs: number
  private readonly nameQuietMs: number
  private readonly maxDelayMs: number
  private readonly burstEvents: number
  /** Watched directories by relative path ('' = the root). */
  private readonly dirs = new Map<string, WatchedDir>()
  private isStarted = false
  private isClosed = false
  private isLimitReported = false
  /** Events since the last batch, and whether a burst since the last quiet batch may have overflowed the kernel's queue. */
  private windowEvents = 0
  private isFullScanDue = false
  /** Paths with events since the last batch: when the first and the last event came, and whether the last one was a name's. */
  private readonly touched = new Map<string, { firstMs: number, lastMs: number, isNameEvent: boolean }>()
  /**
   * Whether the last event that arrived for a path was a name coming or going (fs.watch's
   * 'rename') rather than a write or an attribute change; unknown counts as a write.
   */
  private readonly isLastEventName = new Map<string, boolean>()
  /** When the folder will have been quiet long enough for every touched path (ms since the epoch). */
  private quietAtMs = 0
  private quietTimer: NodeJS.Timeout | undefined
  private maxTimer: NodeJS.Timeout | undefined

  constructor ({ root, quietMs = 250, nameQuietMs = Math.min(40, quietMs), maxDelayMs = 2000, burstEvents = defaultBurstEvents() }: FolderWatcherOptions) {
    super()
    this.root = root
    this.quietMs = quietMs
    this.nameQuietMs = nameQuietMs
    this.maxDelayMs = maxDelayMs
    this.burstEvents = burstEvents
  }

  /** Watches the root and every directory below it (resolves once all are watched). */
  async ready (): Promise<void> {
    if (this.isStarted) return
    this.isStarted = true
    await this.watchTree('')
    this.emit('ready')
  }

  async close (): Promise<void> {
    this.isClosed = true
    clearTimeout(this.quietTimer)
    clearTimeout(this.maxTimer)
    for (const { watcher } of this.dirs.values()) watcher.close()
    this.dirs.clear()
  }

  /** How many directories are watched (for tests and status). */
  get watchedDirs (): number { return this.dirs.size }

  /**
   * Our own metadata and temp files never trigger a rescan; the marker dir (gone: so is the disk)
   * and the local ignore rules in it do (so the marker dir is watched, and nothing below it).
   */
  private isIgnored (rel: string): boolean {
    return rel !== '' && rel !== MARKER_DIR && rel !== LOCAL_IGNORE_FILE && isAlwaysIgnored(rel)
  }

  /** Watches `rel` and the directories below it; what is not a directory (or is gone) is skipped. */
  private async watchTree (rel: string): Promise<void> {
    const pending = [rel]
    while (pending.length > 0 && !this.isClosed) {
      const dir = pending.pop() as string
      if (!(await this.watchDir(dir))) continue
      let names: string[]
      try {
        names = (await readdir(join(this.root, dir), { withFileTypes: true })).filter(e => e.isDirectory()).map(e => e.name)
      } catch { continue } // gone meanwhile: its parent's event says so
      for (const name of names) {
        const child = dir === '' ? name : `${dir}/${name}`
        if (!this.isIgnored(child) && !this.dirs.has(child)) pending.push(child)
      }
    }
  }

  /** Starts watching one directory; false when it is not one (any more) or cannot be watched. */
  private async watchDir (rel: string): Promise<boolean> {
    const full = join(this.root, rel)
    let inode: number
    try {
      const s = await lstatNow(full)
      if (!s.isDirectory()) return false
      inode = s.ino
    } catch { return false }
    if (this.isClosed) return false
    if (this.dirs.has(rel)) this.unwatchTree(rel) // replaced under the same name: the old watch follows the old directory
    let watcher: FSWatcher
    try {
      watcher = watch(full, { persistent: true }, (event, name) => this.onEvent(rel, event, name))
    } catch (err) {
      this.onWatchError(rel, err as NodeJS.ErrnoException)
      return false
    }
    watcher.on('error', err => { this.unwatchTree(rel); this.onWatchError(rel, err as NodeJS.ErrnoException) })
    this.dirs.set(rel, { watcher, inode })
    return true
  }

  /** Stops watching `rel` and everything below it. */
  private unwatchTree (rel: string): void {
    for (const [dir, { watcher }] of this.dirs) {
      if (rel === '' || dir === rel || dir.startsWith(rel + '/')) {
        watcher.close()
        this.dirs.delete(dir)
      }
    }
  }

  private onWatchError (rel: string, err: NodeJS.ErrnoException): void {
    if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return // gone: its parent's event says so
    if (err.code === 'ENOSPC') {
      // The per-user inotify limit: say so once, with the fix (changes under this directory go unseen).
      if (this.isLimitReported) return
      this.isLimitReported = true
      this.emit('error', new Error(`cannot watch ${rel === '' ? 'the folder' : rel}: the system's limit of inotify watches is reached (raise fs.inotify.max_user_watches); changes there are seen only by a full scan (lansync rescan, or a restart)`))
      return
    }
    this.emit('error', err)
  }

  private onEvent (dirRel: string, event: string, name: string | Buffer | null): void {
    if (this.isClosed) return
    // No name: something in the directory changed, which is not said: scan it.
    if (name === null || name === '') { this.isLastEventName.set(dirRel, false); this.touch(dirRel); return }
    const rel = dirRel === '' ? String(name) : `${dirRel}/${String(name)}`
    if (this.isIgnored(rel)) return
    // 'change' is new content or attributes; 'rename' is a name that came or went, maybe a directory's.
    // Which came last is decided here, as events arrive: a rename's touch waits for follow().
    this.isLastEventName.set(rel, event === 'rename')
    if (event !== 'rename') { this.touch(rel); return }
    void this.follow(rel).finally(() => this.touch(rel))
  }

  /**
   * A directory that appeared under `rel` (made, moved in) is watched with everything below it
   * before its path is touched; one that went (or was replaced) stops being watched.
   */
  private async follow (rel: string): Promise<void> {
    const watched = this.dirs.get(rel)
    const s = await lstatNow(join(this.root, rel)).catch(() => undefined)
    if (this.isClosed) return
    if (s?.isDirectory() === true) {
      if (watched === undefined || watched.inode !== s.ino) await this.watchTree(rel)
    } else if (watched !== undefined) {
      this.unwatchTree(rel)
    }
  }

  private touch (path: string): void {
    if (this.isClosed) return
    this.windowEvents += 1
    const nowMs = Date.now()
    const seen = this.touched.get(path)
    const entry = { firstMs: seen?.firstMs ?? nowMs, lastMs: nowMs, isNameEvent: this.isLastEventName.get(path) ?? false }
    this.touched.set(path, entry)
    // The batch waits for the path that needs the longest quiet: an event never brings it forward.
    this.quietAtMs = Math.max(this.quietAtMs, nowMs + this.quietFor(entry))
    clearTimeout(this.quietTimer)
    this.quietTimer = setTimeout(() => this.release(), this.quietAtMs - nowMs)
    if (this.maxTimer === undefined) this.maxTimer = setTimeout(() => this.release(true), this.maxDelayMs)
  }

  private quietFor (entry: { isNameEvent: boolean }): number {
    return entry.isNameEvent ? this.nameQuietMs : this.quietMs
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
    this.quietAtMs = 0
    if (this.touched.size === 0) return
    const nowMs = Date.now()
    const batch: string[] = []
    for (const [path, entry] of this.touched) {
      if (isDeadline && nowMs - entry.lastMs < this.quietFor(entry) && nowMs - entry.firstMs < MAX_HOLD_MS) continue
      batch.push(path)
      this.touched.delete(path)
      this.isLastEventName.delete(path)
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
