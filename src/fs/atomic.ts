// Writes a file so that readers only ever see the old content or the whole new content: a temp
// file beside the target, fsync, whole-file hash check, optional last-moment check, rename, then
// fsync of the directory so the rename itself survives a crash.
import { open, rename, rm, mkdir, link, lstat, unlink } from 'node:fs/promises'
import { open as openWithCallback, closeSync, fchmodSync, fstatSync, fsync, futimesSync, linkSync, openSync, renameSync, unlinkSync, writev, type Stats } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { LansyncError } from '../errors.js'
import { TEMP_PREFIX } from './ignore-rules.js'
import { crashPoint, pausePoint } from '../fault.js'

export interface AtomicWriteOptions {
  target: string
  /** The content, in order. */
  chunks: AsyncIterable<Uint8Array>
  /** SHA-256 the whole content must have; checked before the rename. */
  expectedHash: Uint8Array
  mode: number
  mtimeMs: number
  /** Called after the temp file is complete and before the rename; throw to abandon the write. */
  beforeRename?: () => Promise<void>
  /**
   * What the target must hold for the write to go ahead, checked by the replacement itself and not
   * only before it (a user's save landing between a check and the rename would be lost):
   * 'absent' creates the target with link(), which fails if a file appeared meanwhile; a file's
   * facts keep the replaced file under a second name across the rename, and if it was written in
   * place meanwhile it is put back. Either way TargetChangedError, and nothing of the user's lost.
   */
  expectedTarget?: 'absent' | ExpectedFile
  /**
   * False when the caller fsyncs the target's directory itself, once for many files written
   * together, before it records any of them (a crash must never leave the index naming a file
   * whose directory entry is not durable).
   */
  isDirSynced?: boolean
}

/** The facts of a file the index knows (inode 0: unknown, not compared). */
export interface ExpectedFile { inode: number, sizeBytes: number, mtimeMs: number }

/** The target no longer holds what `expectedTarget` said; the new content was not put in place. */
export class TargetChangedError extends Error {
  constructor (target: string) { super(`${target} changed while it was being replaced`) }
}

/** File systems without hard links (FAT, some network mounts) answer these: fall back to rename. */
const NO_HARD_LINKS = new Set(['EPERM', 'ENOTSUP', 'EOPNOTSUPP', 'EXDEV', 'EMLINK', 'ENOSYS'])

/**
 * Temp names end in a tag drawn once per process and a counter: unique within the process, and
 * across processes as unlikely to meet as a random draw per name, which cost 10 µs a file
 * (randomBytes) where a received small file's other metadata calls take a few each. A name that
 * is taken anyway fails the exclusive create (or link), never touching the other file.
 */
const TEMP_TAG = randomBytes(4).toString('hex')
let tempCount = 0

export function tempPathFor (target: string): string {
  tempCount += 1
  return join(dirname(target), `${TEMP_PREFIX}${basename(target).slice(0, 100)}-${TEMP_TAG}${tempCount.toString(36)}`)
}

/**
 * What was put in place: its size, and the inode and mtime it was given, read from the temp file
 * before the replacement (rename and link keep both), never from the path afterwards, where a
 * user's save may already have replaced it.
 */
export interface WrittenFile { sizeBytes: number, inode: number, mtimeMs: number }

