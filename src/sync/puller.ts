// Brings one folder up to date with what one peer announced: plans each batch of remote records
// against the index, fetches only the blocks the block store lacks (so renames, copies and old
// versions cost nothing), and applies each action atomically inside the folder's write queue.
import { dirname } from 'node:path'
import { contentToFetch, isCopyNeeded, type Action } from '../core/plan.js'
import { decideRemote } from '../core/folder-type.js'
import { vectorsEqual } from '../core/clock.js'
import type { BlockRef, FileRecord } from '../core/types.js'
import { hex, totalBlockBytes } from '../core/bytes.js'
import { pickDeltaBases, signatureOf } from '../core/block-delta.js'
import { joinFolderPath } from '../core/paths.js'
import { LansyncError, isLansyncError } from '../errors.js'
import { applyDelete, applyMetadata, applyRecord, LocalChangedError, type Applied } from '../fs/apply.js'
import { fsyncDir } from '../fs/atomic.js'
import { isStoreWriteError, type Change, type StoredRecord } from '../store/store.js'
import type { BaseOffer, BlockFetcher, DeltaBase } from './block-fetcher.js'
import { markerMissingError, type FolderRunner } from './folder-runner.js'
import { crashPoint } from '../fault.js'
import { applyOrder, forEachAtOnce, groupAt } from './apply-order.js'

export interface PullerOptions {
  runner: FolderRunner
  fetcher: BlockFetcher
  localDevice: string
  deviceLabel: (short: string) => string
  /** How often records that failed for a local reason (a full disk, ...) are tried again. */
  retryMs?: number
  /** After a round of retries (some may have succeeded). */
  onRetried?: () => void
  /** Who sends these records, for the log and status (a device name). */
  peerName?: () => string
  /** False only to apply tombstones a person confirmed (`folder resume`): no mass-delete guard. */
  isGuarded?: boolean
  /** The peer's short device ID: records committed just as it sent them are not announced back to it (see FolderRunner.commit). */
  peer?: string
}

/**
 * Failures of this device's own disk that may pass (space freed, permissions fixed, a directory
 * moved out of the way): the record is tried again. Others (a name this filesystem cannot hold, a
 * block the peer no longer has) wait for the next version of the path.
 */
const RETRYABLE_CODES = new Set(['DISK_FULL', 'PATH_UNWRITABLE', 'PATH_BLOCKED', 'PATH_APPLY_FAILED', 'STORE_IO', 'STORE_FULL'])
const DEFAULT_RETRY_MS = 10_000

/**
 * Files of a group written at once. Each write waits mostly on its fsync, which runs on libuv's
 * thread pool (4 threads unless UV_THREADPOOL_SIZE says otherwise): more at once only queues there.
 */
const GROUP_WRITES_AT_ONCE = 8

/** Queued files whose blocks are fetched before their batch applies (see Puller.fetchesAhead), at most. */
const MAX_FETCHED_AHEAD_FILES = 4096
const MAX_FETCHED_AHEAD_BYTES = 1024 * 1024 * 1024

/** How one record of a group went: applied (no error), or the error it met. */
interface Outcome { error?: unknown }

/** A file of the batch that another one was linked from (a rename applied as a link): `to` names the same inode until `from` is deleted. */
interface Linked { from: string, to: string }

export class Puller {
  private readonly runner: FolderRunner
  private readonly fetcher: BlockFetcher
  private readonly localDevice: string
  private readonly peer: string | undefined
  private readonly deviceLabel: (short: string) => string
  private readonly peerName: () => string
  private readonly isGuarded: boolean
  private queue: Promise<void> = Promise.resolve()
  /** Content hash → a file the batch being applied deletes (see renameSources). */
  private copySources = new Map<string, RenameSource>()
  /** Renames of the batch being applied that were made hard links (see checkLinks). */
  private linked: Linked[] = []
  /** The newest remote record per path received and not yet handled (applied, skipped, held or failed): what `lansync plan` previews. */
  private readonly pending = new Map<string, FileRecord>()
  /** Remote records that failed for a local reason, by path: tried again every `retryMs`. */
  private readonly failed = new Map<string, FileRecord>()
  private readonly retryTimer: NodeJS.Timeout
  private isRetrying = false
  /** Files and content bytes still to pull from this peer (for status and `progress`). */
  needFiles = 0
  needBytes = 0
  private isClosed = false
  /**
   * Block fetches started when a record was queued behind the batch being applied, by record: a
   * big file's apply (reading its blocks back, writing and syncing it) no longer leaves the
   * connection idle until the next batch starts asking. Each settles with its error, if any, as
   * applyBatch's own prefetch would. Their plan may be stale by then: applying plans again and
   * fetches whatever that plan lacks; blocks fetched for nothing are collected as garbage.
   */
  private readonly fetchesAhead = new Map<FileRecord, Promise<Error | undefined>>()
  private bytesFetchedAhead = 0
  /** Resolves once the last prefetch so far sent its block requests (see prefetch). */
  private requestsIssued: Promise<void> = Promise.resolve()
  /** Deletes of the batch being applied whose content the batch adds elsewhere (moves): the guard
   * counts neither them nor, once applied, towards its window. */
  private movedPaths = new Set<string>()

