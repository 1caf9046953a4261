// Walks a folder and turns what changed on disk into index records and history versions.
// Only files whose size, mtime or inode changed are re-hashed; a file that changes while being
// hashed is re-read and never recorded half-written; per-file problems never abort the scan.
import { lstat, readdir, readlink, stat, unlink } from 'node:fs/promises'
import { createHash } from 'node:crypto'
import { join } from 'node:path'
import type { Stats } from 'node:fs'
import { EventEmitter } from 'node:events'
import { bumpVector } from '../core/clock.js'
import type { BlockRef, DeviceShort, FileKind } from '../core/types.js'
import { LansyncError, isLansyncError } from '../errors.js'
import { normaliseWirePath } from '../core/paths.js'
import { MARKER_DIR } from '../config.js'
import { isStoreWriteError, type Change, type Store, type StoredRecord } from '../store/store.js'
import { hashFileStable, hashSmallFileStable, SYNC_READ_MAX_BYTES, WHOLE_READ_MAX_BYTES, type StableHashResult } from './hasher.js'
import { mapInOrder } from './in-order.js'
import { lstatOrError } from './lstat-now.js'
import { IgnoreRules, isTempFile } from './ignore-rules.js'
import { crashPoint } from '../fault.js'
import { isKnownNews, vectorOverKnown } from '../core/selection.js'

export const EMPTY_HASH = createHash('sha256').digest()

/** Sibling entries lstat'ed and looked up in the index together (bounds the memory of a huge directory). */
const DIR_CHUNK_ENTRIES = 512
/**
 * Synchronous reads of small files slower than this on average mean slow storage: the scan goes
 * back to async reads. Measured here: 12 µs a file from the page cache, 108 µs cold from the SSD.
 */
const SLOW_SYNC_READ_MS = 1
/** Reads the average is taken over (the weight of the newest is 1 in this many). */
const SYNC_READ_AVERAGE_OVER = 32
/** Files hashed at once, and the bytes they may hold together (files read whole; see hasher). */
const HASH_CONCURRENCY = 8
const HASH_MAX_BYTES_IN_FLIGHT = 8 * 1024 * 1024
/** Block puts of one file in flight at once (at most 16 blocks of 256 KiB held: 4 MiB). */
const BLOCK_PUTS_IN_FLIGHT = 16

/** What status and the log say of a folder whose marker is gone (an unmounted disk). */
export function markerMissingMessage (folderPath: string): string {
  return `folder marker missing at ${join(folderPath, MARKER_DIR)}: is the disk mounted? (nothing is scanned or applied until it is back, so nothing is taken as deleted)`
}

export interface ScanProblem { path: string, code: string, message: string }

export interface ScanResult {
  added: string[]
  modified: string[]
  deleted: string[]
  renamed: Array<{ from: string, to: string }>
  /**
   * Paths outside the selection whose copy was removed here: taken out of the index without a
   * tombstone (peers keep theirs), their versions still known for `lansync fetch`.
   */
  forgotten: string[]
  /** The ignore rules changed since the last scan (paths this scan did not cover may have changed state). */
  isRulesChanged: boolean
  /** Temp files of writes cut short (a crash between writing and renaming) that this scan removed. */
  staleTempsRemoved: string[]
  problems: ScanProblem[]
  filesHashed: number
  bytesHashed: number
}

export interface ScanProgress { filesDone: number, filesTotal: number, bytesDone: number, bytesTotal: number }

interface ScannerEvents {
  progress: [ScanProgress]
  problem: [ScanProblem]
  /**
   * Records just committed, a batch at a time (the runner announces them at once). A scan keeps
   * none of them itself, so its memory does not grow with the folder: a first scan of 100,000
   * files held every record to the end (5 KB a file).
   */
  committed: [StoredRecord[]]
}

