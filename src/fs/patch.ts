// A remote version written over the file it replaces, in place, when only a small part of a big
// file changed (see core/patch-plan.ts): the differing ranges are overwritten, the rest is not
// touched. Rebuilding a 256 MiB file for a 4 KiB edit wrote and fsynced 256 MiB (0.7–1.4 s here);
// the patch writes the changed blocks and fsyncs them, in milliseconds.
//
// What it gives up, and what keeps that safe:
//  - Readers may see the file half-patched for those milliseconds (as with rsync --inplace). Small
//    files, and edits that change much of a file, are still written to a temp file and renamed.
//  - A crash half-way would leave a mix of the two versions at the path. Before the first write,
//    the ranges' old blocks are named in a durable undo entry in the store (PatchJournal); on
//    restart, undoInterruptedPatch writes them back and puts back the old mtime and mode, so the
//    file is again what the index says it is, and the peer's version arrives again (its batch was
//    never acknowledged). The old blocks are in the store: the old version is in its history.
//  - The old file must still be what the index says (inode, size, mtime: the facts every scan
//    trusts); it is checked on the open descriptor before writing, else LOCAL_CHANGED as for any
//    apply. A file with several names (hard links) is never patched: the other names would change too.
import { open, type FileHandle } from 'node:fs/promises'
import { constants as fsConstants, type Stats } from 'node:fs'
import { lstatNow } from './lstat-now.js'
import { planPatch, type PatchRegion, type PatchUndo } from '../core/patch-plan.js'
import type { BlockRef, FileRecord } from '../core/types.js'
import { totalBlockBytes } from '../core/bytes.js'
import { LansyncError } from '../errors.js'
import type { Store, StoredRecord } from '../store/store.js'
import { utimesSeconds } from './atomic.js'
import { crashPoint } from '../fault.js'

/** Files smaller than this are always rewritten whole: cheap, and readers never see a mix. */
export const PATCH_MIN_FILE_BYTES = 4 * 1024 * 1024
/** At most this share of the file is patched in place; a bigger change is a new file. */
const PATCH_MAX_SHARE = 1 / 8
/** At most this many bytes are patched: the new blocks are read from the store before any write, held in memory. */
const PATCH_MAX_WRITE_BYTES = 4 * 1024 * 1024

/** Where a folder keeps undo entries of patches under way (the store, durably). */
export interface PatchJournal {
  begin: (path: string, undo: PatchUndo) => Promise<void>
  end: (path: string) => Promise<void>
}

export interface Patched { inode: number, mtimeMs: number }

/**
 * Writes `record` over `local`'s file at `full` in place, if that is a patch worth making (see
 * the limits above) and every block it needs is in the store. Undefined when not: the caller
 * writes the file whole. Throws LocalChangedError (made by `changed`) when the file is not what
 * the index says.
 */
export async function patchInPlace (full: string, store: Store, record: FileRecord, local: StoredRecord, journal: PatchJournal, changed: () => Error): Promise<Patched | undefined> {
  if (record.kind !== 'file' || local.kind !== 'file' || local.isDeleted || local.inode === 0 || record.sizeBytes < PATCH_MIN_FILE_BYTES) return undefined
  const plan = planPatch(record.blocks, local.blocks)
  if (plan === undefined || plan.writeBytes > Math.min(PATCH_MAX_WRITE_BYTES, record.sizeBytes * PATCH_MAX_SHARE)) return undefined
  const newBlocks = plan.regions.flatMap(r => r.blocks)
  const oldBlocks = plan.regions.flatMap(r => r.heldBlocks)
  // Both versions' blocks must be in the store: the new to write, the old to undo with.
  if ((await store.hasBlocks([...newBlocks, ...oldBlocks].map(b => b.hash))).includes(false)) return undefined
  const contents = await readRegions(store, record.path, plan.regions)

  let handle: FileHandle
  try {
    handle = await open(full, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW)
  } catch (err: any) {
    if (err.code === 'ENOENT' || err.code === 'ELOOP') throw changed()
    throw err
  }
  try {
    const s = await handle.stat()
    const atPath = await lstatNow(full)
    if (!s.isFile() || s.ino !== local.inode || atPath.ino !== s.ino || s.size !== local.sizeBytes || Math.floor(s.mtimeMs) !== local.mtimeMs) throw changed()
    if (s.nlink !== 1) return undefined
    const startedMs = Date.now()
    await journal.begin(record.path, undoOf(local, record, plan.regions, startedMs))
    let after: Stats
    try {
      for (let k = 0; k < plan.regions.length; k++) {
        await writeAll(handle, contents[k], plan.regions[k].offset)
        crashPoint('apply:patching')
      }
      await handle.chmod(record.mode & 0o7777)
      await handle.utimes(utimesSeconds(record.mtimeMs), utimesSeconds(record.mtimeMs))
      await handle.sync()
      after = await handle.stat()
    } catch (err) {
      // A write failed half-way (an I/O error): put the old bytes back now rather than at the next start.
      const undone = await undoInterruptedPatch(full, store, record.path, undoOf(local, record, plan.regions, startedMs)).catch(() => 'failed')
      if (undone === 'undone') await journal.end(record.path)
      throw err
    }
    await journal.end(record.path)
    return { inode: after.ino, mtimeMs: Math.floor(after.mtimeMs) }
  } finally {
    await handle.close()
  }
}

