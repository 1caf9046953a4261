// Streams a file through the content-defined chunker: SHA-256 per block and of the whole file in
// one pass (for a big file the whole-file hash is made on a worker thread meanwhile), in constant
// memory, handing each block to the caller (the store saves it there).
// hashFileStable also proves the file did not change while it was read; a half-written file is never recorded.
import { open, stat, type FileHandle } from 'node:fs/promises'
import { closeSync, constants as fsConstants, fstatSync, openSync, readSync, statSync, type Stats } from 'node:fs'
import { createHash, hash as oneShotHash } from 'node:crypto'
import { Chunker, chunkLengths, MAX_BLOCK_BYTES } from '../core/chunker.js'
import type { BlockRef } from '../core/types.js'
import { bytesEqual, hex } from '../core/bytes.js'
import { LansyncError } from '../errors.js'
import { hashWholeFileOnWorker } from './whole-hash.js'

/** Bytes asked of the OS per read. Large reads amortise the thread-pool round trip. */
const READ_BYTES = 4 * 1024 * 1024

/**
 * Files up to this size are read whole into a buffer of their own (hashFileStable): one read
 * instead of the streaming loop's two (the second only meets the end of the file), and no 8 MiB
 * buffer pair held per file, so many small files can be hashed at once.
 */
export const WHOLE_READ_MAX_BYTES = 1024 * 1024

/**
 * Files at least this big have their whole-content hash made on a worker thread (whole-hash.ts)
 * while this thread chunks them and hashes their blocks: 256 MiB rescanned after a 4 KiB edit
 * took ~0.7 s on one thread, 0.2 s of it the whole-file hash.
 */
export const WORKER_WHOLE_HASH_MIN_BYTES = 32 * 1024 * 1024

/** How often hashFileStable re-reads a file that changed under it before giving up. */
const DEFAULT_MAX_TRIES = 3

export interface HashResult {
  /** The file's blocks in order; their sizes sum to sizeBytes. Empty for an empty file. */
  blocks: BlockRef[]
  /** SHA-256 of the whole content. */
  hash: Uint8Array
  sizeBytes: number
}

export interface StableHashResult extends HashResult {
  /** fstat of the file that was read, taken after the read and equal to the one before it. */
  stat: Stats
}

export interface HashFileOptions {
  /**
   * Called once per block, in file order, and awaited before reading on. `bytes` is valid until
   * the call settles: hashFile reads on into the same memory afterwards, so a callee that keeps
   * the bytes (queues them, stores them later) copies them first. Most blocks of a big file that
   * was edited are held already and need no copy: 256 MiB of copies cost the scan of D1 ~0.1 s.
   * An error thrown here aborts hashing and is passed through unchanged.
   */
  onBlock?: (hash: Uint8Array, bytes: Uint8Array) => void | Promise<void>
  /** Aborting rejects with `signal.reason` at the next read boundary. */
  signal?: AbortSignal
  /**
   * The blocks the file held when last scanned: where its content is unchanged they stand in for
   * the chunker (see BlockCutter). The result is the same with or without them, only faster.
   */
  previous?: readonly BlockRef[]
}

export interface HashFileStableOptions extends HashFileOptions {
  /** Reads to attempt before throwing PATH_CHANGING; at least 1. */
  maxTries?: number
}

/** SHA-256 of `bytes`. */
export function sha256 (bytes: Uint8Array): Uint8Array {
  return oneShotHash('sha256', bytes, 'buffer')
}

/** Blocks and whole hash of an in-memory buffer; the same result hashFile gives for a file with these bytes. */
export function hashBytes (bytes: Uint8Array): HashResult {
  const blocks: BlockRef[] = []
  let offset = 0
  for (const len of chunkLengths(bytes)) {
    blocks.push({ hash: sha256(bytes.subarray(offset, offset + len)), sizeBytes: len })
    offset += len
  }
  return { blocks, hash: sha256(bytes), sizeBytes: bytes.length }
}

/**
 * Hashes the regular file at `path` (see HashFileOptions for onBlock). Reads until end of file,
 * so the result describes whatever was read; use hashFileStable when the file may be changing.
 * Errors: PATH_NOT_FOUND (ENOENT, ENOTDIR), PATH_UNREADABLE (permission, not a regular file, I/O).
 */
