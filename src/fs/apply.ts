// Puts a remote record's state on disk, never over a local change the index has not seen:
// every write or delete first checks that the path still holds what the index says it holds
// (else LOCAL_CHANGED, and the caller rescans and re-plans, which makes it a conflict).
import { mkdir, open, rm, rmdir, symlink, chmod, utimes, readlink, unlink } from 'node:fs/promises'
import { dirname } from 'node:path'
import { lstatNow, lstatOrError } from './lstat-now.js'
import { LansyncError, isLansyncError } from '../errors.js'
import type { FileRecord } from '../core/types.js'
import { joinFolderPath } from '../core/paths.js'
import type { Store, StoredRecord } from '../store/store.js'
import { writeFileAtomically, fsyncDir, utimesSeconds, removeFileIfUnchanged, linkIfUnchanged, TargetChangedError } from './atomic.js'
import { versionContent } from './restore.js'
import { planContentReads, type ContentRead } from '../core/content-reads.js'
import { crashPoint, pausePoint } from '../fault.js'
import { patchInPlace, type PatchJournal } from './patch.js'

/** What the path looks like on disk after applying: the local facts the index keeps. */
export interface Applied { inode: number, mtimeMs: number }

export class LocalChangedError extends LansyncError {
  constructor (path: string) {
    super('FOLDER_LOCAL_CHANGED', `${path} changed locally while a remote version was being applied`)
  }
}

/** Throws LocalChangedError unless the disk state of `path` is what `expected` (the index) says. */
export async function assertUnchanged (root: string, path: string, expected: StoredRecord | undefined): Promise<void> {
  // A missing path is answered without an exception: for every new file received it is the
  // expected answer, and building the error cost more than the lstat.
  const s = lstatOrError(joinFolderPath(root, path))
  if (s instanceof Error) throw s
  const isExpectedAbsent = expected === undefined || expected.isDeleted
  if (s === undefined) {
    if (isExpectedAbsent) return
    throw new LocalChangedError(path)
  }
  if (isExpectedAbsent) throw new LocalChangedError(path)
  if (expected.kind === 'dir') { if (!s.isDirectory()) throw new LocalChangedError(path); return }
  if (expected.kind === 'symlink') {
    if (!s.isSymbolicLink() || (await readlink(joinFolderPath(root, path))) !== expected.linkTarget) throw new LocalChangedError(path)
    return
  }
  const isSame = s.isFile() && s.size === expected.sizeBytes && Math.floor(s.mtimeMs) === expected.mtimeMs &&
    (expected.inode === 0 || expected.inode === s.ino)
  if (!isSame) throw new LocalChangedError(path)
}

/**
 * Refuses to act on a path whose parent directories inside the folder include a symlink: a
 * peer could otherwise send a link `d -> /etc` and then a file `d/x`, and write outside the folder.
 */
export async function assertRealParents (root: string, path: string): Promise<void> {
  const parts = path.split('/').slice(0, -1)
  let current = ''
  for (const part of parts) {
    current = current === '' ? part : `${current}/${part}`
    try {
      const s = await lstatNow(joinFolderPath(root, current))
      if (!s.isDirectory()) throw new LansyncError('PATH_INVALID', `${path}: ${current} is not a real directory (a symlink or a file); refusing to write through it`)
    } catch (err: any) {
      if (err.code === 'ENOENT') return // created fresh below, as a real directory
      throw err
    }
  }
}

/**
 * Turns a file-system error met while applying into a per-file LansyncError, so that one path this
 * device cannot write (a name too long for it, no permission, a full disk) is reported and skipped
 * while the other files go on. LansyncErrors (LOCAL_CHANGED above all) pass through unchanged.
 */
async function applying<T> (path: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err: any) {
    if (err instanceof LansyncError || typeof err?.code !== 'string') throw err
    const code: string = err.code
    if (code === 'ENAMETOOLONG' || code === 'EILSEQ' || code === 'EINVAL') {
      throw new LansyncError('PATH_UNREPRESENTABLE', `${path}: this name cannot exist on this device's file system (${code}); skipped, the other files go on`, { cause: err })
    }
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new LansyncError('PATH_UNWRITABLE', `${path}: permission denied (${code})`, { cause: err })
    if (code === 'ENOSPC' || code === 'EDQUOT') throw new LansyncError('DISK_FULL', `${path}: the disk is full (${code})`, { cause: err })
    if (code === 'ENOTDIR' || code === 'EISDIR' || code === 'EEXIST' || code === 'ENOTEMPTY') {
      throw new LansyncError('PATH_BLOCKED', `${path}: something else is in the way on disk (${code})`, { cause: err })
    }
    throw new LansyncError('PATH_APPLY_FAILED', `${path}: ${err.message as string}`, { cause: err })
  }
}

