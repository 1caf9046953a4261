// The device's store: LevelDB (index records, history versions, per-peer progress, the block index)
// and the pack files under it that hold block bytes (block-packs.ts). One writer per database (the
// agent, or a CLI command when no agent runs). Batches that must survive a crash are written with
// `sync: true`; every block is checked against its hash on read.
import { Level } from 'level'
import { randomBytes } from 'node:crypto'
import { readdir, stat, statfs } from 'node:fs/promises'
import { join } from 'node:path'
import { LansyncError, isLansyncError } from '../errors.js'
import type { FileRecord } from '../core/types.js'
import type { PatchUndo } from '../core/patch-plan.js'
import * as keys from './keys.js'
import { writeDurably, type BatchOp } from './level-batch.js'
import { BlockPacks, DEFAULT_PACK_BYTES } from './block-packs.js'
import {
  decodeStoredRecord, decodeValue, decodeVersion, encodeStoredRecord, encodeValue, encodeVersion,
  type StoredRecord, type VersionEntry
} from './encoding.js'

export type { StoredRecord, VersionEntry } from './encoding.js'

/** Per-folder bookkeeping: the index epoch (changes when the database is new) and highest sequence. */
export interface FolderMeta {
  epoch: string
  sequence: number
}

/** What a folder's index holds (tombstones apart from the rest), as `lansync status` shows it. */
export interface FolderTotals { files: number, dirs: number, bytes: number, deleted: number, localChanges: number }

/** What one record adds to its folder's totals. */
function totalsOf (r: StoredRecord | undefined, sign: 1 | -1, t: FolderTotals): void {
  if (r === undefined) return
  if (r.isLocalOnly === true) t.localChanges += sign
  if (r.isDeleted) t.deleted += sign
  else if (r.kind === 'dir') t.dirs += sign
  else { t.files += sign; t.bytes += sign * r.sizeBytes }
}

/** What we have of one peer's manifest for one folder. */
export interface PeerState {
  epoch: string
  sequence: number
}

/** A change to record: the new index record, and whether (and why) it is also a new version. */
export interface Change {
  record: Omit<StoredRecord, 'sequence'>
  origin?: VersionEntry['origin']
}

/** The part of a LevelDB iterator that `Store.batches` uses. */
interface RangeIterator<T> { nextv: (size: number) => Promise<T[]>, close: () => Promise<void> }
/** Entries read from LevelDB at a time when iterating a range (classic-level's own read-ahead). */
const RANGE_BATCH_ENTRIES = 1000

type Batch = BatchOp[]

/**
 * LevelDB holds index records, versions and where each block is in the pack files, never block
 * bytes, so its default memtable and tables (4 MiB, 2 MiB) suit it: the 32 MiB sized for block
 * bytes held up to 64 MiB in memtables during a first scan. Its block cache is 1 MiB, not 8: a
 * rescan reads each table block once, and the pack index keeps recent lookups itself (peak RSS of
 * a restart on 100,000 files 150 → 130 MiB, no slower).
 */
const LEVEL_TUNING = { writeBufferSize: 4 * 1024 * 1024, maxFileSize: 2 * 1024 * 1024, cacheSize: 1024 * 1024 }

/** Room kept free beyond the write-ahead logs before the store reopens after a failed write. */
const REOPEN_MARGIN_BYTES = 4 * 1024 * 1024

/** Whether `err` is a store write that failed for lack of room or another I/O reason (retryable once there is room). */
export function isStoreWriteError (err: unknown): boolean {
  return isLansyncError(err, 'STORE_FULL') || isLansyncError(err, 'STORE_IO')
}

export class Store {
  readonly dir: string
  private readonly db: Level<string, Uint8Array>
  private readonly blocks: BlockPacks
  private readonly metas = new Map<string, FolderMeta>()
  /**
   * Folder totals counted once, then kept up to date by `commit`: status is asked for often (the
   * CLI, the dashboard, scripts polling it), and counting 100,000 records each time took the
   * agent's main thread for a second. Dropped by any other change to the index, recounted on demand.
   */
  private readonly totals = new Map<string, FolderTotals>()
  /** Counts of folder totals under way (see folderTotals). */
  private readonly totalsCounts = new Map<string, { generation: number, result: Promise<FolderTotals> }>()
  /** Bumped by every change to a folder's index (a commit: as it starts and ends), so a count that raced one is not kept. */
  private indexGeneration = 0
  private commitsUnderWay = 0
  private readonly metaLoads = new Map<string, Promise<FolderMeta>>()
  private readonly now: () => number
  private isClosed = false
  /**
   * Set when a write failed (a full disk, an I/O error): no write goes to the database until it
   * is reopened. LevelDB may have left part of the failed record in its write-ahead log, and a
   * record appended after that one would be misaligned and silently dropped when the log is read
   * back at the next start; a failed flush of the memtable leaves every later write failing too.
   * Reopening replays the log up to the failed record into a table and starts a new log.
   */
  private writeError: LansyncError | undefined
  private reopening: Promise<void> | undefined