export async function hashFile (path: string, opts: HashFileOptions = {}): Promise<HashResult> {
  const { fh } = await openRegular(path)
  try {
    return await hashHandle(fh, path, opts)
  } finally {
    await fh.close().catch(() => {})
  }
}

/**
 * hashFile that refuses to describe a file that changed while it was read. The file's size, mtime,
 * ctime and inode are compared before and after the read (and the path must still name the same
 * inode); on a difference it reads again, up to `maxTries` times, then throws PATH_CHANGING.
 * onBlock also sees the blocks of discarded attempts; they are unreferenced and left to GC.
 */
export async function hashFileStable (path: string, opts: HashFileStableOptions = {}): Promise<StableHashResult> {
  const { maxTries = DEFAULT_MAX_TRIES, ...hashOpts } = opts
  if (!Number.isSafeInteger(maxTries) || maxTries < 1) throw new TypeError(`hashFileStable: maxTries must be a positive integer, got ${maxTries}`)
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    const { fh, stat: before } = await openRegular(path)
    try {
      // A small file is read whole in one read of the size fstat gave: no double buffer, no read
      // just to meet the end of the file. A file that grew or shrank meanwhile fails the check below.
      // A big file's whole-content hash is made on the worker thread meanwhile (see whole-hash.ts).
      const onWorker = before.size >= WORKER_WHOLE_HASH_MIN_BYTES ? hashWholeFileOnWorker(path).catch((err: Error) => err) : undefined
      // (If hashing here throws, as a stopping scan makes it, the worker finishes on its own: its
      // promise cannot reject, and waiting for it would hold the stop up for a big file's read.)
      let result = before.size <= WHOLE_READ_MAX_BYTES
        ? await hashSmallHandle(fh, path, before.size, hashOpts)
        : await hashHandle(fh, path, { ...hashOpts, isWholeHashed: onWorker === undefined })
      let isSameFile = true
      if (onWorker !== undefined) {
        const whole = await onWorker
        if (whole instanceof Error) throw mapFsError(whole, path)
        // The worker opened the path itself: it must have read the file read here, all of it.
        isSameFile = whole.ino === before.ino && whole.dev === before.dev && whole.sizeBytes === result.sizeBytes
        result = { ...result, hash: whole.hash }
      }
      const after = await fstat(fh, path)
      const atPath = await stat(path).catch((err: unknown) => { throw mapFsError(err, path) })
      if (isSameFile && isSameState(before, after) && after.size === result.sizeBytes && atPath.ino === after.ino && atPath.dev === after.dev) {
        return { ...result, stat: after }
      }
    } finally {
      await fh.close().catch(() => {})
    }
  }
  throw new LansyncError('PATH_CHANGING', `${path} kept changing while it was read (${maxTries} tries)`)
}

function isSameState (a: Stats, b: Stats): boolean {
  return a.size === b.size && a.mtimeMs === b.mtimeMs && a.ctimeMs === b.ctimeMs && a.ino === b.ino && a.dev === b.dev
}

/**
 * Opens for reading and checks the handle really is a regular file. O_NONBLOCK keeps a FIFO
 * that appeared at the path from blocking the open forever; it changes nothing for regular files.
 */
async function openRegular (path: string): Promise<{ fh: FileHandle, stat: Stats }> {
  let fh: FileHandle
  try {
    fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
  } catch (err) {
    throw mapFsError(err, path)
  }
  try {
    const s = await fstat(fh, path)
    if (!s.isFile()) throw new LansyncError('PATH_UNREADABLE', `${path} is not a regular file`)
    return { fh, stat: s }
  } catch (err) {
    await fh.close().catch(() => {})
    throw err
  }
}

async function fstat (fh: FileHandle, path: string): Promise<Stats> {
  try {
    return await fh.stat()
  } catch (err) {
    throw mapFsError(err, path)
  }
}