/** Makes `path` hold `record` (file content from the block store, a dir, or a symlink). */
export interface ApplyOptions {
  /**
   * A path in the folder that should hold this content already (the other half of a rename): it
   * is copied with one read, not rebuilt block by block from the store. If it no longer holds the
   * content, the whole-file hash check fails and the store is used after all.
   */
  copyFrom?: string
  /**
   * The file this batch deletes whose content `record` adds at a new path (a rename): the new
   * path is made a hard link of it (see linkRenamed), no byte read or written. Implies copyFrom
   * as the fallback.
   */
  renamedFrom?: { path: string, local: StoredRecord }
  /** The parent directory of what is written is not fsynced here: the caller does it before recording it. */
  isDirSyncDeferred?: boolean
  /**
   * Where the folder keeps undo entries: given, a small change to a big file may be written over
   * the old file in place (fs/patch.ts), not into a new file. The caller undoes what a crash cut
   * short (undoInterruptedPatch) before it scans the folder again.
   */
  patchJournal?: PatchJournal
}

export async function applyRecord (root: string, store: Store, record: FileRecord, local: StoredRecord | undefined, target = record.path, { copyFrom, renamedFrom, isDirSyncDeferred = false, patchJournal }: ApplyOptions = {}): Promise<Applied> {
  return await applying(target, async () => {
    if (renamedFrom !== undefined && target === record.path) {
      const linked = await linkRenamed(root, record, local, renamedFrom)
      if (linked !== undefined) {
        if (!isDirSyncDeferred) await fsyncDir(dirname(joinFolderPath(root, target)))
        return linked
      }
    }
    if (patchJournal !== undefined && target === record.path && copyFrom === undefined && renamedFrom === undefined && local !== undefined) {
      await assertRealParents(root, target)
      const patched = await patchInPlace(joinFolderPath(root, target), store, record, local, patchJournal, () => new LocalChangedError(target))
      if (patched !== undefined) return patched
    }
    const nearby = record.kind === 'file' ? contentNearby(root, store, record, local, target, copyFrom ?? renamedFrom?.path) : undefined
    if (nearby !== undefined) {
      try {
        return await applyRecordUnmapped(root, store, record, local, target, nearby, isDirSyncDeferred)
      } catch (err) {
        // The file read from changed since it was scanned: the whole-content check caught it.
        if (!(err instanceof SourceChangedError) && !isLansyncError(err, 'STORE_CORRUPT')) throw err
      }
    }
    return await applyRecordUnmapped(root, store, record, local, target, versionContent(store, record), isDirSyncDeferred)
  })
}

/**
 * The content of `record` from a file in the folder that holds it (or most of it) already, which
 * is cheaper to read than the block store, where a file's blocks may lie mixed with other
 * files' (as they arrived): a copy's or rename's source, read whole; or the file being replaced,
 * for the blocks it shares with the new version (an edit inside a big file), the rest from the
 * store. Undefined when there is no such file. What it yields is checked whole against
 * `record.hash` by the write, so a source changed meanwhile fails there, and the caller falls
 * back to the store alone.
 */
function contentNearby (root: string, store: Store, record: FileRecord, local: StoredRecord | undefined, target: string, source: string | undefined): AsyncIterable<Uint8Array> | undefined {
  if (source !== undefined) return localFileContent(joinFolderPath(root, source))
  if (target !== record.path || local === undefined || local.isDeleted || local.kind !== 'file') return undefined
  const plan = planContentReads(record.blocks, local.blocks, FILE_READ_BYTES)
  if (plan.fileBytes === 0) return undefined
  return mixedContent(joinFolderPath(root, target), store, record.path, plan.reads)
}

/**
 * Bytes read from a file in the folder at once (see contentNearby). Rebuilding a 256 MiB file
 * with 4 KiB changed, fsync included, in a micro-benchmark (four runs each): 0.60–0.64 s with
 * 1 MiB, 0.68–0.79 s with 256 KiB; from the block store, its blocks mixed with three other
 * files' as they arrive in a first sync, 0.83–0.98 s.
 */
const FILE_READ_BYTES = 1024 * 1024

/**
 * Content read as `reads` say: ranges of the file at `path` (each read starts before the one
 * before it is consumed, so the disk is not idle while the writer works), blocks from the store.
 */