  private constructor (dir: string, db: Level<string, Uint8Array>, blocks: BlockPacks, now: () => number) {
    this.dir = dir
    this.db = db
    this.blocks = blocks
    this.now = now
  }

  /**
   * Opens (creating if needed) the database in `dir`, block packs in `dir/packs` (LevelDB leaves
   * alone names that are not its own). Maps LevelDB failures to clear errors. `maxPackBytes`: tests.
   */
  static async open (dir: string, { now = Date.now, maxPackBytes = DEFAULT_PACK_BYTES }: { now?: () => number, maxPackBytes?: number } = {}): Promise<Store> {
    const db = new Level<string, Uint8Array>(dir, { keyEncoding: 'utf8', valueEncoding: 'view', ...LEVEL_TUNING })
    try {
      await db.open()
    } catch (err: any) {
      const cause = err?.cause
      if (cause?.code === 'LEVEL_LOCKED') {
        throw new LansyncError('STORE_LOCKED', `the database ${dir} is in use by another lansync process`, { cause: err })
      }
      if (cause?.code === 'LEVEL_CORRUPTION') {
        throw new LansyncError('STORE_CORRUPT', `the database ${dir} is corrupt (${cause.message}); run \`lansync repair\``, { cause: err })
      }
      const message: string = cause?.message ?? err?.message
      if (isNoSpace(message)) {
        // Opening replays the write-ahead log into a table, which needs room.
        throw new LansyncError('STORE_FULL', `the disk holding the store is full: cannot open the database ${dir} (${message}); free some space there and start again`, { cause: err })
      }
      throw new LansyncError('STORE_IO', `cannot open the database ${dir}: ${message}`, { cause: err })
    }
    let blocks: BlockPacks
    try {
      blocks = await BlockPacks.open(db, join(dir, 'packs'), { maxPackBytes })
    } catch (err) {
      await db.close()
      throw err
    }
    return new Store(dir, db, blocks, now)
  }

  /** Indexes the blocks not indexed yet (unless the store cannot write: they are dead space then) and closes. */
  async close (): Promise<void> {
    if (this.isClosed) return
    await this.write(async () => await this.blocks.flush()).catch(() => {})
    this.isClosed = true
    await this.blocks.close()
    await this.db.close()
  }

  // ---- folder meta -------------------------------------------------------------------------

  async folderMeta (folderId: string): Promise<FolderMeta> {
    const cached = this.metas.get(folderId)
    if (cached !== undefined) return cached
    // Calls that meet a folder's first read share it: two of them each making an epoch (the
    // scanner describes several new files at once) would give one index two epochs.
    let loading = this.metaLoads.get(folderId)
    if (loading === undefined) {
      loading = this.loadFolderMeta(folderId).finally(() => this.metaLoads.delete(folderId))
      this.metaLoads.set(folderId, loading)
    }
    return await loading
  }

  private async loadFolderMeta (folderId: string): Promise<FolderMeta> {
    const bytes = await this.read(async () => await this.db.get(keys.folderMetaKey(folderId)))
    let meta: FolderMeta
    if (bytes === undefined) {
      meta = { epoch: randomBytes(8).toString('hex'), sequence: 0 }
      await this.write(async () => await this.db.put(keys.folderMetaKey(folderId), encodeValue(meta), { sync: true }))
    } else {
      meta = decodeValue<FolderMeta>(bytes)
    }
    this.metas.set(folderId, meta)
    return meta
  }

  // ---- index -------------------------------------------------------------------------------

  async getRecord (folderId: string, path: string): Promise<StoredRecord | undefined> {
    // Synchronous, like getKnown: asked per block served (is it still servable?) and per record
    // planned, and a read through the thread pool costs the main thread some 30 µs whatever it reads.
    const bytes = await this.read(async () => this.db.getSync(keys.indexKey(folderId, path)))
    return bytes === undefined ? undefined : decodeStoredRecord(bytes)
  }