export interface ScannerOptions {
  folderId: string
  root: string
  store: Store
  device: DeviceShort
  now?: () => number
  /**
   * Our temp files whose inode changed before this time (ms) are left over from a write that never
   * finished, and are removed. A write in progress touched its temp file after the process started
   * (its last touch, setting the mtime, also sets the ctime), so pass the process's start time.
   */
  staleTempsBeforeMs?: number
  /** Commit after this many changes or this many hashed bytes, whichever comes first. */
  batchChanges?: number
  batchBytes?: number
  /**
   * Whether this device holds a path (selective sync; default: every path). A path outside the
   * selection that is gone from disk is forgotten, never made a tombstone.
   */
  isSelected?: (path: string, kind: FileKind) => boolean
  /** Receive-only folders: whether changes found now are local-only (kept here, not sent; see StoredRecord). */
  isLocalOnly?: () => boolean
}

/** A path whose disk state differs from the index; `isGone` when it no longer exists at all. */
interface Candidate { path: string, kind: FileKind, sizeBytes: number, mtimeMs: number, mode: number, inode: number, previous?: StoredRecord, isGone: boolean, isForgotten?: boolean, /** Bytes read to describe it (0 for a move known by inode), set by describe: with several files hashed at once, result.bytesHashed cannot tell whose bytes they were. */ hashedBytes?: number }

/** A scan's commits under way: changes not yet committed, and what the result needs at the end. */
interface ApplyState {
  result: ScanResult
  goneByInode: Map<number, StoredRecord>
  goneHashes: Map<string, string>
  /** New files whose content a gone file had (renames). */
  renameTargets: StoredRecord[]
  /** Records of paths outside the selection whose copy was removed (see `forget`). */
  forgotten: StoredRecord[]
  pending: Change[]
  pendingBytes: number
  flushedAtMs: number
  /** Files and bytes to describe, as far as known (they grow while a walk applies as it goes). */
  filesTotal: number
  bytesTotal: number
}

/** What a walk of the disk is gathering into. */
interface Walk {
  result: ScanResult
  /** Every path found on disk, for `collectDeletions` (not kept when nothing can be gone). */
  seen?: Set<string>
  /** Candidates held until the walk ends, when a new file may be a gone one moved. */
  held?: Candidate[]
  /** Or: applies candidates as they are found, when nothing can be gone. */
  apply?: (found: Candidate[]) => Promise<void>
}

/** A scan commits what it has at least this often, so that peers can fetch while it goes on. */
const COMMIT_AFTER_MS = 200

export class Scanner extends EventEmitter<ScannerEvents> {
  readonly folderId: string
  readonly root: string
  private readonly store: Store
  private readonly device: DeviceShort
  private readonly now: () => number
  private readonly staleTempsBeforeMs: number
  private readonly batchChanges: number
  private readonly batchBytes: number
  private readonly isLocalOnly: () => boolean
  readonly ignore: IgnoreRules
  private readonly isSelected: (path: string, kind: FileKind) => boolean
  private isStopping = false
  /**
   * Small files are read synchronously (see SYNC_READ_MAX_BYTES) until such reads hold the thread
   * longer than SLOW_SYNC_READ_MS on average (a spinning disk, a network mount): then the rest of
   * the scan reads through the thread pool, where waits overlap. Each scan tries again.
   */
  private isSyncReadFast = true
  private syncReadAverageMs = 0

  constructor ({ folderId, root, store, device, now = Date.now, staleTempsBeforeMs = 0, batchChanges = 500, batchBytes = 64 * 1024 * 1024, isSelected = () => true, isLocalOnly = () => false }: ScannerOptions) {
    super()
    this.isSelected = isSelected
    this.isLocalOnly = isLocalOnly
    this.staleTempsBeforeMs = staleTempsBeforeMs
    this.folderId = folderId
    this.root = root
    this.store = store
    this.device = device
    this.now = now
    this.batchChanges = batchChanges
    this.batchBytes = batchBytes
    this.ignore = new IgnoreRules(root)
  }