/** Maps an fs error to a LansyncError naming the path; anything that is not an fs error passes through. */
function mapFsError (err: unknown, path: string): unknown {
  const code = (err as NodeJS.ErrnoException | undefined)?.code
  if (typeof code !== 'string' || err instanceof LansyncError) return err
  if (code === 'ENOENT' || code === 'ENOTDIR') {
    return new LansyncError('PATH_NOT_FOUND', `${path} does not exist`, { cause: err })
  }
  const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied' : code === 'EISDIR' ? 'is a directory' : code
  return new LansyncError('PATH_UNREADABLE', `cannot read ${path}: ${why}`, { cause: err })
}

/**
 * Read buffers are reused across files: allocating two fresh MAX_BLOCK_BYTES + READ_BYTES buffers
 * per file made hashing many small files ~10x slower (each is an mmap, and the freed memory is
 * only returned at a later GC). A few pairs are kept for hashes running at once; more are allocated.
 */
const spareBuffers: Buffer[][] = []
const MAX_SPARE_PAIRS = 4

function takeBuffers (): Buffer[] {
  return spareBuffers.pop() ?? [Buffer.allocUnsafe(MAX_BLOCK_BYTES + READ_BYTES), Buffer.allocUnsafe(MAX_BLOCK_BYTES + READ_BYTES)]
}

function giveBuffers (pair: Buffer[]): void {
  if (spareBuffers.length < MAX_SPARE_PAIRS) spareBuffers.push(pair)
}

/**
 * The read loop. Two buffers of MAX_BLOCK_BYTES + READ_BYTES alternate: while one is chunked and
 * hashed, the next read fills the other at offset MAX_BLOCK_BYTES. The unfinished tail of a
 * buffer (always < MAX_BLOCK_BYTES) is copied just in front of that offset, so every block is
 * contiguous in one buffer and the chunker never sees a byte twice.
 */
async function hashHandle (fh: FileHandle, path: string, opts: HashFileOptions & { isWholeHashed?: boolean }): Promise<HashResult> {
  const { onBlock, signal, isWholeHashed = true, previous } = opts
  signal?.throwIfAborted()
  const head = MAX_BLOCK_BYTES
  const buffers = takeBuffers()
  const cutter = new BlockCutter(previous)
  const whole = createHash('sha256')
  const blocks: BlockRef[] = []
  let sizeBytes = 0
  let current = 0
  /** Bytes of the unfinished block, sitting just before `head` in buffers[current]. */
  let carried = 0

  const readInto = async (buf: Buffer, position: number): Promise<number> => {
    try {
      const { bytesRead } = await fh.read(buf, head, READ_BYTES, position)
      return bytesRead
    } catch (err) {
      throw mapFsError(err, path)
    }
  }
  const emit = async (block: Cut): Promise<void> => {
    blocks.push({ hash: block.hash, sizeBytes: block.bytes.length })
    if (onBlock !== undefined) await onBlock(block.hash, block.bytes)
  }

  let next = readInto(buffers[current], 0)
  try {
    for (;;) {
      const bytesRead = await next
      signal?.throwIfAborted()
      if (bytesRead === 0) break
      const buf = buffers[current]
      const other = buffers[current ^ 1]
      sizeBytes += bytesRead
      next = readInto(other, sizeBytes)
      if (isWholeHashed) whole.update(buf.subarray(head, head + bytesRead))
      const blockStart = await cutter.cut(buf, head - carried, head, head + bytesRead, emit)
      carried = head + bytesRead - blockStart
      buf.copy(other, head - carried, blockStart, head + bytesRead)
      current ^= 1
    }
    for (const block of cutter.finish(buffers[current].subarray(head - carried, head))) await emit(block)
  } finally {
    // A read may still be in flight when onBlock or the signal threw: settle it before the
    // caller closes the handle, and keep its rejection from going unhandled.
    await next.catch(() => {})
    giveBuffers(buffers)
  }
  // Not hashed here: the caller has the hash made elsewhere and replaces this empty one.
  return { blocks, hash: isWholeHashed ? whole.digest() : new Uint8Array(0), sizeBytes }
}

function cutOf (bytes: Buffer): Cut { return { bytes, hash: sha256(bytes) } }

/** A block found in a buffer: a view of its bytes (valid until the buffer is reused) and their SHA-256. */
interface Cut { bytes: Buffer, hash: Uint8Array }