  /**
   * The records of many paths in one round trip (undefined where none), in the order asked: a
   * scan reads a whole directory's records at once instead of one LevelDB get per file.
   */
  async getRecords (folderId: string, paths: readonly string[]): Promise<Array<StoredRecord | undefined>> {
    if (paths.length === 0) return []
    const values = await this.read(async () => await this.db.getMany(paths.map(p => keys.indexKey(folderId, p))))
    return values.map(bytes => bytes === undefined ? undefined : decodeStoredRecord(bytes))
  }

  /** Index records of a folder in path order, optionally only those under `underPath/`. */
  async * records (folderId: string, underPath = ''): AsyncGenerator<StoredRecord> {
    const prefix = keys.indexPrefix(folderId)
    const range = underPath === ''
      ? keys.prefixRange(prefix)
      : { gte: prefix + underPath + '/', lt: prefix + underPath + '0' } // '0' follows '/'
    for await (const value of this.iterate(() => this.db.values(range))) yield decodeStoredRecord(value)
  }

  /** What the folder's index holds: counted once, then kept as commits change it (see `totals`). */
  async folderTotals (folderId: string): Promise<FolderTotals> {
    const kept = this.totals.get(folderId)
    if (kept !== undefined) return { ...kept }
    // Callers asking while a count is under way share it, unless the index changed since it
    // began (it may not show that change): status polled every 25 ms during a restart's scan of
    // 100,000 files started a count of its own each time, and together they took seconds.
    let counting = this.totalsCounts.get(folderId)
    if (counting === undefined || counting.generation !== this.indexGeneration) {
      const entry = { generation: this.indexGeneration, result: this.countTotals(folderId) }
      entry.result.finally(() => { if (this.totalsCounts.get(folderId) === entry) this.totalsCounts.delete(folderId) }).catch(() => {})
      this.totalsCounts.set(folderId, entry)
      counting = entry
    }
    return { ...await counting.result }
  }

  private async countTotals (folderId: string): Promise<FolderTotals> {
    const generation = this.indexGeneration
    const isQuiet = this.commitsUnderWay === 0
    const counted: FolderTotals = { files: 0, dirs: 0, bytes: 0, deleted: 0, localChanges: 0 }
    for await (const batch of this.batches(() => this.db.values(keys.prefixRange(keys.indexPrefix(folderId))))) {
      for (const value of batch) totalsOf(decodeStoredRecord(value), 1, counted)
    }
    // Kept only if no commit overlapped the count (its batch may or may not be in what was read).
    if (isQuiet && generation === this.indexGeneration) this.totals.set(folderId, { ...counted })
    return counted
  }

  /**
   * The paths `records` would yield, in batches, without reading the records (a rescan needs
   * only the names of most).
   */
  async * indexPaths (folderId: string, underPath = ''): AsyncGenerator<string[]> {
    const prefix = keys.indexPrefix(folderId)
    const range = underPath === ''
      ? keys.prefixRange(prefix)
      : { gte: prefix + underPath + '/', lt: prefix + underPath + '0' } // '0' follows '/'
    for await (const batch of this.batches(() => this.db.keys(range))) yield batch.map(key => key.slice(prefix.length))
  }

  /** Records changed after `sequence`, in sequence order: the incremental manifest. */
  async * recordsSince (folderId: string, sequence: number): AsyncGenerator<StoredRecord> {
    const prefix = keys.sequencePrefix(folderId)
    const range = { gt: keys.sequenceKey(folderId, sequence), lt: keys.prefixRange(prefix).lt }
    for await (const pathBytes of this.iterate(() => this.db.values(range))) {
      const record = await this.getRecord(folderId, Buffer.from(pathBytes).toString('utf8'))
      if (record !== undefined) yield record
    }
  }