  private readonly onRetried: () => void

  constructor ({ runner, fetcher, localDevice, deviceLabel, peerName = () => 'a peer', isGuarded = true, retryMs = DEFAULT_RETRY_MS, onRetried = () => {}, peer }: PullerOptions) {
    this.peer = peer
    this.onRetried = onRetried
    this.runner = runner
    this.fetcher = fetcher
    this.localDevice = localDevice
    this.deviceLabel = deviceLabel
    this.peerName = peerName
    this.isGuarded = isGuarded
    this.retryTimer = setInterval(() => { this.retryFailed() }, retryMs)
    this.retryTimer.unref()
  }

  /**
   * The lowest peer sequence among records still to retry, if any. The peer's manifest is
   * acknowledged (saved) only below it, so that after a restart or a reconnect the peer sends
   * those records again: a failed file is never skipped for good.
   */
  lowestFailedSequence (): number | undefined {
    let lowest: number | undefined
    for (const r of this.failed.values()) if (lowest === undefined || r.sequence < lowest) lowest = r.sequence
    return lowest
  }

  /**
   * What this peer sent that is not applied here yet: the newest record per path still queued,
   * and those that failed and wait for a retry. Held deletes are not here (the store keeps them).
   */
  pendingRecords (): FileRecord[] {
    const out = new Map(this.failed)
    for (const [path, r] of this.pending) if ((out.get(path)?.sequence ?? -1) <= r.sequence) out.set(path, r)
    return [...out.values()]
  }

  private forgetPending (record: FileRecord): void {
    if (this.pending.get(record.path) === record) this.pending.delete(record.path)
  }

  private retryFailed (): void {
    if (this.isClosed || this.isRetrying || this.failed.size === 0) return
    this.isRetrying = true
    void this.enqueue([...this.failed.values()])
      .then(() => this.onRetried(), () => {})
      .finally(() => { this.isRetrying = false })
  }

  /** Queues a batch of remote records; batches apply in arrival order. */
  async enqueue (records: FileRecord[]): Promise<void> {
    for (const r of records) if ((this.pending.get(r.path)?.sequence ?? -1) <= r.sequence) this.pending.set(r.path, r)
    const pending = records.filter(r => r.kind === 'file' && !r.isDeleted)
    this.needFiles += pending.length
    this.needBytes += pending.reduce((n, r) => n + r.sizeBytes, 0)
    // Each file leaves the counts once it is handled (applied, skipped or failed), so progress
    // moves file by file; whatever a failed batch left is dropped at its end.
    const remaining = new Set(pending)
    for (const record of pending) {
      // Bounded: a peer's first manifest can queue 100,000 files, which would all be planned and
      // queued for fetching at once; past the bound, records fetch when their batch applies.
      if (this.fetchesAhead.size >= MAX_FETCHED_AHEAD_FILES || this.bytesFetchedAhead + record.sizeBytes > MAX_FETCHED_AHEAD_BYTES) break
      this.bytesFetchedAhead += record.sizeBytes
      this.fetchesAhead.set(record, this.prefetch(record).then(() => undefined, err => err as Error))
    }
    const settle = (record: FileRecord): void => {
      if (!remaining.delete(record)) return
      this.needFiles -= 1
      this.needBytes -= record.sizeBytes
    }
    const run = this.queue.then(async () => {
      try {
        if (!this.isClosed) await this.applyBatch(records, settle)
      } finally {
        for (const record of records) if (this.fetchesAhead.delete(record)) this.bytesFetchedAhead -= record.sizeBytes
        for (const record of [...remaining]) settle(record)
        // A batch cut short (closed, the connection lost) leaves its records to the next session.
        if (this.isClosed) this.pending.clear()
      }
    })
    this.queue = run.catch(() => {})
    await run
  }