  /**
   * Ends a scan under way at its next file or directory chunk with SCAN_STOPPED, and any later
   * one at once (the agent is stopping: a first scan of 100,000 files held a Ctrl-C for 13 s).
   * What it committed stays; the rest is found by the next start's scan.
   */
  stop (): void {
    this.isStopping = true
  }

  private throwIfStopped (): void {
    if (this.isStopping) throw new LansyncError('SCAN_STOPPED', `the scan of ${this.root} was stopped (the agent is stopping)`)
  }

  /** Scans the whole folder. */
  async scanAll (): Promise<ScanResult> {
    return await this.scanPaths([''])
  }

  /**
   * Scans the given relative paths ('' is the whole folder): each is compared with the index, a
   * directory with everything under it, a missing path (and everything under it) becomes tombstones.
   */
  async scanPaths (paths: Iterable<string>): Promise<ScanResult> {
    this.throwIfStopped()
    this.isSyncReadFast = true
    this.syncReadAverageMs = 0
    await this.assertMarker()
    const isRulesChanged = this.ignore.reload()
    const result: ScanResult = { isRulesChanged, added: [], modified: [], deleted: [], renamed: [], forgotten: [], staleTempsRemoved: [], problems: [], filesHashed: 0, bytesHashed: 0 }
    const roots = collapse(paths)
    // Where the index holds nothing under the scanned paths (a folder's first scan), nothing can
    // be gone or moved: what the walk finds is applied as it is found, and neither the paths seen
    // nor the candidates are kept to the end (100,000 new files held 25 MiB until the last).
    if (await this.isIndexEmptyUnder(roots)) {
      const state = this.startApply(result, new Map(), new Map())
      for (const path of roots) await this.collect(path, { result, apply: async found => { await this.applyCandidates(state, found) } })
      await this.finishApply(state)
      return result
    }
    const candidates: Candidate[] = []
    const seen = new Set<string>()
    for (const path of roots) {
      await this.collect(path, { result, seen, held: candidates })
      await this.collectDeletions(path, seen, candidates, result)
    }
    // A disk unmounted while we walked it looks like files vanishing one by one: look again before
    // any of them becomes a tombstone.
    if (candidates.some(c => c.isGone)) await this.assertMarker()
    const goneHashes = new Map<string, string>()
    const goneByInode = new Map<number, StoredRecord>()
    for (const c of candidates) {
      if (c.isGone && c.previous !== undefined && c.previous.kind === 'file' && c.previous.sizeBytes > 0) {
        goneHashes.set(Buffer.from(c.previous.hash).toString('hex'), c.path)
        if (c.previous.inode !== 0) goneByInode.set(c.previous.inode, c.previous)
      }
    }
    const state = this.startApply(result, goneByInode, goneHashes)
    await this.applyCandidates(state, candidates)
    const renameTargets = await this.finishApply(state)
    detectRenames(result, goneHashes, renameTargets)
    return result
  }

  /** Whether the index holds no record at or under any of `roots`. */
  private async isIndexEmptyUnder (roots: string[]): Promise<boolean> {
    for (const root of roots) {
      if (root !== '' && await this.store.getRecord(this.folderId, root) !== undefined) return false
      for await (const batch of this.store.indexPaths(this.folderId, root)) if (batch.length > 0) return false
    }
    return true
  }

  private async assertMarker (): Promise<void> {
    try {
      const s = await stat(join(this.root, MARKER_DIR))
      if (s.isDirectory()) return
    } catch {}
    throw new LansyncError('FOLDER_MARKER_MISSING', markerMissingMessage(this.root))
  }

  /** Gathers entries at and under `path` that differ from the index. */
  private async collect (path: string, walk: Walk): Promise<void> {
    if (path === '') { await this.collectDir('', walk); return }
    await this.collectEntries([path], walk)
  }