  /**
   * Records a batch of changes atomically and durably: each gets the next sequence number; those
   * with an `origin` also become a version in history. Returns the records as stored. The blocks
   * stored before the call are indexed in the same batch, so records and their blocks are durable
   * together.
   */
  async commit (folderId: string, changes: Change[]): Promise<StoredRecord[]> {
    if (changes.length === 0) return []
    const meta = await this.folderMeta(folderId)
    const nowMs = this.now()
    const batch: Batch = []
    const stored: StoredRecord[] = []
    const pending = new Map<string, StoredRecord>() // earlier changes to the same path in this batch
    let sequence = meta.sequence
    // Every previous record in one round trip: a get per change made a scan's commit of 500 new
    // files 500 sequential LevelDB reads.
    const paths = changes.map(c => c.record.path)
    const atStart = await this.getRecords(folderId, paths)
    /** The record each change replaces (an earlier change to its path in this batch, or the index's). */
    const replaced: Array<StoredRecord | undefined> = []
    for (const [i, change] of changes.entries()) {
      const path = change.record.path
      const previous = pending.get(path) ?? atStart[i]
      replaced.push(previous)
      if (previous !== undefined) batch.push({ type: 'del', key: keys.sequenceKey(folderId, previous.sequence) })
      // Receive-only: the first local change of a path keeps the cluster's record beside it; a
      // record that is not a local change (a remote version, a revert) drops it.
      const isLocalOnly = change.record.isLocalOnly === true
      if (isLocalOnly && previous?.isLocalOnly !== true) {
        batch.push({ type: 'put', key: keys.localBaseKey(folderId, path), value: previous === undefined ? encodeValue(null) : encodeStoredRecord({ ...previous, inode: 0 }) })
      } else if (!isLocalOnly && previous?.isLocalOnly === true) {
        batch.push({ type: 'del', key: keys.localBaseKey(folderId, path) })
      }
      sequence += 1
      const record: StoredRecord = { ...change.record, sequence }
      if (!isLocalOnly) delete record.isLocalOnly
      batch.push({ type: 'put', key: keys.indexKey(folderId, path), value: encodeStoredRecord(record) })
      batch.push({ type: 'put', key: keys.sequenceKey(folderId, sequence), value: Buffer.from(path) })
      if (change.origin !== undefined) {
        const version: VersionEntry = { ...record, recordedMs: nowMs, origin: change.origin }
        batch.push({ type: 'put', key: keys.versionKey(folderId, path, sequence), value: encodeVersion(version) })
      }
      pending.set(path, record)
      stored.push(record)
    }
    const next: FolderMeta = { epoch: meta.epoch, sequence }
    batch.push({ type: 'put', key: keys.folderMetaKey(folderId), value: encodeValue(next) })
    this.indexGeneration += 1
    this.commitsUnderWay += 1
    try {
      await this.write(async () => {
        const blocks = await this.blocks.indexOps()
        await writeDurably(this.db, [...batch, ...blocks.ops])
        blocks.done()
      })
    } catch (err) {
      this.totals.delete(folderId) // the batch may be in the log after all
      throw err
    } finally {
      this.commitsUnderWay -= 1
      this.indexGeneration += 1
    }
    this.metas.set(folderId, next)
    const totals = this.totals.get(folderId)
    if (totals !== undefined) {
      for (const [i, record] of stored.entries()) {
        totalsOf(replaced[i], -1, totals)
        totalsOf(record, 1, totals)
      }
    }
    return stored
  }

  /** A change to the index other than a commit: the totals are counted again when next asked. */
  private forgetTotals (folderId: string): void {
    this.totals.delete(folderId)
    this.indexGeneration += 1
  }

  // ---- blocks ------------------------------------------------------------------------------

  async hasBlock (hash: Uint8Array): Promise<boolean> {
    return await this.read(async () => await this.blocks.has(hash))
  }

  /** Whether each block is held, in order: hasBlock for many, in few LevelDB reads. */
  async hasBlocks (hashes: Uint8Array[]): Promise<boolean[]> {
    return await this.read(async () => await this.blocks.hasMany(hashes))
  }

  /**
   * Stores a block under its hash (in a pack file: see block-packs.ts). Not durable on its own: the
   * commit that references it makes it so. A block the store holds is not written again, unless the
   * caller just found it missing (`isKnownMissing`: a second copy is harmless, a second lookup is not free).
   */
  async putBlock (hash: Uint8Array, bytes: Uint8Array, { isKnownMissing = false } = {}): Promise<void> {
    // The lookup is a read: a block already held is no write, even while writes wait for room.
    if (!isKnownMissing && await this.hasBlock(hash)) return
    await this.write(async () => await this.blocks.put(hash, bytes, { isKnownMissing: true }))
  }