  /** Resolves when everything queued so far is applied. */
  async idle (): Promise<void> { await this.queue }

  close (): void {
    this.isClosed = true
    clearInterval(this.retryTimer)
  }

  private async applyBatch (batch: FileRecord[], settle: (record: FileRecord) => void): Promise<void> {
    const records = applyOrder(await this.guardDeletes(await this.keepHeld(batch, settle)))
    this.copySources = await this.renameSources(records)
    this.linked = []
    try {
      // Ask for every missing block of the batch at once (the fetcher's byte window bounds what
      // is in flight), then apply in order as each record's blocks are in.
      const prefetches = records.map(async remote => await (this.fetchesAhead.get(remote) ?? this.prefetch(remote).then(() => undefined, err => err as Error)))
      const isFetched = records.map(() => false)
      prefetches.forEach((p, i) => { void p.then(() => { isFetched[i] = true }) })
      for (let i = 0; i < records.length;) {
        if (this.isClosed) return
        const prefetched = await prefetches[i]
        const group = groupAt(records, i, isFetched)
        if (group.length <= 1) {
          if (!(await this.applyAlone(records[i], prefetches[i], settle))) return
          i += 1
          continue
        }
        const outcomes = await this.applyGroup(group, [prefetched, ...await Promise.all(prefetches.slice(i + 1, i + group.length))])
        if (outcomes === undefined) return
        for (let k = 0; k < group.length; k++) {
          if (!(await this.applyAlone(group[k], prefetches[i + k], settle, outcomes[k]))) return
        }
        i += group.length
      }
    } finally {
      await this.checkLinks()
    }
  }

  /**
   * Applies one record, or takes the outcome a group already had for it (`first`), and handles
   * what followed as always: a local change is rescanned and planned again (up to twice, alone),
   * a missing folder marker is waited for, a per-path problem is reported (and kept to retry when
   * it may pass). False when the puller closed meanwhile: the batch stops.
   */
  private async applyAlone (remote: FileRecord, prefetch: Promise<unknown>, settle: (record: FileRecord) => void, first?: Outcome): Promise<boolean> {
    let given = first
    for (let attempt = 0; attempt < 3; attempt++) {
      try {
        if (given !== undefined) {
          const { error } = given
          given = undefined
          if (error !== undefined) throw error
        } else {
          const prefetched = await prefetch
          if (prefetched instanceof Error && attempt === 0) throw prefetched
          await this.applyOne(remote)
        }
        await this.runner.dropKnownIfCovered(remote.path)
        this.forgetPending(remote)
        if ((this.failed.get(remote.path)?.sequence ?? Infinity) <= remote.sequence) this.failed.delete(remote.path) // applied: no older failure of it is left to retry
        break
      } catch (err) {
        if (isLansyncError(err, 'FOLDER_MARKER_MISSING')) {
          // The folder's disk is gone: nothing is written into its empty mount point. Wait for it
          // (the batch stays unacknowledged, so after a restart the peer sends it again).
          await this.runner.whenMarkerPresent()
          if (this.isClosed || this.runner.isStopped) return false
          attempt -= 1
          continue
        }
        if (err instanceof LocalChangedError && attempt < 2) {
          // The disk moved under us: record what is there now, then plan again (a conflict, not an overwrite).
          await this.runner.scan([remote.path])
          continue
        }
        if (!isLansyncError(err)) throw err
        this.runner.reportProblem({ path: remote.path, code: err.code, message: err.message }, 'sync')
        this.forgetPending(remote) // a retryable one stays listed through `failed`
        if (RETRYABLE_CODES.has(err.code) && (this.failed.get(remote.path)?.sequence ?? -1) <= remote.sequence) this.failed.set(remote.path, remote)
        if (err.code === 'PROTOCOL_BLOCK_HASH' || err.code === 'TRANSPORT_CLOSED') throw err
        break
      }
    }
    settle(remote)
    return true
  }