  /**
   * Gathers the entries of the directory `dir` and everything below it, in path order (each
   * directory's names sorted, a directory's subtree right after it).
   */
  private async collectDir (dir: string, walk: Walk): Promise<void> {
    let names: string[]
    try {
      // One call for the whole listing (the names are all held for sorting anyway).
      names = await readdir(join(this.root, dir))
    } catch (err: any) {
      if (err.code !== 'ENOENT' && err.code !== 'ENOTDIR') this.problem(walk.result, dir, 'PATH_UNREADABLE', err.message)
      return
    }
    if (dir === '') names = names.filter(name => name !== MARKER_DIR)
    names.sort()
    for (let i = 0; i < names.length; i += DIR_CHUNK_ENTRIES) {
      await this.collectEntries(names.slice(i, i + DIR_CHUNK_ENTRIES).map(name => dir === '' ? name : `${dir}/${name}`), walk)
    }
  }

  /**
   * Compares sibling paths (or one path) with the index: they are lstat'ed in turn on this thread
   * (see lstatOrError) and their records come in one LevelDB read, so an unchanged file costs a
   * share of a round trip, not a get of its own. A directory among them is then walked, in order.
   */
  private async collectEntries (paths: string[], walk: Walk): Promise<void> {
    this.throwIfStopped()
    const { result } = walk
    const entries: Array<{ path: string, kind: FileKind, s: Stats }> = []
    for (const path of paths) {
      const s = lstatOrError(join(this.root, path))
      if (s === undefined) continue // gone meanwhile
      if (s instanceof Error) { this.problem(result, path, 'PATH_UNREADABLE', s.message); continue }
      const kind: FileKind | undefined = s.isFile() ? 'file' : s.isDirectory() ? 'dir' : s.isSymbolicLink() ? 'symlink' : undefined
      if (kind === undefined) { this.problem(result, path, 'PATH_UNSUPPORTED', 'not a file, directory or symlink; skipped'); continue }
      if (kind === 'file' && isTempFile(path) && s.ctimeMs < this.staleTempsBeforeMs) {
        await unlink(join(this.root, path)).then(() => result.staleTempsRemoved.push(path), () => {})
        continue
      }
      if (this.ignore.isIgnored(path, kind === 'dir')) continue
      entries.push({ path, kind, s })
    }
    const records = await this.store.getRecords(this.folderId, entries.map(e => e.path))
    let found: Candidate[] = []
    const pass = async (): Promise<void> => {
      if (walk.apply !== undefined) await walk.apply(found)
      else walk.held?.push(...found)
      found = []
    }
    for (const [i, { path, kind, s }] of entries.entries()) {
      // A path the index holds was checked when it came in (from disk or from a peer): only new names are.
      const unsyncable = records[i] === undefined ? whyUnsyncable(path) : undefined
      if (unsyncable !== undefined) { this.problem(result, path, 'PATH_UNSYNCABLE', unsyncable); continue }
      walk.seen?.add(path)
      const candidate: Candidate = { path, kind, sizeBytes: kind === 'file' ? s.size : 0, mtimeMs: Math.floor(s.mtimeMs), mode: s.mode & 0o7777, inode: s.ino, previous: records[i], isGone: false }
      if (await this.hasChanged(candidate)) found.push(candidate)
      // In path order: a directory, then its subtree, then its next sibling.
      if (kind === 'dir') { await pass(); await this.collectDir(path, walk) }
    }
    await pass()
  }

  private async hasChanged (c: Candidate): Promise<boolean> {
    const p = c.previous
    if (p === undefined || p.isDeleted || p.kind !== c.kind || p.mode !== c.mode) return true
    if (c.kind === 'file') return p.sizeBytes !== c.sizeBytes || p.mtimeMs !== c.mtimeMs || (p.inode !== 0 && p.inode !== c.inode)
    if (c.kind === 'symlink') {
      try { return (await readlink(join(this.root, c.path))) !== p.linkTarget } catch { return true }
    }
    return false
  }