  /**
   * Reads a block, checked against its hash unless `isVerified` is false (for callers that check
   * the hash of everything they read anyway); undefined when the store does not hold it.
   */
  async getBlock (hash: Uint8Array, { isVerified = true } = {}): Promise<Uint8Array | undefined> {
    return await this.read(async () => await this.blocks.get(hash, { isVerified }))
  }

  /** Blocks in order (undefined for one not held), as getBlock gives them, in fewer round trips (a whole file's content). */
  async * getBlocks (hashes: Uint8Array[], { isVerified = true } = {}): AsyncGenerator<Uint8Array | undefined> {
    yield * this.iterateSource(() => this.blocks.getMany(hashes, { isVerified }))
  }

  /** Every stored block (hex hash, size in bytes); blocks put since the last commit may be missing. */
  async * blockHashes (): AsyncGenerator<{ hash: string, sizeBytes: number }> {
    yield * this.iterateSource(() => this.blocks.hashes())
  }

  /** Forgets blocks (hex hashes); `compact` then frees their disk space. */
  async deleteBlocks (hexHashes: string[]): Promise<void> {
    await this.write(async () => await this.blocks.delete(hexHashes))
  }

  /** Frees the disk space of deleted blocks (rewrites packs that are mostly dead); returns the bytes freed. */
  async compact (): Promise<number> {
    return await this.write(async () => await this.blocks.compact())
  }

  // ---- history -----------------------------------------------------------------------------

  /** Every version of a path, oldest first. */
  async versions (folderId: string, path: string): Promise<VersionEntry[]> {
    const out: VersionEntry[] = []
    for await (const value of this.iterate(() => this.db.values(keys.prefixRange(keys.versionPathPrefix(folderId, path))))) {
      out.push(decodeVersion(value))
    }
    return out
  }

  /** Every version in a folder, grouped by path (path order), each group oldest first. */
  async * versionsByPath (folderId: string): AsyncGenerator<{ path: string, versions: VersionEntry[] }> {
    let path: string | undefined
    let group: VersionEntry[] = []
    for await (const [key, value] of this.iterate(() => this.db.iterator(keys.prefixRange(keys.versionFolderPrefix(folderId))))) {
      const parsed = keys.parseVersionKey(folderId, key)
      if (parsed.path !== path) {
        if (path !== undefined) yield { path, versions: group }
        path = parsed.path
        group = []
      }
      group.push(decodeVersion(value))
    }
    if (path !== undefined) yield { path, versions: group }
  }

  /** Every block hash referenced by any version or index record of any folder (hex, repeats possible). */
  async * referencedBlockHashes (): AsyncGenerator<string> {
    // The cluster records of local changes too: `folder revert` writes them back.
    for (const prefix of ['v\x00', 'i\x00', keys.LOCAL_BASE_PREFIX]) {
      for await (const value of this.iterate(() => this.db.values(keys.prefixRange(prefix)))) {
        const entry = decodeBase(value)
        for (const b of entry?.blocks ?? []) yield Buffer.from(b.hash).toString('hex')
      }
    }
  }

  async deleteVersions (folderId: string, versions: Array<Pick<FileRecord, 'path' | 'sequence'>>): Promise<void> {
    if (versions.length === 0) return
    const batch = versions.map(v => ({ type: 'del' as const, key: keys.versionKey(folderId, v.path, v.sequence) }))
    await this.write(async () => await writeDurably(this.db, batch))
  }

  /** Removes everything the store holds for a folder except its blocks (which GC reclaims). */
  async forgetFolder (folderId: string): Promise<void> {
    this.forgetTotals(folderId)
    for (const prefix of [keys.indexPrefix(folderId), keys.sequencePrefix(folderId), keys.versionFolderPrefix(folderId), keys.peerPrefix(folderId), keys.heldPrefix(folderId), keys.knownPrefix(folderId), keys.localBasePrefix(folderId), keys.ignoredPrefix(folderId), keys.patchUndoPrefix(folderId)]) {
      await this.write(async () => await this.db.clear(keys.prefixRange(prefix)))
    }
    await this.write(async () => await this.db.del(keys.folderMetaKey(folderId)))
    this.metas.delete(folderId)
  }

  // ---- held deletes ----------------------------------------------------------------------

