// Pack files: the append-only files under `<store>/packs/` that hold block bytes (block-packs.ts
// keeps the index that finds them). One pack, `NNNNNNNN.pack` (its number, decimal, 8 digits):
//
//   "LSPACK01" (8 bytes) | record | record | …      record = hash (32 bytes, SHA-256 of the bytes)
//                                                           | length (u32 BE) | the block's bytes
//
// Only the process that created a pack appends to it, and never after the store is opened again:
// a crash can leave a torn last record, which is dead space that no index entry points at. The
// hash in each record makes a pack readable on its own (a check on every read, and a way to
// rebuild the index). No compression: LevelDB's Snappy, which blocks went through before, gained
// nothing on the random-looking content of most blocks and cost CPU on every write.
import { mkdir, open, readdir, stat, unlink, type FileHandle } from 'node:fs/promises'
import { readSync } from 'node:fs'
import { join } from 'node:path'
import { LansyncError, isLansyncError } from '../errors.js'

export const PACK_MAGIC = Buffer.from('LSPACK01')
export const RECORD_HEADER_BYTES = 36

/** Where one block's bytes are: pack number, byte offset of the bytes (after the record header), length. */
export interface PackLocation { pack: number, offset: number, sizeBytes: number }

/** Whether these records lie one right after another in one pack (as a file's blocks appended together do). */
export function isRun (locs: PackLocation[]): boolean {
  if (locs.length === 0) return false
  for (let i = 1; i < locs.length; i++) {
    const before = locs[i - 1]
    if (locs[i].pack !== before.pack || locs[i].offset !== before.offset + before.sizeBytes + RECORD_HEADER_BYTES) return false
  }
  return true
}

/**
 * Reads up to this size are made on the calling thread. A read through libuv's thread pool costs
 * the main thread 10–50 µs of dispatch, completion and thread wake-ups whatever its size, while a
 * small read from the page cache takes 4–6 µs (10,000 reads of 8 KiB: 0.47 s of CPU through
 * fs/promises one at a time, 0.13–0.18 s sixteen at a time, 0.05–0.07 s synchronously). Serving
 * or assembling 10,000 small files is 10,000 such reads on each side. A block not in the cache
 * holds the event loop for one disk read of at most this size.
 */
const SYNC_READ_MAX_BYTES = 64 * 1024
/** Open read handles kept at most (least recently used ones are closed first). */
const MAX_READERS = 32
/** One write takes at most this many queued records (they lie end to end: one writev). */
const MAX_RECORDS_PER_WRITE = 256

/** A record waiting for its write: its byte range is taken already. */
interface QueuedRecord { offset: number, parts: Uint8Array[], resolve: () => void, reject: (err: unknown) => void }

/** A pack this process appends to, or did, until its bytes are synced. */
interface Writer {
  readonly number: number
  readonly fh: FileHandle
  endOffset: number
  /** A write failed: no more appends (what follows the last good record may be torn). */
  isFailed: boolean
  /** Records taken but not written yet, in offset order; written by one loop at a time (`isWriting`). */
  readonly queue: QueuedRecord[]
  isWriting: boolean
  readonly synced: SyncPoint
}

interface Reader { readonly fh: FileHandle, users: number, isRetired: boolean }

export class PackFiles {
  readonly dir: string
  private readonly maxPackBytes: number
  private nextNumber: number
  private current: Writer | undefined
  private rotating: Promise<Writer> | undefined
  private readonly writers = new Map<number, Writer>()
  private readonly readers = new Map<number, Reader>() // in least recently used order
  private readonly dirSynced: SyncPoint

  private constructor (dir: string, nextNumber: number, maxPackBytes: number) {
    this.dir = dir
    this.nextNumber = nextNumber
    this.maxPackBytes = maxPackBytes
    this.dirSynced = new SyncPoint(async () => await syncDirectory(dir))
  }

  /** Opens the packs directory (creating it). Appends go to a new pack, created at the first one. */
  static async open (dir: string, { maxPackBytes }: { maxPackBytes: number }): Promise<PackFiles> {
    try {
      await mkdir(dir, { recursive: true })
      const numbers = (await readdir(dir)).map(packNumber).filter((n): n is number => n !== undefined)
      return new PackFiles(dir, Math.max(0, ...numbers) + 1, maxPackBytes)
    } catch (err) {
      throw writeFailure(dir, err)
    }
  }

