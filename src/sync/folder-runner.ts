// Keeps one folder's index current: a full scan at start, then the watcher's batches of touched
// paths, one scan at a time. A folder whose marker is gone stops and says so, and is retried.
import { EventEmitter } from 'node:events'
import type { FolderConfig } from '../config.js'
import type { DeviceShort } from '../core/types.js'
import { isLansyncError } from '../errors.js'
import { Scanner, type ScanProblem, type ScanProgress, type ScanResult } from '../fs/scanner.js'
import { FolderWatcher } from '../fs/watcher.js'
import type { Change, Store, StoredRecord } from '../store/store.js'
import { ServableBlocks } from './servable-blocks.js'

export type FolderState = 'starting' | 'scanning' | 'idle' | 'stopped' | 'error'

/** A path this device could not scan or apply, as `status` lists it until that path next commits. */
export interface PathProblem extends ScanProblem { timeMs: number, source: 'scan' | 'sync' }

/** Problems kept per folder; beyond this the oldest are forgotten (the log still has them). */
const MAX_PROBLEMS = 1000

interface FolderRunnerEvents {
  /** Records this device changed (committed to the index); the sync layer announces them. */
  changed: [StoredRecord[]]
  scanned: [ScanResult]
  progress: [ScanProgress]
  problem: [ScanProblem]
  state: [FolderState, string | undefined]
}

export interface FolderRunnerOptions {
  folder: FolderConfig
  store: Store
  device: DeviceShort
  isWatching?: boolean
  retryMs?: number
}

export class FolderRunner extends EventEmitter<FolderRunnerEvents> {
  readonly folder: FolderConfig
  readonly scanner: Scanner
  readonly store: Store
  /** What peers may fetch from this folder (see ServableBlocks). */
  readonly servable: ServableBlocks
  private readonly watcher: FolderWatcher | undefined
  private readonly retryMs: number
  private queue: Promise<unknown> = Promise.resolve()
  private pendingPaths = new Set<string>()
  private isScanQueued = false
  private retryTimer: NodeJS.Timeout | undefined
  private isClosed = false
  state: FolderState = 'starting'
  stateReason: string | undefined
  lastScanMs = 0
  /** Current per-path problems, oldest first; a path leaves once a version of it is committed. */
  private readonly problems = new Map<string, PathProblem>()

  constructor ({ folder, store, device, isWatching = true, retryMs = 10_000 }: FolderRunnerOptions) {
    super()
    this.folder = folder
    this.store = store
    this.retryMs = retryMs
    // Temp files older than this process are left from writes a crash cut short (see Scanner).
    this.scanner = new Scanner({ folderId: folder.id, root: folder.path, store, device, staleTempsBeforeMs: Date.now() - process.uptime() * 1000 })
    this.scanner.on('progress', p => this.emit('progress', p))
    this.scanner.on('problem', p => this.reportProblem(p, 'scan'))
    this.servable = new ServableBlocks(store, folder.id)
    this.on('changed', records => {
      this.servable.forget(records.map(r => r.path))
      for (const r of records) this.problems.delete(r.path)
    })
    if (isWatching) {
      this.watcher = new FolderWatcher({ root: folder.path })
      this.watcher.on('batch', paths => { void this.scan(paths) })
      this.watcher.on('error', err => this.reportProblem({ path: '', code: 'WATCH_FAILED', message: err.message }, 'scan'))
    }
  }

  async start (): Promise<void> {
    await this.watcher?.ready()
    await this.scan([''])
  }

  /** Queues a scan of `paths` ('' = all). Scans run one at a time; queued paths are merged. */
  async scan (paths: Iterable<string>): Promise<void> {
    for (const p of paths) this.pendingPaths.add(p)
    if (this.isScanQueued) return await this.queue.then(() => {})
    this.isScanQueued = true
    this.queue = this.queue.then(async () => {
      this.isScanQueued = false
      const batch = this.pendingPaths
      this.pendingPaths = new Set()
      if (this.isClosed || batch.size === 0) return
      await this.runScan(batch)
    })
    await this.queue
  }

  /** Runs `work` when no scan is running, so index changes never interleave with a scan's. */
  async exclusive<T> (work: () => Promise<T>): Promise<T> {
    const run = this.queue.then(work)
    this.queue = run.catch(() => {})
    return await run
  }

  /**
   * Commits changes that did not come from a scan (remote versions, conflict resolutions) and
   * announces them like local ones, so they travel on to third devices. Call inside `exclusive`.
   */
  async commit (changes: Change[]): Promise<StoredRecord[]> {
    const stored = await this.store.commit(this.folder.id, changes)
    if (stored.length > 0) this.emit('changed', stored)
    return stored
  }

  /** Records and announces a per-path problem (a name this file system cannot hold, a denied write…). */
  reportProblem (problem: ScanProblem, source: PathProblem['source']): void {
    this.problems.delete(problem.path)
    this.problems.set(problem.path, { ...problem, timeMs: Date.now(), source })
    if (this.problems.size > MAX_PROBLEMS) this.problems.delete(this.problems.keys().next().value as string)
    this.emit('problem', problem)
  }

  problemList (): PathProblem[] { return [...this.problems.values()] }

  /** A scan problem under a rescanned path that this scan did not meet again is gone. */
  private forgetScanProblems (paths: Set<string>, result: ScanResult): void {
    const still = new Set(result.problems.map(p => p.path))
    const isUnder = (path: string): boolean => [...paths].some(p => p === '' || path === p || path.startsWith(p + '/'))
    for (const [path, problem] of this.problems) {
      if (problem.source === 'scan' && !still.has(path) && isUnder(path)) this.problems.delete(path)
    }
  }

  async close (): Promise<void> {
    this.isClosed = true
    clearTimeout(this.retryTimer)
    await this.watcher?.close()
    await this.queue.catch(() => {})
    this.setState('stopped')
  }

  private async runScan (paths: Set<string>): Promise<void> {
    this.setState('scanning')
    try {
      const result = await this.scanner.scanPaths(paths)
      this.forgetScanProblems(paths, result)
      this.lastScanMs = Date.now()
      this.setState('idle')
      this.emit('scanned', result)
      if (result.records.length > 0) this.emit('changed', result.records)
    } catch (err) {
      if (!isLansyncError(err)) throw err
      this.setState('error', err.message)
      // The disk may come back (remount): look again later, with a full scan.
      clearTimeout(this.retryTimer)
      if (!this.isClosed) this.retryTimer = setTimeout(() => { void this.scan(['']) }, this.retryMs)
    }
  }

  private setState (state: FolderState, reason?: string): void {
    if (this.state === state && this.stateReason === reason) return
    this.state = state
    this.stateReason = reason
    this.emit('state', state, reason)
  }
}