  /**
   * Applies a group of new or changed files (see groupAt) inside one exclusive turn: each is
   * planned again and checked exactly as applyOne does, their contents are written at once (each
   * through writeFileAtomically with all its checks), then each distinct directory is fsynced
   * once, and one commit records them all. Per-file waits (fsyncs, store reads) overlap instead
   * of adding up. Returns each record's outcome, for applyAlone to finish it; undefined when the
   * puller closed while waiting for the folder's marker.
   */
  private async applyGroup (group: FileRecord[], prefetched: unknown[]): Promise<Outcome[] | undefined> {
    for (;;) {
      try {
        return await this.runner.exclusive(async () => await this.applyGroupNow(group, prefetched))
      } catch (err) {
        if (!isLansyncError(err, 'FOLDER_MARKER_MISSING')) throw err
        await this.runner.whenMarkerPresent()
        if (this.isClosed || this.runner.isStopped) return undefined
      }
    }
  }

  private async applyGroupNow (group: FileRecord[], prefetched: unknown[]): Promise<Outcome[]> {
    // A failed prefetch is that record's outcome, as it is for a record applied alone.
    const outcomes: Outcome[] = group.map((_, k) => prefetched[k] instanceof Error ? { error: prefetched[k] } : {})
    const live = (): number[] => group.map((_, k) => k).filter(k => outcomes[k].error === undefined)
    const failAll = (ks: number[], error: unknown): void => { for (const k of ks) outcomes[k] = { error } }
    try {
      await this.runner.recordUnrecorded()
    } catch (err) {
      failAll(live(), err)
      return outcomes
    }
    const plans: Array<Awaited<ReturnType<Puller['plan']>>> = []
    let locals: Array<StoredRecord | undefined>
    try {
      locals = await this.runner.store.getRecords(this.runner.folder.id, group.map(r => r.path)) // one read for the group
    } catch (err) {
      failAll(live(), err)
      return outcomes
    }
    for (const k of live()) {
      try { plans[k] = await this.planAgainst(group[k], locals[k]) } catch (err) { outcomes[k] = { error: err } }
    }
    // Only records that change something wait for a missing disk (as in applyOne).
    if (live().some(k => plans[k].action !== undefined) && !(await this.runner.hasMarker())) throw markerMissingError(this.runner.folder.path)
    const writes: Array<{ k: number, action: Extract<Action, { type: 'pull' }>, local: StoredRecord | undefined }> = []
    for (const k of live()) {
      const { action, local, isIgnored } = plans[k]
      try {
        if (isIgnored) { await this.runner.ignoreRemote(group[k]); continue }
        if (action === undefined) continue
        if (action.type === 'pull' && !action.isMetadataOnly && (action.record.kind === 'file' || action.record.kind === 'dir')) { writes.push({ k, action, local }); continue }
        // Conflicts, metadata changes: as alone (they commit themselves).
        const content = contentToFetch(action)
        if (content !== undefined) await this.ensureBlocks(content)
        await this.runner.store.assertWritable()
        await this.applyChecked(action, local)
      } catch (err) {
        outcomes[k] = { error: err }
      }
    }
    const root = this.runner.folder.path
    const applied = new Map<number, Applied>()
    // Nothing changes on disk while the store cannot record it (see applyOne).
    try {
      if (writes.length > 0) await this.runner.store.assertWritable()
    } catch (err) {
      failAll(writes.map(({ k }) => k), err)
      writes.length = 0
    }
    // Directories one at a time, in the batch's order (a parent before its children); files at once.
    const writesAtOnce = group[0].kind === 'dir' ? 1 : GROUP_WRITES_AT_ONCE
    await forEachAtOnce(writes, writesAtOnce, async ({ k, action, local }) => {
      try {
        const content = contentToFetch(action)
        if (content !== undefined) await this.ensureBlocks(content) // usually all present already
        applied.set(k, await this.applyFile(action.record, local, { isDirSyncDeferred: true }))
      } catch (err) {
        outcomes[k] = { error: err }
      }
    })
    for (let n = 0; n < applied.size; n++) crashPoint('apply:renamed')
    // Each new name durable before the commit that records it: a crash must never leave the index
    // saying a file is there when its directory entry is not.
    const dirs = new Map<string, number[]>()
    for (const k of applied.keys()) {
      const dir = dirname(joinFolderPath(root, group[k].path))
      dirs.set(dir, [...(dirs.get(dir) ?? []), k])
    }
    await forEachAtOnce([...dirs], GROUP_WRITES_AT_ONCE, async ([dir, ks]) => {
      try {
        await fsyncDir(dir)
      } catch (err) {
        for (const k of ks) { applied.delete(k); outcomes[k] = { error: new LansyncError('PATH_APPLY_FAILED', `${group[k].path}: its directory could not be synced (${(err as Error).message})`, { cause: err }) } }
      }
    })
    const written = writes.filter(({ k }) => applied.has(k))
    const changes: Change[] = written.map(({ k, action, local }) => ({ record: { ...action.record, ...applied.get(k) as Applied }, origin: isSameContent(local, action.record) ? undefined : 'remote' }))
    try {
      await this.commit(changes, written.map(({ action }) => action.remote))
    } catch (err) {
      // In place but not recorded (the store's disk filled meanwhile): recorded as these remote
      // versions once the store can write, not taken for local edits by the next scan.
      if (isStoreWriteError(err)) for (const change of changes) this.runner.noteUnrecorded(change)
      failAll(written.map(({ k }) => k), err)
    }
    if (this.runner.folder.type === 'sendonly') {
      for (const k of live()) {
        try { await this.runner.forgetCaughtUp(group[k].path) } catch (err) { outcomes[k] = { error: err } }
      }
    }
    return outcomes
  }