  /** Index entries at or under `path` that exist no more become tombstone candidates. */
  private async collectDeletions (path: string, seen: Set<string>, out: Candidate[], result: ScanResult): Promise<void> {
    const check = async (record: StoredRecord): Promise<void> => {
      if (record.isDeleted || seen.has(record.path)) return
      if (this.ignore.isIgnored(record.path, record.kind === 'dir')) return
      if (result.problems.some(p => record.path === p.path || record.path.startsWith(p.path + '/'))) return
      // Only a path that is really gone is a deletion (not one we merely failed to read).
      try { await lstat(join(this.root, record.path)); return } catch (err: any) { if (err.code !== 'ENOENT') return }
      const isForgotten = !this.isSelected(record.path, record.kind)
      out.push({ path: record.path, kind: record.kind, sizeBytes: 0, mtimeMs: 0, mode: record.mode, inode: 0, previous: record, isGone: true, isForgotten })
    }
    if (path !== '') {
      const record = await this.store.getRecord(this.folderId, path)
      if (record !== undefined) await check(record)
    }
    // Paths first (no record decoded for each of the many seen on disk), then the records of the
    // rest, a chunk at a time.
    let unseen: string[] = []
    const checkUnseen = async (): Promise<void> => {
      for (const record of await this.store.getRecords(this.folderId, unseen)) if (record !== undefined) await check(record)
      unseen = []
    }
    for await (const batch of this.store.indexPaths(this.folderId, path)) {
      for (const p of batch) {
        if (seen.has(p)) continue
        unseen.push(p)
        if (unseen.length >= DIR_CHUNK_ENTRIES) await checkUnseen()
      }
    }
    await checkUnseen()
  }

  private startApply (result: ScanResult, goneByInode: Map<number, StoredRecord>, goneHashes: Map<string, string>): ApplyState {
    return { result, goneByInode, goneHashes, renameTargets: [], forgotten: [], pending: [], pendingBytes: 0, flushedAtMs: Date.now(), filesTotal: 0, bytesTotal: 0 }
  }

  /**
   * Describes candidates (hashing files several at a time) and commits what they became, in
   * batches. Called once with every candidate, or with each part of a walk as it is found.
   */
  private async applyCandidates (state: ApplyState, candidates: Candidate[]): Promise<void> {
    const { result, goneByInode } = state
    for (const c of candidates) {
      if (c.kind === 'file' && !c.isGone) state.filesTotal += 1
      state.bytesTotal += c.sizeBytes
    }
    const describeOne = async (c: Candidate): Promise<Change | undefined> => {
      if (c.isForgotten === true) return undefined
      return c.isGone && c.previous !== undefined ? this.tombstone(c.previous) : await this.describe(c, result, goneByInode)
    }
    // Several small files are hashed at once (their time is waits on the OS and the store); a file
    // too big to be read whole runs alone, so at most one streaming read's buffers are in use.
    const weight = (c: Candidate): number => c.kind !== 'file' || c.isGone ? 0 : c.sizeBytes > WHOLE_READ_MAX_BYTES ? HASH_MAX_BYTES_IN_FLIGHT : c.sizeBytes
    for await (const [c, change] of mapInOrder(candidates, describeOne, { limit: HASH_CONCURRENCY, weight, maxWeight: HASH_MAX_BYTES_IN_FLIGHT })) {
      this.throwIfStopped()
      if (c.isForgotten === true && c.previous !== undefined) { state.forgotten.push(c.previous); continue }
      if (change === undefined) continue
      if (change.origin !== undefined) change.record.isLocalOnly = this.isLocalOnly()
      const wasPresent = c.previous !== undefined && !c.previous.isDeleted
      if (change.origin === undefined) { /* only local facts (mtime, inode) refreshed: not a change */ } else if (change.record.isDeleted) result.deleted.push(c.path)
      else if (wasPresent) result.modified.push(c.path)
      else result.added.push(c.path)
      state.pending.push(change)
      // Bytes hashed, not file sizes: a moved file costs no hashing, and committing right after it
      // would send its new path and its old path's tombstone to peers in separate batches, where
      // they can no longer see a rename (the puller links the old file only within one batch).
      state.pendingBytes += c.hashedBytes ?? 0
      // Also after a while with no commit: peers start on the first files while the scan goes
      // on (a scan of thousands of new files would otherwise reach them only 500 at a time).
      if (state.pending.length >= this.batchChanges || state.pendingBytes >= this.batchBytes || Date.now() - state.flushedAtMs >= COMMIT_AFTER_MS) await this.flush(state)
      this.emit('progress', { filesDone: result.filesHashed, filesTotal: state.filesTotal, bytesDone: result.bytesHashed, bytesTotal: state.bytesTotal })
    }
  }