async function * mixedContent (path: string, store: Store, recordPath: string, reads: ContentRead[]): AsyncGenerator<Uint8Array> {
  let handle
  try { handle = await open(path, 'r') } catch (err) { throw new SourceChangedError((err as Error).message) }
  const readRange = async (read: ContentRead): Promise<Buffer | undefined> => {
    if (read.from !== 'file') return undefined
    const buffer = Buffer.allocUnsafe(read.sizeBytes)
    let done = 0
    try {
      while (done < buffer.byteLength) {
        const { bytesRead } = await handle.read(buffer, done, buffer.byteLength - done, read.offset + done)
        if (bytesRead === 0) throw new SourceChangedError(`${path} is shorter than when it was scanned`)
        done += bytesRead
      }
    } catch (err) {
      throw err instanceof SourceChangedError ? err : new SourceChangedError((err as Error).message)
    }
    return buffer
  }
  let next = readRange(reads[0])
  try {
    for (let i = 0; i < reads.length; i++) {
      const current = next
      next = i + 1 < reads.length ? readRange(reads[i + 1]) : Promise.resolve(undefined)
      next.catch(() => {}) // awaited on the next turn, unless this one fails first
      const read = reads[i]
      if (read.from === 'file') yield (await current) as Buffer
      else yield * versionContent(store, { path: recordPath, blocks: read.blocks })
    }
  } finally {
    await next.catch(() => {})
    await handle.close()
  }
}

/**
 * A rename applied as a rename: the new path `record.path` becomes a second name (hard link) of
 * the old file, which the batch deletes afterwards through applyDelete. Only when nothing can
 * differ from writing the file: the new path is not in the index (a new file), the old file's
 * record has the same content, size, mode and mtime as `record`, its inode is known, and its disk
 * state still is that record (checked by linkIfUnchanged just before and after the link, so a save
 * to the old path meanwhile is never recorded as the new file). Else undefined: copy instead.
 *
 * Saves to the old path between the link and its delete: both names are one inode until then.
 *  - A save by rename (as editors save) gives the old path a new inode: the link is already
 *    broken, the new path keeps the remote content; the delete sees another inode and stops
 *    (LOCAL_CHANGED), the puller rescans the old path, the save is recorded and wins the conflict.
 *  - A save in place writes the shared inode, so the new path shows it too. Its mtime (and maybe
 *    size) no longer match either record: the delete of the old path stops as above, and the
 *    puller rescans the new path as well (Puller's link check after the batch), which records
 *    the save there as a local edit. The remote version of the new path was committed (history
 *    and block store) before, so nothing is lost; both names keep the user's bytes.
 * A crash between the link and the delete leaves two names of one file, both in the index; the
 * peer sends the delete again (its batch was not acknowledged) and it is applied then.
 */
async function linkRenamed (root: string, record: FileRecord, local: StoredRecord | undefined, from: { path: string, local: StoredRecord }): Promise<Applied | undefined> {
  const source = from.local
  const isSameFile = record.kind === 'file' && source.kind === 'file' && !source.isDeleted && source.inode !== 0 &&
    source.sizeBytes === record.sizeBytes && source.mtimeMs === record.mtimeMs && (source.mode & 0o7777) === (record.mode & 0o7777) &&
    Buffer.compare(source.hash, record.hash) === 0
  if (!isSameFile || (local !== undefined && !local.isDeleted)) return undefined
  await assertRealParents(root, from.path)
  await assertRealParents(root, record.path)
  try {
    const linked = await linkIfUnchanged(joinFolderPath(root, from.path), joinFolderPath(root, record.path), { inode: source.inode, sizeBytes: source.sizeBytes, mtimeMs: source.mtimeMs })
    if (linked === undefined) return undefined
    crashPoint('apply:linked')
    await pausePoint('apply:linked')
    return { inode: linked.inode, mtimeMs: linked.mtimeMs }
  } catch (err) {
    // The name we linked was saved over meanwhile: it is the user's file now (a rescan records it).
    if (err instanceof TargetChangedError) throw new LocalChangedError(record.path)
    throw err
  }
}

class SourceChangedError extends Error {}

/** A local file's bytes, in large reads; a read failure means the copy source is gone (fall back). */
async function * localFileContent (path: string): AsyncGenerator<Uint8Array> {
  let handle
  try { handle = await open(path, 'r') } catch (err) { throw new SourceChangedError((err as Error).message) }
  try {
    for (;;) {
      const buffer = Buffer.allocUnsafe(1024 * 1024)
      let read
      try { ({ bytesRead: read } = await handle.read(buffer, 0, buffer.length, null)) } catch (err) { throw new SourceChangedError((err as Error).message) }
      if (read === 0) return
      yield buffer.subarray(0, read)
    }
  } finally {
    await handle.close()
  }
}