  /**
   * Commits changes, the record of each made from `remotes[i]`. Those that leave the index holding
   * the record just as the peer sent it (same path, vector, author, content, deletion) are marked:
   * announcing them back would tell the peer nothing, and cost a 256 MiB file's whole block list
   * (some 150 kB) each time.
   */
  private async commit (changes: Change[], remotes: FileRecord[]): Promise<void> {
    const echoes = new Set<string>()
    changes.forEach((change, i) => { if (isPeersVersion(change.record, remotes[i])) echoes.add(change.record.path) })
    await this.runner.commit(changes, this.peer === undefined || echoes.size === 0 ? undefined : { peer: this.peer, paths: echoes })
  }

  /** Writes a remote file's content (or links it, for a rename), not yet recorded. */
  private async applyFile (record: FileRecord, local: StoredRecord | undefined, { isDirSyncDeferred = false } = {}): Promise<Applied> {
    const source = this.renameSourceFor(record)
    const applied = await applyRecord(this.runner.folder.path, this.runner.store, record, local, record.path, { ...source, isDirSyncDeferred, patchJournal: this.runner.patchJournal })
    if (source.renamedFrom !== undefined && applied.inode === source.renamedFrom.local.inode) this.linked.push({ from: source.renamedFrom.path, to: record.path })
    return applied
  }

  /**
   * Where a file's content may already be in the folder: the file this batch deletes with the
   * same content (a rename). The first new path of that content is linked to it (see
   * linkRenamed in fs/apply.ts); any other copies its bytes, so that two paths never end up as
   * one inode once the old one is gone.
   */
  private renameSourceFor (record: FileRecord): { copyFrom?: string, renamedFrom?: { path: string, local: StoredRecord } } {
    const source = this.copySources.get(Buffer.from(record.hash).toString('hex'))
    if (source === undefined) return {}
    if (source.isLinkTaken) return { copyFrom: source.path }
    source.isLinkTaken = true
    return { renamedFrom: { path: source.path, local: source.local } }
  }

  /**
   * After a batch: a renamed file whose old name was not deleted (a save to it stopped the
   * delete, or the batch was cut short) still shares its inode with the new name, so a save in
   * place to the old name changed the new one too, and the watcher reports only the name written.
   * Rescanning the new name records what it holds (see linkRenamed in fs/apply.ts).
   */
  private async checkLinks (): Promise<void> {
    const linked = this.linked
    this.linked = []
    const rescan: string[] = []
    try {
      for (const { from, to } of linked) {
        const old = await this.runner.store.getRecord(this.runner.folder.id, from)
        if (old === undefined || !old.isDeleted) rescan.push(to)
      }
      if (rescan.length > 0) await this.runner.scan(rescan)
    } catch {
      // The store failed (or the folder closed): the watcher's own event for the new name, or the
      // next full scan, sees what it holds; the batch's outcome (or error) is what matters here.
    }
  }

