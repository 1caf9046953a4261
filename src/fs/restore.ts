// Writes versions from history back to disk: one file to its place or elsewhere, or a whole
// folder as of a time. Content comes from the block store, every block hash-checked on read.
import { mkdir, readdir, symlink, rm, lstat } from 'node:fs/promises'
import { join, dirname } from 'node:path'
import { LansyncError } from '../errors.js'
import { versionAt } from '../core/history-select.js'
import type { Store, VersionEntry } from '../store/store.js'
import { writeFileAtomically } from './atomic.js'

export interface RestoreProgress { filesDone: number, filesTotal: number, bytesDone: number, bytesTotal: number }

/**
 * Streams a version's content out of the block store, for writeFileAtomically: it checks the hash
 * of the whole content, which a wrong block cannot pass, so blocks are not checked one by one too.
 */
export async function * versionContent (store: Store, version: Pick<VersionEntry, 'blocks' | 'path'>): AsyncGenerator<Uint8Array> {
  for await (const bytes of store.getBlocks(version.blocks.map(b => b.hash), { isVerified: false })) {
    if (bytes === undefined) {
      throw new LansyncError('STORE_BLOCK_MISSING', `a block of ${version.path} is missing from the store; this version cannot be restored`)
    }
    yield bytes
  }
}

/** Writes one version to `target` (replacing what is there atomically). Returns bytes written. */
export async function restoreVersion (store: Store, version: VersionEntry, target: string): Promise<number> {
  if (version.isDeleted) throw new LansyncError('VERSION_NOT_FOUND', `that version of ${version.path} is a deletion`)
  if (version.kind === 'dir') { await mkdir(target, { recursive: true }); return 0 }
  if (version.kind === 'symlink') {
    await mkdir(dirname(target), { recursive: true })
    await rm(target, { force: true })
    await symlink(version.linkTarget, target)
    return 0
  }
  const written = await writeFileAtomically({
    target, chunks: versionContent(store, version), expectedHash: version.hash, mode: version.mode, mtimeMs: version.mtimeMs
  })
  return written.sizeBytes
}

/** Rebuilds a whole folder as it was at `atMs` into an empty or new directory `dest`. */
export async function restoreSnapshot (
  store: Store, folderId: string, atMs: number, dest: string, onProgress?: (p: RestoreProgress) => void
): Promise<{ files: number, dirs: number, bytes: number }> {
  await assertEmptyDestination(dest)
  const chosen: VersionEntry[] = []
  for await (const { versions } of store.versionsByPath(folderId)) {
    const index = versionAt(versions, atMs)
    if (index !== -1 && !versions[index].isDeleted) chosen.push(versions[index])
  }
  const bytesTotal = chosen.reduce((n, v) => n + v.sizeBytes, 0)
  const progress: RestoreProgress = { filesDone: 0, filesTotal: chosen.length, bytesDone: 0, bytesTotal }
  await mkdir(dest, { recursive: true })
  let dirs = 0
  for (const version of chosen) { // path order: a directory comes before what it holds
    const written = await restoreVersion(store, version, join(dest, version.path))
    if (version.kind === 'dir') dirs += 1
    progress.filesDone += 1
    progress.bytesDone += written
    onProgress?.(progress)
  }
  return { files: chosen.length - dirs, dirs, bytes: progress.bytesDone }
}

async function assertEmptyDestination (dest: string): Promise<void> {
  try {
    const s = await lstat(dest)
    if (!s.isDirectory()) throw new LansyncError('ARG_INVALID', `${dest} exists and is not a directory`)
    if ((await readdir(dest)).length > 0) throw new LansyncError('ARG_INVALID', `${dest} is not empty; restore into a new or empty directory so nothing is overwritten`)
  } catch (err: any) {
    if (err.code === 'ENOENT') return
    throw err
  }
}