/**
 * Finds a stream's blocks, with the cuts the content-defined chunker makes, and hashes them.
 * Given the blocks the file held when last scanned (`previous`), it skips the chunker where the
 * content did not change: a block that starts where the chunker would start one and holds the
 * same bytes as the next previous block (same SHA-256, which it needs anyway) ends where the
 * chunker would end it, since a cut depends only on the bytes since the last one. That is every
 * previous block but the last, which ended at the end of the old file, not at a cut. Elsewhere the
 * chunker runs, until a block it cuts is one of the previous blocks again (after an edit, or an
 * insert that shifted the rest); from there the previous blocks guide it on. Rescanning 256 MiB
 * with 4 KiB changed: the chunker sees a few blocks, not 256 MiB (it took 0.28 s of 0.5 s).
 * The blocks are exactly those of chunking every byte, whatever `previous` says.
 */
class BlockCutter {
  private readonly previous: readonly BlockRef[]
  /** Index of the previous block expected next, while guided; -1 while the chunker runs. */
  private expected: number
  private chunker: Chunker | undefined
  /** The previous blocks by hash (first occurrence), made when the chunker first runs. */
  private byHash: Map<string, number> | undefined

  constructor (previous: readonly BlockRef[] = []) {
    this.previous = previous
    this.expected = previous.length > 1 ? 0 : -1
    this.chunker = this.expected === -1 ? new Chunker() : undefined
  }

  /**
   * Emits the blocks that end inside buf[from, end): `from` is where the unfinished block starts,
   * `fresh` where this read's bytes start (a running chunker saw those before it). Returns where
   * the unfinished block now starts.
   */
  async cut (buf: Buffer, from: number, fresh: number, end: number, emit: (block: Cut) => Promise<void>): Promise<number> {
    let start = from
    /** Up to where the running chunker has seen the bytes. */
    let seen = fresh
    for (;;) {
      if (this.chunker === undefined) {
        const want = this.previous[this.expected]
        if (want.sizeBytes < 1 || want.sizeBytes > MAX_BLOCK_BYTES) { this.startChunker(); seen = start; continue } // not the chunker's: no guide
        if (want.sizeBytes > end - start) return start // not all here yet: on with the next read
        const bytes = buf.subarray(start, start + want.sizeBytes)
        const hash = sha256(bytes)
        if (bytesEqual(hash, want.hash)) {
          await emit({ bytes, hash })
          start += want.sizeBytes
          this.expected += 1
          if (this.expected >= this.previous.length - 1) { this.startChunker(); seen = start }
          continue
        }
        this.startChunker()
        seen = start
      }
      const chunker = this.chunker as Chunker
      if (seen >= end) return start
      const lengths = chunker.push(buf.subarray(seen, end))
      seen = end
      let isGuided = false
      for (const length of lengths) {
        const bytes = buf.subarray(start, start + length)
        const hash = sha256(bytes)
        await emit({ bytes, hash })
        start += length
        const at = this.indexOf(hash)
        if (at !== undefined && at + 1 < this.previous.length - 1) {
          // Back on the previous blocks (the chunker and what it saw past this cut are dropped).
          this.expected = at + 1
          this.chunker = undefined
          isGuided = true
          break
        }
      }
      if (!isGuided) return start
    }
  }

  /** The blocks of the unfinished tail at the end of the stream. */
  finish (tail: Buffer): Cut[] {
    const out: Cut[] = []
    let start = 0
    let chunker = this.chunker
    if (chunker === undefined) {
      // Guided, with the next previous block not all there: the chunker decides the tail's cuts.
      chunker = this.startChunker()
      for (const length of chunker.push(tail)) { out.push(cutOf(tail.subarray(start, start + length))); start += length }
    }
    const last = chunker.finish()
    if (last > 0) out.push(cutOf(tail.subarray(start, start + last)))
    return out
  }

  private startChunker (): Chunker {
    this.chunker = new Chunker()
    this.expected = -1
    return this.chunker
  }

  private indexOf (hash: Uint8Array): number | undefined {
    if (this.previous.length < 2) return undefined
    if (this.byHash === undefined) {
      this.byHash = new Map()
      for (let i = this.previous.length - 1; i >= 0; i--) this.byHash.set(hex(this.previous[i].hash), i)
    }
    return this.byHash.get(hex(hash))
  }
}