  private async flush (state: ApplyState): Promise<void> {
    state.flushedAtMs = Date.now()
    if (state.pending.length > 0) crashPoint('scan:blocks-stored')
    const stored = await this.store.commit(this.folderId, state.pending)
    if (stored.length > 0) this.emit('committed', stored)
    if (state.goneHashes.size > 0) state.renameTargets.push(...stored.filter(r => !r.isDeleted && r.kind === 'file' && r.sizeBytes > 0 && state.goneHashes.has(Buffer.from(r.hash).toString('hex'))))
    state.pending = []
    state.pendingBytes = 0
  }

  /** Commits what is left; returns the new files whose content a gone file had (renames). */
  private async finishApply (state: ApplyState): Promise<StoredRecord[]> {
    await this.flush(state)
    await this.forget(state.forgotten, state.result)
    return state.renameTargets
  }

  /** Copies of paths outside the selection that were removed here: no tombstone, the version stays known. */
  private async forget (records: StoredRecord[], result: ScanResult): Promise<void> {
    if (records.length === 0) return
    const known: StoredRecord[] = []
    for (const r of records) {
      if (isKnownNews(r, await this.store.getKnown(this.folderId, r.path), undefined)) known.push(r)
    }
    await this.store.forgetRecords(this.folderId, records, known)
    result.forgotten.push(...records.map(r => r.path))
  }

  private tombstone (previous: StoredRecord): Change {
    return {
      record: {
        ...previous,
        isDeleted: true,
        sizeBytes: 0,
        blocks: [],
        hash: EMPTY_HASH,
        linkTarget: '',
        mtimeMs: this.now(),
        vector: bumpVector(previous.vector, this.device),
        modifiedBy: this.device,
        inode: 0
      },
      origin: 'local'
    }
  }

