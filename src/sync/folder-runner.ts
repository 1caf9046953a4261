// Keeps one folder's index current: a full scan at start, then the watcher's batches of touched
// paths, one scan at a time. A folder whose marker is gone stops (no scan, no remote change is
// applied) and says so, and starts again by itself when the marker is back. Remote deletes that
// the mass-delete guard holds pause the folder's deletes until a person resumes it.
import { EventEmitter } from 'node:events'
import { lstat, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { MARKER_DIR, type FolderConfig } from '../config.js'
import type { DeviceShort, FileRecord } from '../core/types.js'
import { isOutOfSync, mergeIgnored } from '../core/folder-type.js'
import { canBeMassDelete, isMassDelete, RECENT_DELETES_MS } from '../core/delete-guard.js'
import { LansyncError, isLansyncError } from '../errors.js'
import { IGNORE_FILE } from '../fs/ignore-rules.js'
import { Scanner, markerMissingMessage, type ScanProblem, type ScanProgress, type ScanResult } from '../fs/scanner.js'
import { FolderWatcher } from '../fs/watcher.js'
import { undoInterruptedPatch, type PatchJournal } from '../fs/patch.js'
import { assertRealParents } from '../fs/apply.js'
import { joinFolderPath } from '../core/paths.js'
import { isStoreWriteError, type Change, type Store, type StoredRecord } from '../store/store.js'
import { ServableBlocks } from './servable-blocks.js'
import { OwnWrites } from './own-writes.js'
import { Selection, isKnownNews } from '../core/selection.js'

/**
 * 'paused': remote deletes are held by the mass-delete guard (everything else syncs);
 * 'stopped': closed, or the folder's marker is missing (nothing is scanned or applied).
 */
export type FolderState = 'starting' | 'scanning' | 'idle' | 'paused' | 'stopped' | 'error'

/** A path this device could not scan or apply, as `status` lists it until that path next commits. */
export interface PathProblem extends ScanProblem { timeMs: number, source: 'scan' | 'sync' }

/** Problems kept per folder; beyond this the oldest are forgotten (the log still has them). */
const MAX_PROBLEMS = 1000

/** The records of a commit (by path) that hold a record just as `peer` sent it. */
export interface EchoOf { peer: string, paths: ReadonlySet<string> }

interface FolderRunnerEvents {
  /** Records this device changed (committed to the index); the sync layer announces them. */
  changed: [StoredRecord[], EchoOf?]
  scanned: [ScanResult]
  progress: [ScanProgress]
  problem: [ScanProblem]
  state: [FolderState, string | undefined]
  /** The selection or the ignore rules changed: paths known but not held may be held now. */
  heldChanged: []
}

export interface FolderRunnerOptions {
  folder: FolderConfig
  store: Store
  device: DeviceShort
  isWatching?: boolean
  /** How often a folder in error is scanned again. */
  retryMs?: number
  /** How often a folder whose marker is missing looks for it again (a stat: cheap). */
  markerPollMs?: number
  /** A device's name for people, from its short (who deleted what the guard holds). */
  deviceName?: (short: DeviceShort) => string
}

export class FolderRunner extends EventEmitter<FolderRunnerEvents> {
  private currentFolder: FolderConfig
  private selection: Selection
  /** Paths `lansync fetch` is bringing here: held while it runs, whatever the selection says. */
  readonly fetching = new Set<string>()
  /** Whether the store may hold known versions of paths not held here (skips a lookup per record when not). */
  private mayHaveKnown = true
  readonly scanner: Scanner
  readonly store: Store
  /** What peers may fetch from this folder (see ServableBlocks). */
  readonly servable: ServableBlocks
  private watcher: FolderWatcher | undefined
  private readonly isWatching: boolean
  private readonly retryMs: number
  private readonly markerPollMs: number
  private readonly deviceName: (short: DeviceShort) => string
  /** This device's short ID (version vectors). */
  readonly device: DeviceShort
  /** The state scans leave (idle, scanning, error); `state` may override it with paused or stopped. */
  private scanState: FolderState = 'starting'
  private scanReason: string | undefined
  private isMarkerMissing = false
  private markerWaiters: Array<() => void> = []
  private markerTimer: NodeJS.Timeout | undefined
  /** Remote tombstones held by the mass-delete guard (in the store), and who sent the last ones. */
  heldCount = 0
  /** Names of the devices that made the held deletes (a few; for the reason status shows). */
  private heldAuthors = new Set<string>()
  /** Remote deletes of files applied recently: [time, count], for the guard's window. */
  private recentDeletes: Array<[number, number]> = []
  private queue: Promise<unknown> = Promise.resolve()
  private pendingPaths = new Set<string>()
  /** Paths from the watcher waiting for the next scan: told from echoes of our own writes only when it runs. */
  private pendingWatched = new Set<string>()
  private isScanQueued = false
  private retryTimer: NodeJS.Timeout | undefined
  private isClosed = false
  lastScanMs = 0
  /** Current per-path problems, oldest first; a path leaves once a version of it is committed. */
  private readonly problems = new Map<string, PathProblem>()

  constructor ({ folder, store, device, isWatching = true, retryMs = 10_000, markerPollMs = 2000, deviceName = short => short }: FolderRunnerOptions) {
    super()
    this.deviceName = deviceName
    this.device = device
    this.currentFolder = folder
    this.selection = folderSelection(folder)
    this.store = store
    this.retryMs = retryMs
    this.markerPollMs = markerPollMs
    this.isWatching = isWatching
    // Temp files older than this process are left from writes a crash cut short (see Scanner).
    this.scanner = new Scanner({ folderId: folder.id, root: folder.path, store, device, staleTempsBeforeMs: Date.now() - process.uptime() * 1000, isSelected: (path, kind) => this.selection.isSelected(path, kind), isLocalOnly: () => this.folder.type === 'receiveonly' })
    this.scanner.on('progress', p => this.emit('progress', p))
    this.scanner.on('committed', records => this.emit('changed', records)) // announced batch by batch, as scans commit
    this.scanner.on('problem', p => this.reportProblem(p, 'scan'))
    this.servable = new ServableBlocks(store, folder.id)
    this.on('changed', records => {
      this.servable.forget(records.map(r => r.path))
      for (const r of records) this.problems.delete(r.path)
    })
  }

  /** Replaced on a config reload (settings such as maxDeleteShare, the selection); id and path never change. */
  get folder (): FolderConfig { return this.currentFolder }
  set folder (folder: FolderConfig) {
    this.currentFolder = folder
    const patterns = folder.selection ?? []
    if (JSON.stringify(patterns) === JSON.stringify(this.selection.patterns)) return
    this.selection = folderSelection(folder)
    this.emit('heldChanged')
  }

  // ---- what this device holds (ignore rules, selective sync) ------------------------------

  /**
   * Whether remote versions of `path` are applied here: not when the rules ignore it; else when
   * the selection holds it, a copy is here (`local`, live: synced before the selection, or
   * fetched), or `lansync fetch` is bringing it. A path not held is only known (see noteKnown).
   */
  isHeld (path: string, kind: FileRecord['kind'], local: FileRecord | undefined): boolean {
    if (this.scanner.ignore.isIgnored(path, kind === 'dir')) return false
    if (this.fetching.has(path) || this.selection.isSelected(path, kind)) return true
    return local !== undefined && !local.isDeleted
  }

  /** Re-reads the ignore rules (a peer may just have sent `.lansyncignore`); when they changed, everything is scanned again. */
  refreshRules (): void {
    if (!this.scanner.ignore.reload()) return
    this.emit('heldChanged')
    void this.scan([''])
  }

  /** Keeps remote versions of paths not held here, those that are news (nothing is written or announced). */
  async noteKnown (records: FileRecord[]): Promise<void> {
    const news = new Map<string, FileRecord>()
    for (const remote of records) {
      const [known, local] = await Promise.all([news.get(remote.path) ?? this.store.getKnown(this.folder.id, remote.path), this.store.getRecord(this.folder.id, remote.path)])
      if (isKnownNews(remote, known, local)) news.set(remote.path, remote)
    }
    if (news.size === 0) return
    this.mayHaveKnown = true
    await this.store.putKnown(this.folder.id, [...news.values()])
  }

  /** Drops the known version of `path` once the index holds it or a later one (applied, or resolved). */
  async dropKnownIfCovered (path: string): Promise<void> {
    if (!this.mayHaveKnown) return
    const known = await this.store.getKnown(this.folder.id, path)
    if (known === undefined) return
    const local = await this.store.getRecord(this.folder.id, path)
    if (local !== undefined && !isKnownNews(known, undefined, local)) await this.store.dropKnown(this.folder.id, [path])
  }

  /** Known versions of paths that are held now (after the selection widened, a rule was dropped, or for a fetch). */
  async heldKnown (): Promise<StoredRecord[]> {
    const out: StoredRecord[] = []
    let isAny = false
    for await (const known of this.store.knownRecords(this.folder.id)) {
      isAny = true
      const local = await this.store.getRecord(this.folder.id, known.path)
      if (this.isHeld(known.path, known.kind, local) && isKnownNews(known, undefined, local)) out.push(known)
    }
    this.mayHaveKnown = isAny
    return out
  }

  /** How many paths this device knows of and does not hold (for status). */
  async countKnown (): Promise<number> {
    let n = 0
    for await (const known of this.store.knownRecords(this.folder.id)) if (!known.isDeleted) n += 1
    return n
  }

  async start (): Promise<void> {
    await this.recountHeld()
    await this.settleType()
    await this.startWatcher()
    await this.scan([''])
  }

  /** A new watcher: after the folder's directory came back (remount) the old one watches nothing. */
  private async startWatcher (): Promise<void> {
    if (!this.isWatching || this.isClosed) return
    await this.watcher?.close()
    const watcher = new FolderWatcher({ root: this.folder.path })
    watcher.on('batch', paths => { void this.scanWatched(paths) })
    watcher.on('error', err => this.reportProblem({ path: '', code: 'WATCH_FAILED', message: err.message }, 'scan'))
    this.watcher = watcher
    await watcher.ready().catch(() => {})
  }

  /** Closed: pullers waiting for the marker give up. */
  get isStopped (): boolean { return this.isClosed }

  /** Stopped outranks everything; held deletes outrank scanning (a paused folder still scans). */
  get state (): FolderState {
    if (this.isClosed) return 'stopped'
    if (this.isMarkerMissing) return 'stopped'
    if (this.heldCount > 0 && this.scanState !== 'error') return 'paused'
    return this.scanState
  }

  get stateReason (): string | undefined {
    if (this.isClosed) return undefined
    if (this.isMarkerMissing) return markerMissingMessage(this.folder.path)
    if (this.heldCount > 0 && this.scanState !== 'error') {
      return `${this.heldCount} remote deletes from ${describeAuthors(this.heldAuthors)} held (more than ${Math.round(this.folder.maxDeleteShare * 100)}% of the folder at once); nothing was deleted: check, then run \`lansync folder resume ${this.folder.label}\``
    }
    return this.scanReason
  }

  // ---- folder marker ---------------------------------------------------------------------

  /** Whether the folder's marker is there now (a stat); when not, the folder stops until it is back. */
  async hasMarker (): Promise<boolean> {
    try {
      if ((await stat(join(this.folder.path, MARKER_DIR))).isDirectory()) return true
    } catch {}
    this.markMarkerMissing()
    return false
  }

  /** Resolves once the marker is back (or the runner closed). */
  async whenMarkerPresent (): Promise<void> {
    if (!this.isMarkerMissing || this.isClosed) return
    await new Promise<void>(resolve => this.markerWaiters.push(resolve))
  }

  private markMarkerMissing (): void {
    if (this.isMarkerMissing || this.isClosed) return
    this.isMarkerMissing = true
    this.emitState()
    this.pollMarker()
  }

  private pollMarker (): void {
    clearTimeout(this.markerTimer)
    if (this.isClosed) return
    this.markerTimer = setTimeout(() => {
      void stat(join(this.folder.path, MARKER_DIR)).then(s => s.isDirectory(), () => false).then(async isBack => {
        if (this.isClosed) return
        if (!isBack) { this.pollMarker(); return }
        await this.scan(['']) // runScan sees the marker back and starts the folder again
        if (this.isMarkerMissing) this.pollMarker()
      })
    }, this.markerPollMs)
  }

  /**
   * The marker is back (remounted): watch the directory that is there now, and let the pullers
   * waiting for it go on once the full scan that follows has recorded what the disk holds.
   * Called inside the scan queue, by runScan.
   */
  private async markerBack (): Promise<void> {
    clearTimeout(this.markerTimer)
    await this.startWatcher()
    this.isMarkerMissing = false
  }

  private releaseMarkerWaiters (): void {
    const waiters = this.markerWaiters
    this.markerWaiters = []
    for (const resolve of waiters) resolve()
  }

  // ---- mass-delete guard -----------------------------------------------------------------

  /**
   * Whether remote deletes of `fileDeletes` live files may be applied now. Not while deletes are
   * held already (they are confirmed together), nor when they are a mass delete.
   */
  async admitDeletes (fileDeletes: number): Promise<boolean> {
    if (this.heldCount > 0) return false
    if (fileDeletes === 0) return true
    const nowMs = Date.now()
    this.recentDeletes = this.recentDeletes.filter(([timeMs]) => nowMs - timeMs < RECENT_DELETES_MS)
    const recent = this.recentDeletes.reduce((n, [, count]) => n + count, 0)
    // Counting the folder's files may read the whole index: only when the deletes could matter.
    if (!canBeMassDelete(recent + fileDeletes, this.folder.maxDeleteShare)) return true
    const liveFiles = (await this.store.folderTotals(this.folder.id)).files
    return !isMassDelete({ liveFiles, recentDeletes: recent, batchDeletes: fileDeletes, maxShare: this.folder.maxDeleteShare })
  }

  /** A remote delete of a file was applied: it counts towards the guard's window. */
  noteRemoteDelete (): void { this.recentDeletes.push([Date.now(), 1]) }

  /** Keeps remote tombstones instead of applying them, and pauses the folder's deletes. */
  async holdDeletes (records: FileRecord[], from: string): Promise<void> {
    if (records.length === 0) return
    // Counted as they come (not by reading every held record again), so that holding a mass
    // delete of a big folder, 1000 records a batch, stays linear.
    let added = 0
    for (const r of records) if (!(await this.store.isHeld(this.folder.id, r.path))) added += 1
    await this.store.holdRecords(this.folder.id, records)
    this.heldCount += added
    for (const r of records) { if (this.heldAuthors.size > 3) break; this.heldAuthors.add(this.deviceName(r.modifiedBy)) }
    if (this.heldAuthors.size === 0) this.heldAuthors.add(from)
    this.emitState()
  }

  /** Drops held tombstones that were applied (those still equal to `applied`; newer ones stay). */
  async releaseHeld (applied: FileRecord[]): Promise<void> {
    const current = new Map<string, StoredRecord>()
    for await (const r of this.store.heldRecords(this.folder.id)) current.set(r.path, r)
    const done = applied.filter(r => JSON.stringify(current.get(r.path)?.vector) === JSON.stringify(r.vector)).map(r => r.path)
    await this.store.dropHeld(this.folder.id, done)
    this.recentDeletes = [] // a person confirmed these: they do not count against what follows
    await this.recountHeld()
    this.emitState()
  }

  /** Counts the held tombstones, and names who deleted them (the devices' names in the config). */
  private async recountHeld (): Promise<void> {
    let n = 0
    const authors = new Set<string>()
    for await (const r of this.store.heldRecords(this.folder.id)) {
      n += 1
      if (authors.size <= 3) authors.add(this.deviceName(r.modifiedBy))
    }
    this.heldCount = n
    this.heldAuthors = authors
  }


  // ---- folder types ----------------------------------------------------------------------

  /** New settings from a config reload; a changed type takes effect at once (see settleType). */
  async update (folder: FolderConfig): Promise<void> {
    const isTypeChanged = folder.type !== this.folder.type
    this.folder = folder
    if (isTypeChanged) await this.settleType()
  }

  /**
   * What a type change leaves behind (at a reload, or found at start after a change made while
   * the agent was off): a folder no longer receive-only sends its local changes (they become
   * ordinary changes, as in Syncthing); one no longer send-only forgets the remote records it
   * ignored and how far it read each peer, so peers send their manifests again and they are
   * applied under the new type.
   */
  private async settleType (): Promise<void> {
    const { id, type } = this.folder
    await this.exclusive(async () => {
      if (type !== 'receiveonly') {
        const released: Change[] = []
        for await (const { path } of this.store.localChanges(id)) {
          const record = await this.store.getRecord(id, path)
          if (record !== undefined) released.push({ record: { ...record, isLocalOnly: false } })
        }
        await this.commit(released)
      }
      if (type !== 'sendonly') {
        const paths: string[] = []
        for await (const r of this.store.ignoredRecords(id)) paths.push(r.path)
        if (paths.length > 0) {
          await this.store.dropIgnored(id, paths)
          await this.store.forgetPeerStates(id)
        }
      }
    })
  }

  /** Send-only: keeps a remote record this folder does not apply (merged with what it knew of the path). Call inside `exclusive`. */
  async ignoreRemote (remote: FileRecord): Promise<void> {
    const existing = await this.store.getIgnored(this.folder.id, remote.path)
    await this.store.putIgnored(this.folder.id, [mergeIgnored(existing, remote)])
  }

  /** Send-only: drops the kept remote record of `path` once this device's record caught up with it. Call inside `exclusive`. */
  async forgetCaughtUp (path: string): Promise<void> {
    const ignored = await this.store.getIgnored(this.folder.id, path)
    if (ignored === undefined) return
    if (!isOutOfSync(await this.store.getRecord(this.folder.id, path), ignored, this.device)) await this.store.dropIgnored(this.folder.id, [path])
  }

  /** Queues a scan of `paths` ('' = all). Scans run one at a time; queued paths are merged. */
  async scan (paths: Iterable<string>): Promise<void> {
    await this.queueScan(paths, this.pendingPaths)
  }

  /** Adds `paths` to `pending` and makes sure a scan is queued; resolves once that scan ran. */
  private async queueScan (paths: Iterable<string>, pending: Set<string>): Promise<void> {
    for (const p of paths) pending.add(p)
    if (this.isScanQueued) return await this.queue.then(() => {})
    this.isScanQueued = true
    this.queue = this.queue.then(async () => {
      this.isScanQueued = false
      const batch = this.pendingPaths
      const watched = this.pendingWatched
      this.pendingPaths = new Set()
      this.pendingWatched = new Set()
      if (this.isClosed) return
      for (const p of await this.ownWrites.withoutEchoes(this.folder.path, watched)) batch.add(p)
      if (batch.size === 0) return
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
   * `echoOf` names those that hold a record just as a peer sent it (see Puller.commit): the
   * manifest sender of that peer leaves them out.
   */
  async commit (changes: Change[], echoOf?: EchoOf): Promise<StoredRecord[]> {
    const stored = await this.store.commit(this.folder.id, changes)
    this.ownWrites.note(stored)
    if (stored.length > 0) this.emit('changed', stored, echoOf)
    return stored
  }

  /** Files this device wrote for peers: the watcher's echo of them is not scanned (see OwnWrites). */
  private readonly ownWrites = new OwnWrites()

  /**
   * A watcher batch: scanned, less the echoes of our own writes. Echoes are told apart when the
   * scan runs, in the folder's queue, not as the batch arrives: a received file's echo mostly came
   * while the group that wrote it was still being applied, before the commit that notes the write,
   * and was scanned for nothing (a 10,000-file first sync: 459 of 10,204 watched paths, 22 scans,
   * 0.94 s holding the folder's queue against the applies).
   */
  private async scanWatched (paths: Iterable<string>): Promise<void> {
    await this.queueScan(paths, this.pendingWatched)
  }

  /**
   * Remote versions put on disk whose commit then failed (the store could not write), by path:
   * recorded as they are (not as local edits) before the next scan or apply, if the disk still holds them.
   */
  private readonly unrecorded = new Map<string, Change>()

  noteUnrecorded (change: Change): void { this.unrecorded.set(change.record.path, change) }

  /** Commits the unrecorded versions the disk still holds (inode, size and mtime as applied). Call inside `exclusive` or a scan. */
  async recordUnrecorded (): Promise<void> {
    if (this.unrecorded.size === 0) return
    const changes: Change[] = []
    for (const [path, change] of this.unrecorded) {
      const r = change.record
      const s = await lstat(join(this.folder.path, path)).catch(() => undefined)
      if (s?.isFile() === true && s.size === r.sizeBytes && Math.floor(s.mtimeMs) === r.mtimeMs && s.ino === r.inode) changes.push(change)
    }
    await this.commit(changes)
    this.unrecorded.clear()
  }

  /** Where the puller notes patches in place under way (see fs/patch.ts), so that a crash during one is undone. */
  readonly patchJournal: PatchJournal = {
    begin: async (path, undo) => { this.openPatches.add(path); await this.store.putPatchUndo(this.folder.id, path, undo) },
    end: async (path) => { await this.store.dropPatchUndo(this.folder.id, path); this.openPatches.delete(path) }
  }

  /**
   * Patches begun and not ended in this run. Patches run inside `exclusive`, never during a scan,
   * so one still open when a scan starts failed half-way (its own undo failed too).
   */
  private readonly openPatches = new Set<string>()
  private hasUndonePatches = false

  /**
   * Before a scan: files a crash (or a failed write) left half-patched are put back as the index
   * knows them (the peer sends their new version again), so the scan does not take a mix of two
   * versions for a local edit. Looked for in the store before the first scan, then only after a
   * patch failed. Call inside a scan.
   */
  private async undoInterruptedPatches (): Promise<void> {
    if (this.hasUndonePatches && this.openPatches.size === 0) return
    const root = this.folder.path
    for await (const { path, undo } of this.store.patchUndos(this.folder.id)) {
      try {
        // A symlink put in place of a parent directory since: not followed, nothing written.
        const hasRealParents = await assertRealParents(root, path).then(() => true, () => false)
        const outcome = hasRealParents ? await undoInterruptedPatch(joinFolderPath(root, path), this.store, path, undo) : 'changed'
        if (outcome === 'changed') {
          this.reportProblem({ path, code: 'PATH_PATCH_INTERRUPTED', message: `${path} was being patched with a peer's version when the agent stopped, and was changed since: it is recorded as it is now` }, 'sync')
        }
        await this.store.dropPatchUndo(this.folder.id, path)
        this.openPatches.delete(path)
      } catch (err) {
        // Left for the next scan to try again; this one records what is there (both versions stay in history).
        this.reportProblem({ path, code: 'PATH_PATCH_INTERRUPTED', message: `${path} was left half-patched and could not be put back: ${(err as Error).message}` }, 'sync')
      }
    }
    this.hasUndonePatches = true
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
    if (this.isClosed) return
    this.isClosed = true
    clearTimeout(this.retryTimer)
    clearTimeout(this.markerTimer)
    this.releaseMarkerWaiters()
    this.scanner.stop()
    await this.watcher?.close()
    await this.queue.catch(() => {})
    this.emitState()
  }

  private async runScan (paths: Set<string>): Promise<void> {
    if (this.isMarkerMissing) {
      // Any scan (the marker poll's, a rescan) first checks that the marker is back, and then
      // scans everything: what changed while the disk was away is unknown.
      if (!(await stat(join(this.folder.path, MARKER_DIR)).then(s => s.isDirectory(), () => false))) return
      await this.markerBack()
      paths = new Set([''])
    }
    this.setScanState('scanning')
    try {
      await this.undoInterruptedPatches()
      await this.recordUnrecorded()
      const result = await this.scanner.scanPaths(paths)
      if (result.isRulesChanged) {
        this.emit('heldChanged')
        if (!paths.has('')) void this.scan([''])
      }
      this.forgetScanProblems(paths, result)
      this.lastScanMs = Date.now()
      this.setScanState('idle')
      this.emit('scanned', result)
      this.releaseMarkerWaiters()
    } catch (err) {
      if (!isLansyncError(err)) throw err
      if (err.code === 'SCAN_STOPPED') return // closing: the next start scans again
      if (err.code === 'FOLDER_MARKER_MISSING') {
        this.setScanState('idle')
        this.markMarkerMissing()
        return
      }
      this.setScanState('error', err.message)
      // The store cannot write: a problem of the whole folder (status lists it) until a full scan succeeds.
      if (isStoreWriteError(err)) this.reportProblem({ path: '', code: err.code, message: err.message }, 'scan')
      clearTimeout(this.retryTimer)
      if (!this.isClosed) this.retryTimer = setTimeout(() => { void this.scan(['']) }, this.retryMs)
    }
  }

  private setScanState (state: FolderState, reason?: string): void {
    this.scanState = state
    this.scanReason = reason
    this.emitState()
  }

  private lastEmitted = ''
  /** Emits `state` when what `state` and `stateReason` say changed. */
  private emitState (): void {
    const text = `${this.state}\0${this.stateReason ?? ''}`
    if (text === this.lastEmitted) return
    this.lastEmitted = text
    this.emit('state', this.state, this.stateReason)
  }
}

/** What a folder's `selection` holds on this device; the shared ignore rules always. */
export function folderSelection (folder: FolderConfig): Selection {
  return new Selection(folder.selection ?? [], { always: [IGNORE_FILE] })
}

/** Up to three device names, then "and others". */
function describeAuthors (names: Set<string>): string {
  const list = [...names]
  return list.length > 3 ? `${list.slice(0, 3).join(', ')} and others` : list.join(', ')
}

/** The error a puller meets when the marker vanished under it. */
export function markerMissingError (folderPath: string): LansyncError {
  return new LansyncError('FOLDER_MARKER_MISSING', markerMissingMessage(folderPath))
}