  /**
   * Keeps remote tombstones the mass-delete guard did not apply, durably: the peer's sequence moves
   * on past them, so they must survive a restart until `folder resume` applies (or drops) them.
   * A later tombstone for the same path replaces an earlier one.
   */
  async holdRecords (folderId: string, records: FileRecord[]): Promise<void> {
    if (records.length === 0) return
    const batch = records.map(r => ({ type: 'put' as const, key: keys.heldKey(folderId, r.path), value: encodeStoredRecord({ ...r, inode: 0 }) }))
    await this.write(async () => await writeDurably(this.db, batch))
  }

  async isHeld (folderId: string, path: string): Promise<boolean> {
    return await this.read(async () => await this.db.has(keys.heldKey(folderId, path)))
  }

  /** Held tombstones of a folder, in path order. */
  async * heldRecords (folderId: string): AsyncGenerator<StoredRecord> {
    for await (const value of this.iterate(() => this.db.values(keys.prefixRange(keys.heldPrefix(folderId))))) yield decodeStoredRecord(value)
  }

  async dropHeld (folderId: string, paths: string[]): Promise<void> {
    if (paths.length === 0) return
    await this.write(async () => await writeDurably(this.db, paths.map(p => ({ type: 'del' as const, key: keys.heldKey(folderId, p) }))))
  }

  // ---- patches in place under way ------------------------------------------------------------

  /** Written before a file is patched in place (fs/patch.ts), durably: a crash during the patch is undone on restart. */
  async putPatchUndo (folderId: string, path: string, undo: PatchUndo): Promise<void> {
    await this.write(async () => await writeDurably(this.db, [{ type: 'put', key: keys.patchUndoKey(folderId, path), value: encodeValue(undo) }]))
  }

  /** The patch is complete (fsynced). Not synced itself: a patch undone after all is only sent again. */
  async dropPatchUndo (folderId: string, path: string): Promise<void> {
    await this.write(async () => await this.db.del(keys.patchUndoKey(folderId, path)))
  }

  /** Patches a crash cut short, in path order. */
  async * patchUndos (folderId: string): AsyncGenerator<{ path: string, undo: PatchUndo }> {
    const prefix = keys.patchUndoPrefix(folderId)
    for await (const [key, value] of this.iterate(() => this.db.iterator(keys.prefixRange(prefix)))) {
      yield { path: key.slice(prefix.length), undo: decodeValue<PatchUndo>(value) }
    }
  }

  // ---- known, not held ----------------------------------------------------------------------

  /** The latest version known of a path this device does not hold, if any. */
  async getKnown (folderId: string, path: string): Promise<StoredRecord | undefined> {
    // Synchronous: a scan asks this of every new path it describes, and a LevelDB read through the
    // thread pool costs the main thread some 30 µs whatever it reads (100,000 new files: 2.7 s).
    const bytes = await this.read(async () => this.db.getSync(keys.knownKey(folderId, path)))
    return bytes === undefined ? undefined : decodeStoredRecord(bytes)
  }

  /** Keeps these as the known versions of their paths (one durable batch: the peer's sequence moves on past them). */
  async putKnown (folderId: string, records: FileRecord[]): Promise<void> {
    if (records.length === 0) return
    const batch = records.map(r => ({ type: 'put' as const, key: keys.knownKey(folderId, r.path), value: encodeStoredRecord({ ...r, inode: 0 }) }))
    await this.write(async () => await writeDurably(this.db, batch))
  }

  async dropKnown (folderId: string, paths: string[]): Promise<void> {
    if (paths.length === 0) return
    await this.write(async () => await writeDurably(this.db, paths.map(p => ({ type: 'del' as const, key: keys.knownKey(folderId, p) }))))
  }

  /** Known versions of paths not held here, in path order. */
  async * knownRecords (folderId: string): AsyncGenerator<StoredRecord> {
    for await (const value of this.iterate(() => this.db.values(keys.prefixRange(keys.knownPrefix(folderId))))) yield decodeStoredRecord(value)
  }

  /**
   * Takes records out of the index without a tombstone (a copy of a path outside the selection
   * was removed here: peers must not take that as a deletion), keeping `known` as the known
   * versions of their paths (the caller leaves out one already known that is newer). Atomic and
   * durable; nothing is announced.
   */
  async forgetRecords (folderId: string, records: StoredRecord[], known: FileRecord[]): Promise<void> {
    if (records.length === 0) return
    const batch: Batch = []
    for (const r of records) {
      batch.push({ type: 'del', key: keys.indexKey(folderId, r.path) })
      batch.push({ type: 'del', key: keys.sequenceKey(folderId, r.sequence) })
    }
    for (const r of known) batch.push({ type: 'put', key: keys.knownKey(folderId, r.path), value: encodeStoredRecord({ ...r, inode: 0 }) })
    this.forgetTotals(folderId)
    await this.write(async () => await writeDurably(this.db, batch))
  }