  /**
   * The records of paths this device holds (see FolderRunner.isHeld). The others (ignored, or
   * outside the selection with no copy here) are never written: their versions are only kept as
   * known, for `lansync fetch` and for when the selection widens, and they are not "to do".
   */
  private async keepHeld (batch: FileRecord[], settle: (record: FileRecord) => void): Promise<FileRecord[]> {
    this.runner.refreshRules()
    const held: FileRecord[] = []
    const notHeld: FileRecord[] = []
    for (const remote of batch) {
      const local = await this.runner.store.getRecord(this.runner.folder.id, remote.path)
      if (this.runner.isHeld(remote.path, remote.kind, local)) held.push(remote)
      else notHeld.push(remote)
    }
    await this.runner.noteKnown(notHeld)
    for (const remote of notHeld) { this.forgetPending(remote); settle(remote) }
    return held
  }

  /**
   * The mass-delete guard: the batch's deletes are held (kept in the store, not applied) when they
   * remove too large a share of the folder at once, or while earlier ones are held. Returns the
   * records to apply now.
   */
  private async guardDeletes (batch: FileRecord[]): Promise<FileRecord[]> {
    this.movedPaths = new Set()
    if (!this.isGuarded || !batch.some(r => r.isDeleted)) return batch
    // Hold the last tombstone of each path (a batch lists a path once, but be safe).
    const deletes = [...new Map(batch.filter(r => r.isDeleted).map(r => [r.path, r])).values()]
    // A file whose content the same batch adds at another path was moved, not lost: moving a
    // directory of most of the folder is no reason to pause.
    const added = new Set(batch.filter(r => !r.isDeleted && r.kind === 'file' && r.sizeBytes > 0).map(r => Buffer.from(r.hash).toString('hex')))
    let fileDeletes = 0
    for (const remote of deletes) {
      const { action } = await this.plan(remote)
      if (action?.type !== 'delete' || action.local.kind === 'dir') continue
      if (action.local.kind === 'file' && action.local.sizeBytes > 0 && added.has(Buffer.from(action.local.hash).toString('hex'))) {
        this.movedPaths.add(remote.path)
        continue
      }
      fileDeletes += 1
    }
    if (await this.runner.admitDeletes(fileDeletes)) return batch
    await this.runner.holdDeletes(deletes, this.peerName())
    for (const r of deletes) this.forgetPending(r)
    return batch.filter(r => !r.isDeleted)
  }

  /**
   * Files this batch deletes, by content hash: a new path with the same content is the other half
   * of a rename (or move), and is copied from the old file (one sequential read, nearly as fast as
   * the disk) instead of being rebuilt from the block store. Files apply before deletes, so the old
   * file is still there.
   */
  private async renameSources (records: FileRecord[]): Promise<Map<string, RenameSource>> {
    const sources = new Map<string, RenameSource>()
    for (const r of records) {
      if (!r.isDeleted) continue
      const local = await this.runner.store.getRecord(this.runner.folder.id, r.path)
      if (local?.kind === 'file' && !local.isDeleted && local.sizeBytes > 0) sources.set(Buffer.from(local.hash).toString('hex'), { path: r.path, local, isLinkTaken: false })
    }
    return sources
  }

  /**
   * The action for a remote record, as the folder's type decides (see core/folder-type.ts):
   * `isIgnored` when a send-only folder does not apply it.
   */
  private async plan (remote: FileRecord): Promise<{ action: Action | undefined, local: StoredRecord | undefined, isIgnored: boolean }> {
    return await this.planAgainst(remote, await this.runner.store.getRecord(this.runner.folder.id, remote.path))
  }

  /** plan, with the index's record of the path already read (a group reads all of theirs at once). */
  private async planAgainst (remote: FileRecord, local: StoredRecord | undefined): Promise<{ action: Action | undefined, local: StoredRecord | undefined, isIgnored: boolean }> {
    const { id, type } = this.runner.folder
    const base = type === 'receiveonly' && local?.isLocalOnly === true ? await this.runner.store.localBase(id, remote.path) : undefined
    const decision = decideRemote({ type, local, remote, base, localDevice: this.localDevice, deviceLabel: this.deviceLabel })
    return { action: decision.kind === 'apply' ? decision.action : undefined, local, isIgnored: decision.kind === 'ignore' }
  }