async function applyRecordUnmapped (root: string, store: Store, record: FileRecord, local: StoredRecord | undefined, target: string, content: AsyncIterable<Uint8Array>, isDirSyncDeferred = false): Promise<Applied> {
  await assertRealParents(root, target)
  const full = joinFolderPath(root, target)
  if (record.kind === 'file') {
    const isReplacingFile = target === record.path && local !== undefined && !local.isDeleted && local.kind === 'file'
    try {
      const written = await writeFileAtomically({
        target: full,
        chunks: content,
        expectedHash: record.hash,
        mode: record.mode,
        mtimeMs: record.mtimeMs,
        beforeRename: async () => {
          if (target === record.path) await assertUnchanged(root, record.path, local)
          else await assertAbsent(root, target)
          // A directory or symlink in the way of a file is replaced only if the index knew it.
          if (target === record.path && local !== undefined && !local.isDeleted && local.kind !== 'file') await removeKnown(full, local)
        },
        expectedTarget: isReplacingFile ? { inode: local.inode, sizeBytes: local.sizeBytes, mtimeMs: local.mtimeMs } : 'absent',
        isDirSynced: !isDirSyncDeferred
      })
      return { inode: written.inode, mtimeMs: written.mtimeMs }
    } catch (err) {
      if (err instanceof TargetChangedError) throw new LocalChangedError(target)
      throw err
    }
  }
  if (target === record.path) await assertUnchanged(root, record.path, local)
  else await assertAbsent(root, target)
  if (record.kind === 'dir') {
    if (local !== undefined && !local.isDeleted && local.kind !== 'dir') await removeKnown(full, local)
    await mkdir(full, { recursive: true })
    await chmod(full, record.mode & 0o7777)
  } else {
    if (local !== undefined && !local.isDeleted) await removeKnown(full, local)
    await mkdir(dirname(full), { recursive: true })
    await symlink(record.linkTarget, full)
  }
  if (!isDirSyncDeferred) await fsyncDir(dirname(full))
  const s = await lstatNow(full)
  if (record.kind === 'dir') await utimes(full, utimesSeconds(record.mtimeMs), utimesSeconds(record.mtimeMs)).catch(() => {})
  return { inode: s.ino, mtimeMs: Math.floor(record.kind === 'dir' ? record.mtimeMs : s.mtimeMs) }
}

/** Only mode and mtime change (same bytes): no rewrite. */
export async function applyMetadata (root: string, record: FileRecord, local: StoredRecord | undefined): Promise<Applied> {
  return await applying(record.path, async () => await applyMetadataUnmapped(root, record, local))
}

async function applyMetadataUnmapped (root: string, record: FileRecord, local: StoredRecord | undefined): Promise<Applied> {
  await assertRealParents(root, record.path)
  await assertUnchanged(root, record.path, local)
  const full = joinFolderPath(root, record.path)
  await chmod(full, record.mode & 0o7777)
  await utimes(full, utimesSeconds(record.mtimeMs), utimesSeconds(record.mtimeMs))
  const s = await lstatNow(full)
  return { inode: s.ino, mtimeMs: Math.floor(s.mtimeMs) }
}

/**
 * Removes `path` for a remote deletion, if it still holds what the index says. A directory that
 * still holds files the remote did not know (ignored or new ones) is kept: returns false.
 */
export async function applyDelete (root: string, path: string, local: StoredRecord | undefined): Promise<boolean> {
  return await applying(path, async () => await applyDeleteUnmapped(root, path, local))
}

async function applyDeleteUnmapped (root: string, path: string, local: StoredRecord | undefined): Promise<boolean> {
  await assertRealParents(root, path)
  await assertUnchanged(root, path, local)
  if (local === undefined || local.isDeleted) return true
  await pausePoint('apply:delete-checked')
  const full = joinFolderPath(root, path)
  if (local.kind === 'dir') {
    try { await rmdir(full) } catch (err: any) {
      if (err.code === 'ENOTEMPTY' || err.code === 'EEXIST') return false
      if (err.code !== 'ENOENT') throw err
    }
  } else if (local.kind === 'file') {
    try {
      await removeFileIfUnchanged(full, { inode: local.inode, sizeBytes: local.sizeBytes, mtimeMs: local.mtimeMs })
    } catch (err) {
      if (err instanceof TargetChangedError) throw new LocalChangedError(path)
      throw err
    }
  } else {
    await unlink(full).catch((err: any) => { if (err.code !== 'ENOENT') throw err })
  }
  await fsyncDir(dirname(full)).catch(() => {})
  return true
}

async function assertAbsent (root: string, path: string): Promise<void> {
  const s = lstatOrError(joinFolderPath(root, path))
  if (s === undefined) return
  if (s instanceof Error) throw s
  throw new LocalChangedError(path)
}

async function removeKnown (full: string, local: StoredRecord): Promise<void> {
  if (local.kind === 'dir') await rm(full, { recursive: false, force: true }).catch(async () => await rmdir(full))
  else await unlink(full).catch((err: any) => { if (err.code !== 'ENOENT') throw err })
}