  /** Every pack on disk with its size in bytes, in number order. */
  async list (): Promise<Array<{ number: number, sizeBytes: number }>> {
    const out = []
    for (const n of (await readdir(this.dir)).map(packNumber).filter((n): n is number => n !== undefined).sort((a, b) => a - b)) {
      const s = await stat(this.path(n)).catch(() => undefined)
      if (s !== undefined) out.push({ number: n, sizeBytes: s.size })
    }
    return out
  }

  /**
   * The lowest number of a pack that appends go to, or went to and are not synced yet (or of the
   * next pack): new index entries may come to point into it or any later pack, never an earlier one.
   */
  get oldestOpenPack (): number { return Math.min(this.nextNumber, ...this.writers.keys()) }

  /**
   * Appends one block and returns where its bytes are once they are written; durable after `sync`.
   * Concurrent appends take consecutive byte ranges and go out together: those that arrive while
   * a write is under way make the next single write (a group commit, one round trip to the
   * thread pool for many blocks). A failed write is STORE_FULL or STORE_IO for every append it
   * held, and the next append starts a new pack.
   */
  async append (hash: Uint8Array, bytes: Uint8Array): Promise<PackLocation> {
    const recordBytes = RECORD_HEADER_BYTES + bytes.byteLength
    for (;;) {
      const w = await this.writable()
      if (w.isFailed) continue // failed while this append waited for its turn
      if (w.endOffset + recordBytes > this.maxPackBytes && w.endOffset > PACK_MAGIC.length) {
        if (this.current === w) this.current = undefined // full: rotate
        continue
      }
      const offset = w.endOffset
      w.endOffset += recordBytes
      const header = Buffer.allocUnsafe(RECORD_HEADER_BYTES)
      header.set(hash, 0)
      header.writeUInt32BE(bytes.byteLength, 32)
      await new Promise<void>((resolve, reject) => {
        w.queue.push({ offset, parts: [header, bytes], resolve, reject })
        if (!w.isWriting) void this.writeQueued(w)
      })
      return { pack: w.number, offset: offset + RECORD_HEADER_BYTES, sizeBytes: bytes.byteLength }
    }
  }

  /** Writes what is queued for `w`, as many records per write as are waiting, until none is. */
  private async writeQueued (w: Writer): Promise<void> {
    w.isWriting = true
    while (w.queue.length > 0) {
      const batch = w.queue.splice(0, MAX_RECORDS_PER_WRITE)
      try {
        await writeFully(w.fh, batch.flatMap(r => r.parts), batch[0].offset)
      } catch (err) {
        // What follows the last good record may be torn: nothing more goes to this pack.
        w.isFailed = true
        if (this.current === w) this.current = undefined
        const failure = writeFailure(this.dir, err)
        for (const r of [...batch, ...w.queue.splice(0)]) r.reject(failure)
        break
      }
      w.synced.noteChange()
      for (const r of batch) r.resolve()
    }
    w.isWriting = false
  }

  /**
   * Makes every append to these packs that completed before this call durable, and the packs'
   * names in the directory. A pack that cannot be synced stays unsyncable (after a failed fsync,
   * Linux may report the next one clean without having written the pages): `isLost` says so.
   */
  async sync (packs: Iterable<number>): Promise<void> {
    for (const n of packs) {
      const w = this.writers.get(n)
      if (w === undefined) continue // synced and closed already
      try {
        await w.synced.wait()
      } catch (err) {
        throw writeFailure(this.dir, err)
      }
      if (w !== this.current && !w.isWriting && w.synced.isSynced) {
        this.writers.delete(n)
        await w.fh.close().catch(() => {})
      }
    }
    try {
      await this.dirSynced.wait()
    } catch (err) {
      this.dirSynced.reset() // a directory entry: syncing again is sound
      throw writeFailure(this.dir, err)
    }
  }

  /** Whether appends to pack `n` were lost to a failed fsync (they must never be indexed). */
  isLost (n: number): boolean { return this.writers.get(n)?.synced.hasFailed === true }