  /** Hashes (if needed) and describes the new state of one path; undefined if it vanished or failed. */
  private async describe (c: Candidate, result: ScanResult, goneByInode: Map<number, StoredRecord>): Promise<Change | undefined> {
    const full = join(this.root, c.path)
    const base = {
      path: c.path,
      kind: c.kind,
      mode: c.mode,
      isDeleted: false,
      vector: c.previous === undefined ? await this.newPathVector(c.path) : bumpVector(c.previous.vector, this.device),
      modifiedBy: this.device
    }
    try {
      const moved = c.kind === 'file' && (c.previous === undefined || c.previous.isDeleted) ? goneByInode.get(c.inode) : undefined
      if (moved !== undefined && moved.sizeBytes === c.sizeBytes && moved.mtimeMs === c.mtimeMs) {
        // A rename or move: the same inode, size and mtime that the index trusts on every rescan,
        // so the content is known (and its blocks stored) without reading the file again. Also
        // onto a name that once was there (a tombstone): renaming a file back was a full re-read.
        return { record: { ...base, sizeBytes: moved.sizeBytes, mtimeMs: moved.mtimeMs, blocks: moved.blocks, hash: moved.hash, linkTarget: '', inode: c.inode }, origin: 'local' }
      }
      if (c.kind === 'file') {
        // What it held when last scanned guides the chunker past unchanged content (see BlockCutter in hasher.ts).
        const previous = c.previous !== undefined && !c.previous.isDeleted && c.previous.kind === 'file' ? c.previous.blocks : undefined
        const hashed = await this.hashAndStore(full, c.sizeBytes, previous)
        result.filesHashed += 1
        result.bytesHashed += hashed.sizeBytes
        c.hashedBytes = hashed.sizeBytes
        const p = c.previous
        // Touched but identical content and mode: refresh what we know locally, make no new version.
        if (p !== undefined && !p.isDeleted && p.kind === 'file' && p.mode === c.mode && Buffer.compare(p.hash, hashed.hash) === 0) {
          if (p.mtimeMs !== Math.floor(hashed.stat.mtimeMs) || p.inode !== hashed.stat.ino) {
            return { record: { ...p, mtimeMs: Math.floor(hashed.stat.mtimeMs), inode: hashed.stat.ino } }
          }
          return undefined
        }
        return {
          record: { ...base, sizeBytes: hashed.sizeBytes, mtimeMs: Math.floor(hashed.stat.mtimeMs), blocks: hashed.blocks, hash: hashed.hash, linkTarget: '', inode: hashed.stat.ino },
          origin: 'local'
        }
      }
      if (c.kind === 'symlink') {
        const target = await readlink(full)
        return { record: { ...base, sizeBytes: 0, mtimeMs: c.mtimeMs, blocks: [], hash: EMPTY_HASH, linkTarget: target, inode: c.inode }, origin: 'local' }
      }
      return { record: { ...base, sizeBytes: 0, mtimeMs: c.mtimeMs, blocks: [], hash: EMPTY_HASH, linkTarget: '', inode: c.inode }, origin: 'local' }
    } catch (err) {
      if (isLansyncError(err, 'PATH_NOT_FOUND')) return undefined // gone meanwhile: the next scan sees the deletion
      if (isStoreWriteError(err)) throw err // the store cannot record anything: the whole scan fails, and is retried
      if (isLansyncError(err)) { this.problem(result, c.path, err.code, err.message); return undefined }
      const e = err as NodeJS.ErrnoException
      if (e.code === 'ENOENT') return undefined
      this.problem(result, c.path, 'PATH_UNREADABLE', e.message)
      return undefined
    }
  }

  /**
   * Hashes a file and stores its blocks, several puts in flight while the file is read on: one
   * put (a lookup and a write) awaited per block kept the read waiting on the store. Every put has
   * finished (or the first failure is thrown) before this returns, so a commit never references
   * a block the store does not hold.
   */
  private async hashAndStore (path: string, sizeBytes: number, previous?: readonly BlockRef[]): Promise<StableHashResult> {
    const inFlight = new Set<Promise<void>>()
    let failure: { error: unknown } | undefined
    const onBlock = async (hash: Uint8Array, bytes: Uint8Array): Promise<void> => {
      if (failure !== undefined) throw failure.error
      if (await this.store.hasBlock(hash)) return
      // Copied: the put outlives this call, and the hasher reuses `bytes` after it.
      const put: Promise<void> = this.store.putBlock(hash, Buffer.from(bytes), { isKnownMissing: true })
        .catch((error: unknown) => { failure ??= { error } })
        .finally(() => inFlight.delete(put))
      inFlight.add(put)
      if (inFlight.size >= BLOCK_PUTS_IN_FLIGHT) await Promise.race(inFlight)
    }
    let hashed: StableHashResult | undefined
    try {
      if (sizeBytes <= SYNC_READ_MAX_BYTES && this.isSyncReadFast) {
        const read = await hashSmallFileStable(path, { onBlock })
        if (read !== undefined) {
          // A running average, not one read: a cold file on an SSD or a hiccup of the machine
          // takes a few ms now and then; a spinning disk or a network mount takes that every time.
          this.syncReadAverageMs += (read.readMs - this.syncReadAverageMs) / SYNC_READ_AVERAGE_OVER
          if (this.syncReadAverageMs > SLOW_SYNC_READ_MS) this.isSyncReadFast = false
        }
        hashed = read
      }
      hashed ??= await hashFileStable(path, { onBlock, previous })
    } catch (err) {
      await Promise.all(inFlight)
      throw failure !== undefined ? failure.error : err // a store that cannot write fails the scan, whatever the file did
    }
    await Promise.all(inFlight)
    if (failure !== undefined) throw failure.error
    return hashed
  }