  /** Plans a record and fetches the blocks it needs, outside the write queue (scans go on meanwhile). */
  private async prefetch (remote: FileRecord): Promise<void> {
    // Records are planned and looked up all at once, but each one's requests go out only after
    // those of the records prefetched before it: the first file queued completes (and can be
    // applied) first, instead of every file of a batch arriving at the end together.
    const turn: RequestTurn = { after: this.requestsIssued, issued: () => {} }
    this.requestsIssued = new Promise<void>(resolve => { turn.issued = resolve })
    try {
      const { action, local } = await this.plan(remote)
      const content = action === undefined ? undefined : contentToFetch(action)
      if (content !== undefined) await this.ensureBlocks(content, turn, local)
    } finally {
      void turn.after.then(turn.issued)
    }
  }

  private async applyOne (remote: FileRecord): Promise<void> {
    await this.runner.exclusive(async () => {
      await this.runner.recordUnrecorded()
      const { action, local, isIgnored } = await this.plan(remote) // again: the index may have moved on meanwhile
      if (isIgnored) { await this.runner.ignoreRemote(remote); return } // a send-only folder's disk stays as it is
      if (action !== undefined) {
        // Only a record that changes something waits for a missing disk; one we already hold must
        // not hold up the batches behind it.
        if (!(await this.runner.hasMarker())) throw markerMissingError(this.runner.folder.path)
        const content = contentToFetch(action)
        if (content !== undefined) await this.ensureBlocks(content) // usually all present already
        // Nothing changes on disk while the store cannot record it (its disk is full): a file
        // replaced now would hold a version the index does not know.
        await this.runner.store.assertWritable()
        await this.applyChecked(action, local)
      }
      if (this.runner.folder.type === 'sendonly') await this.runner.forgetCaughtUp(remote.path)
    })
  }

  /** Carries out a planned action and commits it. Call inside `exclusive`, after the checks of applyOne. */
  private async applyChecked (action: Action, local: StoredRecord | undefined): Promise<void> {
    const root = this.runner.folder.path
    const store = this.runner.store
    switch (action.type) {
      case 'pull': {
        const applied = action.isMetadataOnly && action.record.kind === 'file'
          ? await applyMetadata(root, action.record, local)
          : await this.applyFile(action.record, local)
        crashPoint('apply:renamed')
        const change: Change = { record: { ...action.record, ...applied }, origin: isSameContent(local, action.record) ? undefined : 'remote' }
        try {
          await this.commit([change], [action.remote])
        } catch (err) {
          // In place but not recorded (the store's disk filled meanwhile): recorded as this remote
          // version once the store can write, not taken for a local edit by the next scan.
          if (isStoreWriteError(err) && action.record.kind === 'file') this.runner.noteUnrecorded(change)
          throw err
        }
        return
      }
      case 'delete': {
        const isRemoved = await applyDelete(root, action.record.path, local)
        if (!isRemoved) {
          // It still holds files the peer did not know of: those are edits, and the edit wins.
          if (action.keepIfNotEmpty === undefined) return
          const kept = { ...action.keepIfNotEmpty, inode: local?.inode ?? 0 }
          // Receive-only, kept only by files added here: keeping it is a local change too, made
          // over the cluster's tombstone (what a revert goes back to), and not sent.
          if (this.runner.folder.type === 'receiveonly' && await this.holdsOnlyLocalFiles(action.record.path)) {
            await this.runner.commit([{ record: { ...action.record, inode: 0 } }, { record: { ...kept, isLocalOnly: true } }])
          } else {
            await this.runner.commit([{ record: kept }])
          }
          return
        }
        await this.commit([{ record: { ...action.record, inode: 0 }, origin: 'remote' }], [action.remote])
        if (action.local.kind !== 'dir' && !this.movedPaths.has(action.record.path)) this.runner.noteRemoteDelete()
        return
      }
      case 'adopt':
        await this.commit([{ record: { ...action.record, inode: local?.inode ?? 0 } }], [action.remote])
        return
      case 'announce':
        await this.runner.commit([{ record: { ...action.record, inode: local?.inode ?? 0 } }])
        return
      case 'conflict': {
        // The loser's content is kept beside the file as a conflict copy: the same record on
        // every device, so copies made by several devices agree.
        if (action.copy !== undefined) {
          const existing = await store.getRecord(this.runner.folder.id, action.copy.path)
          if (isCopyNeeded(action.copy, existing)) {
            const copied = await applyRecord(root, store, action.copy, existing)
            await this.runner.commit([{ record: { ...action.copy, ...copied }, origin: 'conflict' }])
          }
        }
        if (action.winner === 'remote') {
          const applied = await applyRecord(root, store, action.record, local)
          await this.commit([{ record: { ...action.record, ...applied }, origin: 'remote' }], [action.remote])
        } else {
          await this.runner.commit([{ record: { ...action.record, inode: local?.inode ?? 0 } }])
        }
        return
      }
    }
  }