  /**
   * Reads the block at `loc`, checking that the record there is `hash`'s; undefined when the pack
   * file is gone (compaction moved its blocks since the caller looked the location up).
   */
  async read (loc: PackLocation, hash: Uint8Array): Promise<Buffer | undefined> {
    return (await this.readRun([loc], [hash]))?.[0]
  }

  /**
   * Reads blocks whose records follow each other in one pack (`isRun`) with a single read, each
   * checked as `read` checks one; undefined when the pack file is gone.
   */
  async readRun (locs: PackLocation[], hashes: Uint8Array[]): Promise<Buffer[] | undefined> {
    if (!isRun(locs)) throw new TypeError('readRun: the locations are not one run of records')
    const first = locs[0]
    const last = locs[locs.length - 1]
    const reader = await this.acquire(first.pack)
    if (reader === undefined) return undefined
    const start = first.offset - RECORD_HEADER_BYTES
    const buffer = Buffer.allocUnsafe(last.offset + last.sizeBytes - start)
    try {
      const isSmall = buffer.byteLength <= SYNC_READ_MAX_BYTES
      let done = 0
      while (done < buffer.byteLength) {
        const bytesRead = isSmall
          ? readSync(reader.fh.fd, buffer, done, buffer.byteLength - done, start + done)
          : (await reader.fh.read(buffer, done, buffer.byteLength - done, start + done)).bytesRead
        if (bytesRead === 0) throw this.corrupt(last, 'the pack ends before it')
        done += bytesRead
      }
    } catch (err) {
      if (isLansyncError(err)) throw err
      throw new LansyncError('STORE_IO', `cannot read pack ${first.pack} in ${this.dir}: ${(err as Error).message}`, { cause: err })
    } finally {
      this.release(reader)
    }
    return locs.map((loc, i) => {
      const header = buffer.subarray(loc.offset - RECORD_HEADER_BYTES - start)
      if (!header.subarray(0, 32).equals(hashes[i]) || header.readUInt32BE(32) !== loc.sizeBytes) throw this.corrupt(loc, 'another record is there')
      return header.subarray(RECORD_HEADER_BYTES, RECORD_HEADER_BYTES + loc.sizeBytes)
    })
  }

  /** Deletes a pack no index entry points into. Reads already under way finish from the open file. */
  async remove (n: number): Promise<void> {
    this.retire(n)
    try {
      await unlink(this.path(n))
    } catch (err: any) {
      if (err?.code !== 'ENOENT') throw writeFailure(this.dir, err)
    }
    this.retire(n) // a read that opened it meanwhile
  }

  /** Closes every file; appends not synced are dead space the next open never reads. Idempotent. */
  async close (): Promise<void> {
    this.current = undefined
    for (const w of this.writers.values()) await w.fh.close().catch(() => {})
    this.writers.clear()
    for (const n of [...this.readers.keys()]) this.retire(n)
  }

  private path (n: number): string { return join(this.dir, `${String(n).padStart(8, '0')}.pack`) }

  private corrupt (loc: PackLocation, why: string): LansyncError {
    return new LansyncError('STORE_CORRUPT', `the block at byte ${loc.offset} of pack ${loc.pack} in ${this.dir} cannot be read: ${why}`)
  }

  private async writable (): Promise<Writer> {
    const w = this.current
    if (w !== undefined && !w.isFailed) return w
    this.rotating ??= this.create().finally(() => { this.rotating = undefined })
    return await this.rotating
  }

  /** Starts a new pack: its name is never one a crash may have left torn. */
  private async create (): Promise<Writer> {
    const n = this.nextNumber++
    const path = this.path(n)
    let fh: FileHandle
    try {
      fh = await open(path, 'wx')
    } catch (err) {
      throw writeFailure(this.dir, err)
    }
    try {
      await writeFully(fh, [PACK_MAGIC], 0)
    } catch (err) {
      await fh.close().catch(() => {})
      await unlink(path).catch(() => {})
      throw writeFailure(this.dir, err)
    }
    const w: Writer = { number: n, fh, endOffset: PACK_MAGIC.length, isFailed: false, queue: [], isWriting: false, synced: new SyncPoint(async () => await fh.sync()) }
    this.writers.set(n, w)
    this.dirSynced.noteChange()
    this.current = w
    return w
  }

