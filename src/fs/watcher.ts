// Turns chokidar's stream of filesystem events into batches of touched relative paths: a batch is
// released once the folder has been quiet for `quietMs`, or `maxDelayMs` after its first event,
// so a storm of events becomes a few rescans and a single edit is picked up within a quarter second.
// The quiet period is long enough that chokidar's unlink and add of one rename (often 50-150 ms
// apart) land in one batch: the scan then sees a rename, not an add (rehashing the whole file)
// followed by a delete.
import { EventEmitter } from 'node:events'
import { relative, sep } from 'node:path'
import { watch, type FSWatcher } from 'chokidar'
import { isAlwaysIgnored } from './ignore-rules.js'

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
  private touched = new Set<string>()
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
      // Our own metadata and temp files never trigger a rescan.
      ignored: (path: string) => {
        const rel = this.toRelative(path)
        return rel !== '' && isAlwaysIgnored(rel)
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
    this.touched.add(path)
    clearTimeout(this.quietTimer)
    this.quietTimer = setTimeout(() => this.release(), this.quietMs)
    if (this.maxTimer === undefined) this.maxTimer = setTimeout(() => this.release(), this.maxDelayMs)
  }

  private release (): void {
    clearTimeout(this.quietTimer)
    clearTimeout(this.maxTimer)
    this.quietTimer = undefined
    this.maxTimer = undefined
    if (this.touched.size === 0) return
    const batch = [...this.touched]
    this.touched = new Set()
    this.emit('batch', batch)
  }
}