  /**
   * The vector of a path this index has never held: `{epoch: 1}`, keyed by the index's epoch (a
   * random 16-hex id of this incarnation of the index), not `{device: 1}`. Such a file was not
   * made from any version this index knows, so its vector must be concurrent with every vector
   * made before the index existed. After a wiped database the device's own counters start again
   * at 1, and `{device: 1}` would equal or trail the records peers still hold of its old edits:
   * an offline edit would then be overwritten by a stale version, or ignored. With the epoch key
   * a rejoining device's files meet the peers' as concurrent: the same bytes merge (no transfer),
   * different bytes become a conflict with both kept. The same holds for a folder added on two
   * devices that both already hold files. Later edits bump the device's own counter as usual.
   */
  private async firstVector (): Promise<Record<string, number>> {
    const { epoch } = await this.store.folderMeta(this.folderId)
    return { [epoch]: 1 }
  }

  /** A first vector, or one concurrent with the version known of a path not held here (see vectorOverKnown). */
  private async newPathVector (path: string): Promise<Record<string, number>> {
    const known = await this.store.getKnown(this.folderId, path)
    if (known === undefined) return await this.firstVector()
    const { epoch } = await this.store.folderMeta(this.folderId)
    return vectorOverKnown(known.vector, epoch, this.device)
  }

  private problem (result: ScanResult, path: string, code: string, message: string): void {
    const problem = { path, code, message }
    result.problems.push(problem)
    this.emit('problem', problem)
  }
}

/**
 * Why a local name cannot go on the wire (protocol.md, "Paths"): a backslash or control character,
 * or a name not in Unicode NFC, which a peer would store under another name. Such a path is
 * reported and left alone (never indexed, so never sent, never deleted anywhere); undefined if fine.
 */
function whyUnsyncable (path: string): string | undefined {
  try {
    if (normaliseWirePath(path) !== path) return 'the name is not in Unicode NFC form, so other devices would store it under a different name; rename it to sync it'
  } catch (err) {
    if (isLansyncError(err)) return `${err.message.replace(/^path /, 'the name ')}; rename it to sync it`
    throw err
  }
  return undefined
}

/** Drops paths already covered by an ancestor in the list ('' covers everything). */
function collapse (paths: Iterable<string>): string[] {
  const sorted = [...new Set(paths)].sort()
  const out: string[] = []
  for (const p of sorted) {
    const covered = out.some(q => q === '' || p === q || p.startsWith(q + '/'))
    if (!covered) out.push(p)
  }
  return out
}

/** A deleted file and an added file with the same content in one scan are reported as a rename. */
function detectRenames (result: ScanResult, goneHashes: Map<string, string>, added: StoredRecord[]): void {
  for (const r of added) {
    if (r.isDeleted || r.kind !== 'file' || r.sizeBytes === 0) continue
    const key = Buffer.from(r.hash).toString('hex')
    const from = goneHashes.get(key)
    if (from === undefined || !result.added.includes(r.path)) continue
    goneHashes.delete(key)
    result.renamed.push({ from, to: r.path })
  }
}