function undoOf (local: StoredRecord, record: FileRecord, regions: PatchRegion[], startedMs: number): PatchUndo {
  return {
    inode: local.inode,
    sizeBytes: local.sizeBytes,
    mtimeMs: local.mtimeMs,
    mode: local.mode & 0o7777,
    newMtimeMs: record.mtimeMs,
    startedMs,
    regions: regions.map(r => ({ offset: r.offset, blocks: r.heldBlocks }))
  }
}

/** The new blocks of each region, read (and checked against their hashes) before anything is written. */
async function readRegions (store: Store, path: string, regions: PatchRegion[]): Promise<Buffer[]> {
  const out: Buffer[] = []
  for (const region of regions) out.push(await readBlocks(store, path, region.blocks, region.sizeBytes))
  return out
}

async function readBlocks (store: Store, path: string, blocks: BlockRef[], sizeBytes: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(sizeBytes)
  let at = 0
  for await (const bytes of store.getBlocks(blocks.map(b => b.hash))) {
    if (bytes === undefined) throw new LansyncError('STORE_BLOCK_MISSING', `a block of ${path} is missing from the store`)
    buffer.set(bytes, at)
    at += bytes.byteLength
  }
  if (at !== sizeBytes) throw new LansyncError('STORE_CORRUPT', `the blocks of ${path} add up to ${at} bytes, not ${sizeBytes}`)
  return buffer
}

async function writeAll (handle: FileHandle, bytes: Buffer, position: number): Promise<void> {
  let done = 0
  while (done < bytes.byteLength) {
    const { bytesWritten } = await handle.write(bytes, done, bytes.byteLength - done, position + done)
    done += bytesWritten
  }
}

/** How long after its start a patch's own writes may have stamped the file's mtime (a patch takes milliseconds). */
const PATCH_WINDOW_MS = 60_000

/**
 * Puts back a file whose patch was cut short (the agent died during it): the undo entry's old
 * blocks over the ranges, then its old mode and mtime, fsynced. Left alone (and reported as
 * 'changed') when the path no longer holds that file, or its mtime shows a write since (not the
 * old one, not the new one, nor from the patch's own minute): the next scan records what is there.
 */
export async function undoInterruptedPatch (full: string, store: Store, path: string, undo: PatchUndo): Promise<'undone' | 'changed'> {
  let handle: FileHandle
  try {
    handle = await open(full, fsConstants.O_WRONLY | fsConstants.O_NOFOLLOW)
  } catch (err: any) {
    if (err.code === 'ENOENT' || err.code === 'ELOOP' || err.code === 'ENOTDIR') return 'changed'
    throw err
  }
  try {
    const s = await handle.stat()
    const mtimeMs = Math.floor(s.mtimeMs)
    const isOurs = mtimeMs === undo.mtimeMs || mtimeMs === undo.newMtimeMs || (mtimeMs >= undo.startedMs - 1000 && mtimeMs <= undo.startedMs + PATCH_WINDOW_MS)
    if (!s.isFile() || s.ino !== undo.inode || s.size !== undo.sizeBytes || !isOurs) return 'changed'
    for (const region of undo.regions) {
      const sizeBytes = totalBlockBytes(region.blocks)
      await writeAll(handle, await readBlocks(store, path, region.blocks, sizeBytes), region.offset)
    }
    await handle.chmod(undo.mode)
    await handle.utimes(utimesSeconds(undo.mtimeMs), utimesSeconds(undo.mtimeMs))
    await handle.sync()
    return 'undone'
  } finally {
    await handle.close()
  }
}