  // ---- folder types ------------------------------------------------------------------------

  /**
   * Receive-only: the cluster's record of a locally changed path, from before its first local
   * change (null: the cluster had none, the path was added here); undefined when the path is not
   * locally changed. Written and dropped by `commit` along with the record's `isLocalOnly`.
   */
  async localBase (folderId: string, path: string): Promise<StoredRecord | null | undefined> {
    const bytes = await this.read(async () => await this.db.get(keys.localBaseKey(folderId, path)))
    return bytes === undefined ? undefined : decodeBase(bytes)
  }

  /** Every locally changed path of a folder with its cluster record, in path order. */
  async * localChanges (folderId: string): AsyncGenerator<{ path: string, base: StoredRecord | null }> {
    const prefix = keys.localBasePrefix(folderId)
    for await (const [key, value] of this.iterate(() => this.db.iterator(keys.prefixRange(prefix)))) yield { path: key.slice(prefix.length), base: decodeBase(value) }
  }

  /** Send-only: the newest remote record of a path not applied here, if any. */
  async getIgnored (folderId: string, path: string): Promise<StoredRecord | undefined> {
    const bytes = await this.read(async () => await this.db.get(keys.ignoredKey(folderId, path)))
    return bytes === undefined ? undefined : decodeStoredRecord(bytes)
  }

  async putIgnored (folderId: string, records: FileRecord[]): Promise<void> {
    if (records.length === 0) return
    await this.write(async () => await writeDurably(this.db, records.map(r => ({ type: 'put' as const, key: keys.ignoredKey(folderId, r.path), value: encodeStoredRecord({ ...r, inode: 0 }) }))))
  }

  /** Send-only: remote records not applied here, in path order. */
  async * ignoredRecords (folderId: string): AsyncGenerator<StoredRecord> {
    for await (const value of this.iterate(() => this.db.values(keys.prefixRange(keys.ignoredPrefix(folderId))))) yield decodeStoredRecord(value)
  }

  async dropIgnored (folderId: string, paths: string[]): Promise<void> {
    if (paths.length === 0) return
    await this.write(async () => await writeDurably(this.db, paths.map(p => ({ type: 'del' as const, key: keys.ignoredKey(folderId, p) }))))
  }

  // ---- peers -------------------------------------------------------------------------------

  async getPeerState (folderId: string, deviceShort: string): Promise<PeerState | undefined> {
    const bytes = await this.read(async () => await this.db.get(keys.peerKey(folderId, deviceShort)))
    return bytes === undefined ? undefined : decodeValue<PeerState>(bytes)
  }

  /** Forgets how far every peer's manifest was applied: the next sessions send it whole again. */
  async forgetPeerStates (folderId: string): Promise<void> {
    await this.write(async () => await this.db.clear(keys.prefixRange(keys.peerPrefix(folderId))))
  }

  async setPeerState (folderId: string, deviceShort: string, state: PeerState): Promise<void> {
    await this.write(async () => await this.db.put(keys.peerKey(folderId, deviceShort), encodeValue(state), { sync: true }))
  }

  // ---- failed writes -------------------------------------------------------------------------

  /** Throws the write failure unless the store can write (reopening it first if a write failed). */
  async assertWritable (): Promise<void> {
    if (this.writeError !== undefined) await this.reopen()
  }

  /** Runs one read, after a reopen in progress; a read the reopen cut off is STORE_IO (retried like a failed write). */
  private async read<T> (work: () => Promise<T>): Promise<T> {
    if (this.reopening !== undefined) await this.reopening.catch(() => {})
    try {
      return await work()
    } catch (err) {
      throw this.readError(err)
    }
  }

  /** Iterates what the block packs yield, after a reopen in progress; a read the reopen cut short ends with STORE_IO. */
  private async * iterateSource<T> (make: () => AsyncIterable<T>): AsyncGenerator<T> {
    if (this.reopening !== undefined) await this.reopening.catch(() => {})
    try {
      for await (const item of make()) yield item
    } catch (err) {
      throw this.readError(err)
    }
  }