  /** Whether every live record under directory `path` is a local change (receive-only). */
  private async holdsOnlyLocalFiles (path: string): Promise<boolean> {
    for await (const r of this.runner.store.records(this.runner.folder.id, path)) {
      if (!r.isDeleted && r.isLocalOnly !== true) return false
    }
    return true
  }

  /**
   * Makes every block of `record` present in the block store, fetching only the missing ones;
   * with a `turn`, its requests go out once those before it went (see prefetch).
   */
  private async ensureBlocks (record: FileRecord, turn?: RequestTurn, local?: StoredRecord): Promise<void> {
    const store = this.runner.store
    // Each content once (a file may repeat a block), by the index of its first place.
    const firsts = new Map<string, number>()
    record.blocks.forEach((block, i) => { const key = hex(block.hash); if (!firsts.has(key)) firsts.set(key, i) })
    const unique = [...firsts.values()]
    const held = await store.hasBlocks(unique.map(i => record.blocks[i].hash))
    const missing = unique.filter((_, k) => !held[k])
    // An edit of the file held here: each changed block may come as a delta against the held
    // blocks that covered its bytes (see pickDeltaBases in core/block-delta.ts).
    const bases = missing.length > 0 && local !== undefined && !local.isDeleted && local.kind === 'file' ? pickDeltaBases(record.blocks, missing, local.blocks) : new Map<number, BlockRef[]>()
    if (turn !== undefined) await turn.after
    const fetches: Array<Promise<void>> = []
    for (const i of missing) {
      const block = record.blocks[i]
      const base = bases.get(i)
      const offer: BaseOffer | undefined = base === undefined ? undefined : {
        sizeBytes: totalBlockBytes(base),
        load: async (): Promise<DeltaBase | undefined> => {
          const parts: Uint8Array[] = []
          for await (const bytes of store.getBlocks(base.map(b => b.hash))) {
            if (bytes === undefined) return undefined
            parts.push(bytes)
          }
          const bytes = Buffer.concat(parts)
          return { bytes, signature: signatureOf(bytes) }
        }
      }
      const fetched = this.fetcher.fetch({ folder: this.runner.folder.id, path: record.path, hash: block.hash, sizeBytes: block.sizeBytes }, async bytes => {
        await store.putBlock(block.hash, bytes, { isKnownMissing: true })
        crashPoint('pull:block-stored')
      }, offer).then(() => {})
      // Observed at once: a failure may come while this loop still awaits; allSettled reports it below.
      fetched.catch(() => {})
      fetches.push(fetched)
    }
    turn?.issued()
    const results = await Promise.allSettled(fetches)
    const failed = results.find(r => r.status === 'rejected')
    if (failed !== undefined) throw (failed as PromiseRejectedResult).reason
  }
}

/** A prefetch's place in line: its requests go out after `after`, then it calls `issued`. */
interface RequestTurn { after: Promise<void>, issued: () => void }

/** A file the batch being applied deletes, as the index knows it: a rename's source (see renameSources). */
interface RenameSource { path: string, local: StoredRecord, isLinkTaken: boolean }

/** Whether `record` is `remote` as the peer sent it, but for the inode (a fact of this disk only). */
function isPeersVersion (record: Change['record'], remote: FileRecord): boolean {
  return record.path === remote.path && record.isDeleted === remote.isDeleted && record.kind === remote.kind &&
    record.modifiedBy === remote.modifiedBy && Buffer.compare(record.hash, remote.hash) === 0 && vectorsEqual(record.vector, remote.vector) &&
    record.mode === remote.mode && record.mtimeMs === remote.mtimeMs && record.sizeBytes === remote.sizeBytes && record.linkTarget === remote.linkTarget
}

/** Whether applying `record` over `local` leaves the same content (no new version in history). */
function isSameContent (local: StoredRecord | undefined, record: FileRecord): boolean {
  return local !== undefined && !local.isDeleted && local.kind === record.kind &&
    Buffer.compare(local.hash, record.hash) === 0 && local.mode === record.mode && local.linkTarget === record.linkTarget
}