/** Writes atomically. The temp file never outlives a failure. */
export async function writeFileAtomically ({ target, chunks, expectedHash, mode, mtimeMs, beforeRename, expectedTarget, isDirSynced = true }: AtomicWriteOptions): Promise<WrittenFile> {
  const temp = tempPathFor(target)
  // A plain descriptor, its metadata calls (chmod, utimes, fstat, close) made on this thread: each
  // takes microseconds, while a thread-pool round trip costs the main thread some 30 µs, and a
  // small received file made a dozen of them. Its creation (see openNew), content writes and the fsync stay on the pool.
  let fd: number | undefined = await openNew(temp)
  let sizeBytes = 0
  let written: Stats
  let writing: Promise<void> = Promise.resolve()
  try {
    const hasher = createHash('sha256')
    // Chunks (a block each, 64 KiB on average) go out gathered into writes of WRITE_BATCH_BYTES,
    // one at a time while the next is hashed and gathered: a write per block cost a thread-pool
    // round trip each, which was most of the time spent writing a big file.
    let batch: Uint8Array[] = []
    let batchBytes = 0
    const out = fd
    const startWrite = async (): Promise<void> => {
      const buffers = batch
      batch = []
      batchBytes = 0
      await writing
      writing = writeAll(out, buffers)
      writing.catch(() => {}) // awaited by the next write or below; a failure is thrown there
    }
    for await (const chunk of chunks) {
      hasher.update(chunk)
      batch.push(chunk)
      batchBytes += chunk.byteLength
      sizeBytes += chunk.byteLength
      if (batchBytes >= WRITE_BATCH_BYTES) await startWrite()
    }
    if (batchBytes > 0) await startWrite()
    await writing
    const actual = hasher.digest()
    if (!actual.equals(Buffer.from(expectedHash))) {
      throw new LansyncError('STORE_CORRUPT', `assembled content of ${target} does not match its hash; nothing was replaced`)
    }
    // Mode and mtime set through the open file before its fsync, so they are as durable as its bytes.
    fchmodSync(fd, mode & 0o7777)
    const seconds = utimesSeconds(mtimeMs)
    futimesSync(fd, seconds, seconds)
    await fsyncFd(fd)
    written = fstatSync(fd)
    closeSync(fd)
    fd = undefined
    if (beforeRename !== undefined) await beforeRename()
    crashPoint('apply:temp-written')
    await pausePoint('apply:temp-written')
    await replaceTarget(temp, target, expectedTarget)
    await pausePoint('apply:renamed')
  } catch (err) {
    // A write still on the pool (the content failed meanwhile) ends before the descriptor is
    // closed: its number could be reused by the next open, and the write land in that file.
    await writing.catch(() => {})
    if (fd !== undefined) { try { closeSync(fd) } catch {} }
    await rm(temp, { force: true })
    throw err
  }
  if (isDirSynced) await fsyncDir(dirname(target))
  return { sizeBytes, inode: written.ino, mtimeMs: Math.floor(written.mtimeMs) }
}

/** Bytes gathered into one write of a file's content. */
const WRITE_BATCH_BYTES = 1024 * 1024

/** What is left of `buffers` after a write took their first `bytesWritten` bytes. */
function unwritten (buffers: Uint8Array[], bytesWritten: number): Uint8Array[] {
  let rest = buffers
  while (rest.length > 0 && bytesWritten >= rest[0].byteLength) {
    bytesWritten -= rest[0].byteLength
    rest = rest.slice(1)
  }
  return bytesWritten > 0 ? [rest[0].subarray(bytesWritten), ...rest.slice(1)] : rest
}

/** Writes `buffers` in order at the descriptor's position, however the OS splits the writes. */
async function writeAll (fd: number, buffers: Uint8Array[]): Promise<void> {
  let rest = buffers.filter(b => b.byteLength > 0)
  while (rest.length > 0) {
    const bytesWritten = await new Promise<number>((resolve, reject) => { writev(fd, rest, (err, n) => { if (err !== null) reject(err); else resolve(n) }) })
    rest = unwritten(rest, bytesWritten)
  }
}

async function fsyncFd (fd: number): Promise<void> {
  await new Promise<void>((resolve, reject) => { fsync(fd, err => { if (err !== null) reject(err); else resolve() }) })
}

/**
 * Opens a new temp file, making its directory only when it is missing (a group of received files
 * would otherwise pay a mkdir each). On the thread pool, unlike the descriptor's other calls: making
 * a new inode is the one call that can take long. On this machine's ext4 (no journal) it took
 * 0.3–0.6 ms of kernel CPU a file (perf: ext4's scan past recently deleted inodes), 9 µs on
 * tmpfs; on the main thread that was most of a 10,000-file first sync's time. W1 with it here,
 * three runs alternating with the synchronous open: 19.1/21.5/18.3 s against 20.0/21.8/21.2 s.
 */
async function openNew (temp: string): Promise<number> {
  const openFresh = async (): Promise<number> => await new Promise<number>((resolve, reject) => {
    openWithCallback(temp, 'wx', 0o600, (err, fd) => { if (err !== null) reject(err); else resolve(fd) })
  })
  try {
    return await openFresh()
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw err
    await mkdir(dirname(temp), { recursive: true })
    return await openFresh()
  }
}

async function replaceTarget (temp: string, target: string, expected: AtomicWriteOptions['expectedTarget']): Promise<void> {
  // On this thread, like the descriptor's calls above: a new file's link and unlink are most of
  // what is left of putting it in place.
  if (expected === undefined) return renameSync(temp, target)
  if (expected === 'absent') {
    try {
      linkSync(temp, target)
    } catch (err: any) {
      if (err.code === 'EEXIST') throw new TargetChangedError(target)
      if (!NO_HARD_LINKS.has(err.code)) throw err
      return renameSync(temp, target)
    }
    return unlinkSync(temp)
  }
  // The file being replaced stays reachable under `aside` until we know it was not written to.
  const aside = tempPathFor(target)
  let hasAside = true
  try {
    await link(target, aside)
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new TargetChangedError(target)
    if (!NO_HARD_LINKS.has(err.code)) throw err
    hasAside = false
  }
  try {
    if (hasAside && !isExpectedFile(await lstat(aside), expected)) throw new TargetChangedError(target)
    await rename(temp, target)
    if (hasAside && !isExpectedFile(await lstat(aside), expected)) {
      // Written in place while we replaced it: the user's bytes go back; the caller rescans and
      // plans again (a conflict), and the remote version is still in the store.
      await rename(aside, target)
      hasAside = false
      throw new TargetChangedError(target)
    }
  } finally {
    if (hasAside) await rm(aside, { force: true })
  }
}