  private async acquire (n: number): Promise<Reader | undefined> {
    let reader = this.readers.get(n)
    if (reader === undefined) {
      let fh: FileHandle
      try {
        fh = await open(this.path(n), 'r')
      } catch (err: any) {
        if (err?.code === 'ENOENT') return undefined
        throw new LansyncError('STORE_IO', `cannot open pack ${n} in ${this.dir}: ${(err as Error).message}`, { cause: err })
      }
      reader = this.readers.get(n) // opened by another read meanwhile
      if (reader !== undefined) {
        await fh.close().catch(() => {})
      } else {
        reader = { fh, users: 0, isRetired: false }
        this.readers.set(n, reader)
      }
    }
    this.readers.delete(n)
    this.readers.set(n, reader) // most recently used last
    reader.users += 1
    this.evict()
    return reader
  }

  private release (reader: Reader): void {
    reader.users -= 1
    if (reader.isRetired && reader.users === 0) void reader.fh.close().catch(() => {})
  }

  private retire (n: number): void {
    const reader = this.readers.get(n)
    if (reader === undefined) return
    this.readers.delete(n)
    reader.isRetired = true
    if (reader.users === 0) void reader.fh.close().catch(() => {})
  }

  private evict (): void {
    for (const [n, reader] of this.readers) {
      if (this.readers.size <= MAX_READERS) return
      if (reader.users === 0) this.retire(n)
    }
  }
}

/**
 * Coalesces fsyncs of one file: `wait` returns once an fsync that started after every change noted
 * so far has finished, so concurrent callers share one. A failed fsync fails every later wait.
 */
class SyncPoint {
  private changes = 0
  private syncedChanges = 0
  private running: Promise<void> | undefined
  private failure: unknown
  private readonly syncNow: () => Promise<void>

  constructor (syncNow: () => Promise<void>) { this.syncNow = syncNow }

  noteChange (): void { this.changes += 1 }
  get isSynced (): boolean { return this.syncedChanges >= this.changes }
  get hasFailed (): boolean { return this.failure !== undefined }
  reset (): void { this.failure = undefined }

  async wait (): Promise<void> {
    const target = this.changes
    while (this.syncedChanges < target) {
      if (this.failure !== undefined) throw this.failure
      if (this.running !== undefined) {
        await this.running.catch(() => {})
        continue
      }
      const covered = this.changes
      this.running = this.syncNow().then(
        () => { this.syncedChanges = Math.max(this.syncedChanges, covered) },
        err => { this.failure = err; throw err }
      ).finally(() => { this.running = undefined })
      await this.running
    }
  }
}

function packNumber (name: string): number | undefined {
  const m = /^(\d{8})\.pack$/.exec(name)
  return m === null ? undefined : Number(m[1])
}

/** Writes all of `parts` at `position` (a write may be short, e.g. just before the disk fills). */
async function writeFully (fh: FileHandle, parts: Uint8Array[], position: number): Promise<void> {
  const total = parts.reduce((n, p) => n + p.byteLength, 0)
  const { bytesWritten } = await fh.writev(parts, position)
  if (bytesWritten === total) return
  const all = Buffer.concat(parts)
  for (let done = bytesWritten; done < total;) {
    const { bytesWritten: n } = await fh.write(all, done, total - done, position + done)
    if (n === 0) throw Object.assign(new Error('the write made no progress'), { code: 'EIO' })
    done += n
  }
}

async function syncDirectory (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}

/** A failed pack write or sync as the store's write errors: STORE_FULL (no room) or STORE_IO. */
function writeFailure (dir: string, err: unknown): LansyncError {
  if (isLansyncError(err)) return err
  const e = err as NodeJS.ErrnoException
  const message = e?.message ?? String(err)
  if (e?.code === 'ENOSPC' || e?.code === 'EDQUOT') {
    return new LansyncError('STORE_FULL', `the disk holding the store is full: cannot write to ${dir} (${message}); free some space there, lansync goes on by itself`, { cause: err })
  }
  return new LansyncError('STORE_IO', `cannot write to the store's pack files in ${dir}: ${message}`, { cause: err })
}