/**
 * Reads `sizeBytes` (the size fstat gave) into a fresh buffer and hashes it like hashHandle would.
 * Stops early at the end of a file that shrank; the caller's size check then rejects the result.
 * Blocks handed to onBlock are views of that buffer, which nothing else uses or changes.
 */
async function hashSmallHandle (fh: FileHandle, path: string, sizeBytes: number, opts: HashFileOptions): Promise<HashResult> {
  opts.signal?.throwIfAborted()
  const buf = Buffer.allocUnsafeSlow(sizeBytes)
  let filled = 0
  while (filled < sizeBytes) {
    let bytesRead: number
    try {
      ({ bytesRead } = await fh.read(buf, filled, sizeBytes - filled, filled))
    } catch (err) {
      throw mapFsError(err, path)
    }
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return await hashWhole(buf.subarray(0, filled), opts)
}

/** Hashes content held whole in memory like hashHandle would; blocks handed to onBlock are views of `bytes`. */
async function hashWhole (bytes: Buffer, opts: HashFileOptions): Promise<HashResult> {
  const { onBlock, signal } = opts
  signal?.throwIfAborted()
  const filled = bytes.length
  const blocks: BlockRef[] = []
  let offset = 0
  for (const len of chunkLengths(bytes)) {
    const block = bytes.subarray(offset, offset + len)
    const blockHash = sha256(block)
    blocks.push({ hash: blockHash, sizeBytes: len })
    if (onBlock !== undefined) await onBlock(blockHash, block)
    offset += len
  }
  return { blocks, hash: blocks.length === 1 ? blocks[0].hash : sha256(bytes), sizeBytes: filled }
}

/**
 * Files up to this size may be read synchronously (hashSmallFileStable): a few syscalls that take
 * microseconds when the file is in the page cache or on an SSD, where the thread pool costs the
 * main thread some 30 µs per call in dispatch and completion, six calls a file.
 */
export const SYNC_READ_MAX_BYTES = 64 * 1024

export interface SyncHashResult extends StableHashResult {
  /** Milliseconds the synchronous reads held the thread (the caller may go back to async reads on slow storage). */
  readMs: number
}

/**
 * hashFileStable for a small file, read synchronously: the same checks (fstat before and after the
 * read, the path still naming the same inode, re-read up to `maxTries`), the same errors. Returns
 * undefined for a file bigger than SYNC_READ_MAX_BYTES (read it with hashFileStable).
 */
export async function hashSmallFileStable (path: string, opts: HashFileStableOptions = {}): Promise<SyncHashResult | undefined> {
  const { maxTries = DEFAULT_MAX_TRIES, ...hashOpts } = opts
  let readMs = 0
  for (let attempt = 1; attempt <= maxTries; attempt++) {
    const startedMs = performance.now()
    const read = readWholeSync(path)
    readMs += performance.now() - startedMs
    if (read === undefined) return undefined
    if (read.isStable) return { ...await hashWhole(read.bytes, hashOpts), stat: read.stat, readMs }
  }
  throw new LansyncError('PATH_CHANGING', `${path} kept changing while it was read (${maxTries} tries)`)
}

function readWholeSync (path: string): { bytes: Buffer, stat: Stats, isStable: boolean } | undefined {
  let fd: number
  try {
    fd = openSync(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK)
  } catch (err) {
    throw mapFsError(err, path)
  }
  try {
    const before = fstatSync(fd)
    if (!before.isFile()) throw new LansyncError('PATH_UNREADABLE', `${path} is not a regular file`)
    if (before.size > SYNC_READ_MAX_BYTES) return undefined
    const buf = Buffer.allocUnsafeSlow(before.size)
    let filled = 0
    while (filled < before.size) {
      const bytesRead = readSync(fd, buf, filled, before.size - filled, filled)
      if (bytesRead === 0) break
      filled += bytesRead
    }
    const after = fstatSync(fd)
    const atPath = statSync(path)
    const isStable = isSameState(before, after) && after.size === filled && atPath.ino === after.ino && atPath.dev === after.dev
    return { bytes: buf.subarray(0, filled), stat: after, isStable }
  } catch (err) {
    throw mapFsError(err, path)
  } finally {
    closeSync(fd)
  }
}