/**
 * Deletes `target` only if it still is the file `expected` describes: it is first renamed aside
 * (so whatever a user saves there from then on is theirs, untouched), checked, and only then
 * unlinked; a file that changed is put back. Throws TargetChangedError when it changed.
 */
export async function removeFileIfUnchanged (target: string, expected: ExpectedFile): Promise<void> {
  const aside = tempPathFor(target)
  try {
    await rename(target, aside)
  } catch (err: any) {
    if (err.code === 'ENOENT') return // already gone: nothing to delete
    throw err
  }
  if (isExpectedFile(await lstat(aside), expected)) return await unlink(aside)
  try {
    await link(aside, target)
    await unlink(aside)
  } catch (err: any) {
    if (err.code !== 'EEXIST' && !NO_HARD_LINKS.has(err.code)) throw err
    // Saved again at the same name meanwhile (or no hard links here): keep this one beside it
    // under a plain name, so a scan records it as a file of its own.
    await rename(aside, join(dirname(target), `${basename(target).slice(0, 200)}.lansync-saved-${randomBytes(3).toString('hex')}`))
  }
  throw new TargetChangedError(target)
}

/**
 * Creates `target` as a second name of `source` (a hard link: no byte copied), only if `source`
 * still is the file `expected` describes and `target` does not exist (link() refuses to replace
 * anything, so a file saved at `target` meanwhile is never touched). Returns the linked file's
 * facts, or undefined when this cannot be done here (source changed or gone, target appeared, no
 * hard links on this file system): the caller then writes the file the ordinary way. Does not
 * fsync the directory (the caller does, before recording the target).
 */
export async function linkIfUnchanged (source: string, target: string, expected: ExpectedFile): Promise<WrittenFile | undefined> {
  const before = await lstat(source).catch(() => undefined)
  if (before === undefined || !isExpectedFile(before, expected)) return undefined
  await mkdir(dirname(target), { recursive: true })
  try {
    await link(source, target)
  } catch (err: any) {
    if (err.code === 'EEXIST' || err.code === 'ENOENT' || NO_HARD_LINKS.has(err.code)) return undefined
    throw err
  }
  // The source may have been replaced or written between the check and the link: then `target`
  // names the user's file, not the expected content. Take the name back (only if it still is
  // what was linked; else it is the user's now, and theirs to keep) and let the caller write.
  const after = await lstat(target)
  if (isExpectedFile(after, expected)) return { sizeBytes: after.size, inode: after.ino, mtimeMs: Math.floor(after.mtimeMs) }
  await removeFileIfUnchanged(target, { inode: after.ino, sizeBytes: after.size, mtimeMs: Math.floor(after.mtimeMs) })
  return undefined
}

function isExpectedFile (s: Stats, expected: ExpectedFile): boolean {
  return s.isFile() && s.size === expected.sizeBytes && Math.floor(s.mtimeMs) === expected.mtimeMs &&
    (expected.inode === 0 || expected.inode === s.ino)
}

export async function fsyncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try { await handle.sync() } finally { await handle.close() }
}

/**
 * The seconds to give `utimes` so that the file's mtime reads back as `mtimeMs` (floored to the
 * ms, as records hold it). `ms / 1000` alone does not: libuv converts the double to nanoseconds as
 * `(t - trunc(t)) * 1e9`, truncated, which for about half of all ms values lands a hair below the
 * ms (…802.999999) and floors to 1 ms less. A peer's index then held the file 1 ms off its author's
 * record and the two compared as different states (an extra resolution round after each conflict).
 * Where the plain value converts right it is kept (whole seconds stay exact); else half a
 * microsecond more floors to the intended ms.
 */
export function utimesSeconds (mtimeMs: number): number {
  const ms = Math.floor(mtimeMs)
  const seconds = ms / 1000
  const whole = Math.trunc(seconds)
  const nanos = Math.trunc((seconds - whole) * 1e9) // as libuv's uv__fs_to_timespec does
  return whole * 1000 + Math.floor(nanos / 1e6) === ms ? seconds : (ms + 0.0005) / 1000
}