  /** Iterates a LevelDB range (see `batches`). */
  private async * iterate<T> (make: () => RangeIterator<T>): AsyncGenerator<T> {
    for await (const batch of this.batches(make)) yield * batch
  }

  /**
   * Iterates a range a batch at a time: one await per batch, not per entry. Walking an index of
   * 100,000 entries one `next()` at a time cost three awaits an entry through the iterator's
   * async generator and ours.
   */
  private async * batches<T> (make: () => RangeIterator<T>, size = RANGE_BATCH_ENTRIES): AsyncGenerator<T[]> {
    if (this.reopening !== undefined) await this.reopening.catch(() => {})
    let iterator: RangeIterator<T> | undefined
    try {
      iterator = make()
      for (;;) {
        const batch = await iterator.nextv(size)
        if (batch.length === 0) return
        yield batch
      }
    } catch (err) {
      throw this.readError(err)
    } finally {
      await iterator?.close().catch(() => {}) // a database closed meanwhile closed it already
    }
  }

  private readError (err: any): unknown {
    if (this.isClosed || (err?.code !== 'LEVEL_DATABASE_NOT_OPEN' && err?.code !== 'LEVEL_ITERATOR_NOT_OPEN')) return err
    return new LansyncError('STORE_IO', `the store ${this.dir} is being reopened after a failed write${this.writeError !== undefined ? ` (${this.writeError.message})` : ''}; try again`, { cause: err })
  }

  /** Runs one write; a failure is mapped to STORE_FULL or STORE_IO and stops writes until a reopen. */
  private async write<T> (work: () => Promise<T>): Promise<T> {
    if (this.writeError !== undefined) await this.reopen()
    try {
      return await work()
    } catch (err: any) {
      if (this.isClosed) throw err
      if (isStoreWriteError(err)) { // a pack file write or sync (block-packs.ts maps those itself)
        this.writeError = err
        throw err
      }
      if (err?.code !== 'LEVEL_IO_ERROR') throw err
      const message: string = err.message ?? String(err)
      this.writeError = isNoSpace(message)
        ? new LansyncError('STORE_FULL', `the disk holding the store is full: cannot write to ${this.dir} (${message}); free some space there, lansync goes on by itself`, { cause: err })
        : new LansyncError('STORE_IO', `cannot write to the store ${this.dir}: ${message}`, { cause: err })
      throw this.writeError
    }
  }

  /**
   * Reopens the database after a failed write, once the disk has room to turn the write-ahead log
   * into a table (else it stays as it is, readable, and the failure is thrown again). One reopen
   * at a time; reads and writes that start meanwhile wait for it.
   */
  private async reopen (): Promise<void> {
    this.reopening ??= this.reopenNow().finally(() => { this.reopening = undefined })
    await this.reopening
  }

  private async reopenNow (): Promise<void> {
    const failed = this.writeError
    if (failed === undefined) return
    const freeBytes = await freeBytesAt(this.dir)
    const needBytes = await logBytes(this.dir) + REOPEN_MARGIN_BYTES
    if (freeBytes < needBytes) throw failed
    if (this.db.status === 'open') await this.db.close()
    try {
      await this.db.open()
    } catch (err: any) {
      throw new LansyncError(failed.code, `${failed.message}; reopening it failed: ${err?.cause?.message ?? err?.message}`, { cause: err })
    }
    this.writeError = undefined
    this.metas.clear() // a write reported failed may be in the log after all: read the sequences again
    this.totals.clear()
    this.indexGeneration += 1
  }
}

/** A stored record, or null (msgpack nil: "no record"). */
function decodeBase (bytes: Uint8Array): StoredRecord | null {
  return decodeValue<unknown>(bytes) === null ? null : decodeStoredRecord(bytes)
}

/** Whether a LevelDB error message says the disk is full (it carries the OS's text, not errno). */
function isNoSpace (message: string): boolean {
  return /no space left|ENOSPC|quota exceeded/i.test(message)
}

async function freeBytesAt (dir: string): Promise<number> {
  const s = await statfs(dir)
  return s.bavail * s.bsize
}

/** The bytes of LevelDB's write-ahead logs in `dir` (what a reopen writes into a table). */
async function logBytes (dir: string): Promise<number> {
  let n = 0
  for (const name of await readdir(dir)) {
    if (name.endsWith('.log')) n += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size
  }
  return n
}
