// History operations the CLI asks for: list a file's versions, restore one, restore a whole
// folder as of a time, prune by retention and collect garbage.
import { basename, join, resolve } from 'node:path'
import { statSync } from 'node:fs'
import type { Config } from '../config.js'
import { LansyncError } from '../errors.js'
import { selectVersion, parseTime } from '../core/history-select.js'
import { parseRetention, type RetentionPolicy } from '../core/retention.js'
import { restoreSnapshot, restoreVersion, type RestoreProgress } from '../fs/restore.js'
import { collectGarbage, pruneFolder } from '../store/prune.js'
import type { Store } from '../store/store.js'
import { findFolder, locatePath } from './locate.js'

export interface OpsContext {
  config: Config
  store: Store
  now: () => number
  /** Name of a device for people, from its short id. */
  deviceName: (short: string) => string
  /** Records the current disk state of these paths before something replaces them. */
  scanPaths: (folderId: string, paths: string[]) => Promise<void>
}

export interface HistoryRow {
  number: number
  recordedMs: number
  time: string
  sizeBytes: number
  device: string
  hash: string
  isDeleted: boolean
  origin: string
  kind: string
}

export async function listHistory (ctx: OpsContext, { path }: { path: string }): Promise<{ folder: string, path: string, versions: HistoryRow[] }> {
  const { folder, relPath } = locatePath(ctx.config, path)
  const versions = await ctx.store.versions(folder.id, relPath)
  if (versions.length === 0) throw new LansyncError('VERSION_NOT_FOUND', `there is no history for ${relPath} in folder ${folder.label}`)
  return {
    folder: folder.label,
    path: relPath,
    versions: versions.map((v, i) => ({
      number: i + 1,
      recordedMs: v.recordedMs,
      time: new Date(v.recordedMs).toISOString(),
      sizeBytes: v.sizeBytes,
      device: ctx.deviceName(v.modifiedBy),
      hash: v.isDeleted ? '' : Buffer.from(v.hash).toString('hex'),
      isDeleted: v.isDeleted,
      origin: v.origin,
      kind: v.kind
    }))
  }
}

/** Most paths one `history.paths` answer lists (the dashboard's path list; narrow it with `filter`). */
export const MAX_LISTED_PATHS = 500

export interface PathRow { path: string, kind: string, sizeBytes: number, mtimeMs: number, isDeleted: boolean }

/**
 * The paths of a folder whose history can be browsed (files and symlinks, deleted ones too), in
 * path order; `filter` keeps those containing it (case-insensitive). At most `limit` (≤ 500).
 */
export async function listPaths (
  ctx: OpsContext, { folder: name, filter = '', limit = MAX_LISTED_PATHS }: { folder: string, filter?: string, limit?: number }
): Promise<{ folder: string, label: string, paths: PathRow[], isTruncated: boolean }> {
  const folder = findFolder(ctx.config, name)
  if (typeof filter !== 'string') throw new LansyncError('ARG_INVALID', 'filter must be text')
  if (!Number.isInteger(limit) || limit < 1) throw new LansyncError('ARG_INVALID', `limit must be a whole number of at least 1, not ${JSON.stringify(limit)}`)
  const max = Math.min(limit, MAX_LISTED_PATHS)
  const needle = filter.toLowerCase()
  const paths: PathRow[] = []
  let isTruncated = false
  for await (const r of ctx.store.records(folder.id)) {
    if (r.kind === 'dir' || !r.path.toLowerCase().includes(needle)) continue
    if (paths.length === max) { isTruncated = true; break }
    paths.push({ path: r.path, kind: r.kind, sizeBytes: r.sizeBytes, mtimeMs: r.mtimeMs, isDeleted: r.isDeleted })
  }
  return { folder: folder.id, label: folder.label, paths, isTruncated }
}

export interface RestoreParams { path: string, version?: number, at?: string, to?: string }

export async function restoreFile (ctx: OpsContext, params: RestoreParams): Promise<{ path: string, number: number, restoredTo: string, sizeBytes: number }> {
  const { folder, relPath } = locatePath(ctx.config, params.path)
  const versions = await ctx.store.versions(folder.id, relPath)
  const atMs = params.at === undefined ? undefined : parseTime(params.at, ctx.now())
  const index = selectVersion(versions, { number: params.version, atMs }, relPath)
  const version = versions[index]
  let target: string
  if (params.to === undefined) {
    target = join(folder.path, relPath)
    // Whatever is on disk now goes into history first, so restoring never loses it.
    await ctx.scanPaths(folder.id, [relPath])
  } else {
    target = resolve(params.to)
    if (isDirectory(target)) target = join(target, basename(relPath))
  }
  const sizeBytes = await restoreVersion(ctx.store, version, target)
  return { path: relPath, number: index + 1, restoredTo: target, sizeBytes }
}

export async function restoreFolderSnapshot (
  ctx: OpsContext, { folder: name, at, to }: { folder: string, at: string, to: string }, onProgress?: (p: RestoreProgress) => void
): Promise<{ folder: string, atMs: number, to: string, files: number, dirs: number, bytes: number }> {
  const folder = findFolder(ctx.config, name)
  const atMs = parseTime(at, ctx.now())
  const dest = resolve(to)
  const inside = ctx.config.folders.find(f => dest === resolve(f.path) || dest.startsWith(resolve(f.path) + '/'))
  if (inside !== undefined) throw new LansyncError('ARG_INVALID', `restore into a directory outside synced folders (${dest} is inside ${inside.label})`)
  const result = await restoreSnapshot(ctx.store, folder.id, atMs, dest, onProgress)
  return { folder: folder.label, atMs, to: dest, ...result }
}

export async function pruneHistory (
  ctx: OpsContext, { folder: name, policy }: { folder?: string, policy?: string }
): Promise<{ folders: Array<{ folder: string, versionsRemoved: number, versionsKept: number }>, blocksRemoved: number, blockBytesRemoved: number, bytesFreed: number }> {
  const folders = name === undefined ? ctx.config.folders : [findFolder(ctx.config, name)]
  const override: RetentionPolicy | undefined = policy === undefined ? undefined : parseRetentionArg(policy)
  const out = []
  for (const folder of folders) {
    const result = await pruneFolder(ctx.store, folder.id, override ?? folder.retention, ctx.now())
    out.push({ folder: folder.label, ...result })
  }
  const gc = await collectGarbage(ctx.store)
  return { folders: out, blocksRemoved: gc.blocksRemoved, blockBytesRemoved: gc.blockBytesRemoved, bytesFreed: gc.bytesFreed }
}

export function parseRetentionArg (text: string): RetentionPolicy {
  try { return parseRetention(text) } catch (err) { throw new LansyncError('ARG_INVALID', (err as Error).message) }
}

function isDirectory (path: string): boolean {
  try { return statSync(path).isDirectory() } catch { return false }
}
