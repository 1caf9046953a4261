// The conflict inbox: every conflict copy in the index (its name is deterministic, so every device
// derives the same list from the same records) paired with the version kept at its original path,
// and their resolution as plain local changes (a restore, a rename, a delete) that then sync.
import { existsSync } from 'node:fs'
import { rename, rm } from 'node:fs/promises'
import { join } from 'node:path'
import type { FolderConfig } from '../config.js'
import { conflictOriginal, keptCopyName } from '../core/conflict.js'
import { selectVersion } from '../core/history-select.js'
import { LansyncError } from '../errors.js'
import { restoreVersion } from '../fs/restore.js'
import type { StoredRecord } from '../store/store.js'
import { findFolder, locatePath } from './locate.js'
import type { OpsContext } from './history.js'

/** One side of a conflict, as every device's index holds it. */
export interface ConflictSide {
  path: string
  /** Short id of the device that made this version (the same on every device). */
  deviceShort: string
  /** That device's name as this device knows it. */
  device: string
  /**
   * Modification time, to the second (ISO 8601). Whole seconds because an index records the mtime a
   * written file got on its disk, which can be 1 ms off the author's: the list stays the same everywhere.
   */
  time: string
  sizeBytes: number
  hash: string
  kind: string
}

export interface ConflictEntry {
  folder: string
  label: string
  /** The path both versions were made at; the winner stays there. */
  path: string
  /** What the path holds now; undefined when it was deleted since. */
  winner: ConflictSide | undefined
  /** The losing version, kept at its `.sync-conflict-…` copy. */
  loser: ConflictSide
}

export type KeepChoice = { type: 'mine' } | { type: 'theirs' } | { type: 'both' } | { type: 'version', number: number }

/** `--keep mine|theirs|both|N`; anything else is ARG_INVALID. */
export function parseKeep (text: unknown): KeepChoice {
  const value = String(text ?? '').trim()
  if (value === 'mine' || value === 'theirs' || value === 'both') return { type: value }
  if (/^[0-9]+$/.test(value) && Number(value) >= 1) return { type: 'version', number: Number(value) }
  throw new LansyncError('ARG_INVALID', `--keep takes mine, theirs, both or a version number from \`lansync history PATH\`, not "${value}"`)
}

/** Every unresolved conflict of the folders (or of one), by folder then path. */
export async function listConflicts (ctx: OpsContext, { folder: name }: { folder?: string } = {}): Promise<{ conflicts: ConflictEntry[] }> {
  const folders = name === undefined ? ctx.config.folders : [findFolder(ctx.config, name)]
  const conflicts: ConflictEntry[] = []
  for (const folder of folders) {
    for (const copy of await liveCopies(ctx, folder)) {
      const original = conflictOriginal(copy.path) as string
      const at = await ctx.store.getRecord(folder.id, original)
      conflicts.push({
        folder: folder.id,
        label: folder.label,
        path: original,
        winner: at === undefined || at.isDeleted ? undefined : side(ctx, at),
        loser: side(ctx, copy)
      })
    }
  }
  return { conflicts }
}

/** Live conflict copies of a folder in path order, optionally only those of `original`. */
async function liveCopies (ctx: OpsContext, folder: FolderConfig, original?: string): Promise<StoredRecord[]> {
  const out: StoredRecord[] = []
  const slash = original === undefined ? -1 : original.lastIndexOf('/')
  const under = original === undefined || slash === -1 ? '' : original.slice(0, slash)
  for await (const r of ctx.store.records(folder.id, under)) {
    if (r.isDeleted || r.kind === 'dir') continue
    const of = conflictOriginal(r.path)
    if (of === undefined || (original !== undefined && of !== original)) continue
    out.push(r)
  }
  return out
}

function side (ctx: OpsContext, r: StoredRecord): ConflictSide {
  return {
    path: r.path,
    deviceShort: r.modifiedBy,
    device: ctx.deviceName(r.modifiedBy).replace(/ \(this device\)$/, ''),
    time: new Date(Math.round(r.mtimeMs / 1000) * 1000).toISOString(),
    sizeBytes: r.sizeBytes,
    hash: Buffer.from(r.hash).toString('hex'),
    kind: r.kind
  }
}

export interface ResolveParams { path: string, keep: string }

export interface ResolveResult {
  folder: string
  path: string
  keep: string
  /** Conflict copies removed (their content stays in history: `lansync restore COPY`). */
  removed: string[]
  /** `both`: where the copy's content lives on. */
  keptAs?: string
  /** A version number of PATH: the one restored. */
  restoredVersion?: number
}

/**
 * Resolves the conflict(s) at PATH (the original path, or one conflict copy's path) on this device;
 * the changes then sync, so the conflict leaves every device's list. Everything is checked before
 * anything changes: the keep choice, that there is a conflict, the version number.
 */
export async function resolveConflict (ctx: OpsContext, params: ResolveParams): Promise<ResolveResult> {
  const keep = parseKeep(params.keep)
  const { folder, relPath } = locatePath(ctx.config, params.path)
  const named = conflictOriginal(relPath)
  const namedCopy = named === undefined ? undefined : await ctx.store.getRecord(folder.id, relPath)
  const isCopyNamed = namedCopy !== undefined && !namedCopy.isDeleted && namedCopy.kind !== 'dir'
  const original = isCopyNamed ? named as string : relPath
  const copies = isCopyNamed ? [namedCopy] : await liveCopies(ctx, folder, original)
  if (copies.length === 0) {
    throw new LansyncError('CONFLICT_NOT_FOUND', `${relPath} in folder ${folder.label} has no unresolved conflict (see \`lansync conflicts\`)`)
  }
  if (copies.length > 1 && (keep.type === 'theirs' || keep.type === 'both')) {
    throw new LansyncError('ARG_INVALID', `${original} has ${copies.length} conflict copies; name the one to keep: ${copies.map(c => c.path).join(', ')}`)
  }
  const versions = keep.type === 'version' ? await ctx.store.versions(folder.id, original) : []
  const versionIndex = keep.type === 'version' ? selectVersion(versions, { number: keep.number }, original) : -1

  // What is on disk now goes into history first (an edit of the copy or the path is kept too).
  const copyPaths = copies.map(c => c.path)
  await ctx.scanPaths(folder.id, [original, ...copyPaths])
  const target = join(folder.path, original)
  // Content written to the path is a new edit, made now: with the old version's mtime it could lose
  // to a change of the path that a peer makes meanwhile (the newer mtime wins a conflict).
  const nowMs = Math.floor(ctx.now())
  const result: ResolveResult = { folder: folder.label, path: original, keep: params.keep, removed: [] }
  switch (keep.type) {
    case 'mine':
      break
    case 'theirs': {
      const copy = await ctx.store.getRecord(folder.id, copyPaths[0])
      if (copy === undefined || copy.isDeleted) throw new LansyncError('CONFLICT_NOT_FOUND', `the conflict copy ${copyPaths[0]} is gone from disk`)
      await restoreVersion(ctx.store, { ...copy, path: original, mtimeMs: nowMs, recordedMs: 0, origin: 'restore' }, target)
      break
    }
    case 'both': {
      const keptAs = keptCopyName(original, ctx.deviceName(copies[0].modifiedBy).replace(/ \(this device\)$/, ''), p => existsSync(join(folder.path, p)))
      if (keptAs === undefined) throw new LansyncError('ARG_INVALID', `no free name to keep ${copyPaths[0]} under`)
      await rename(join(folder.path, copyPaths[0]), join(folder.path, keptAs))
      result.keptAs = keptAs
      break
    }
    case 'version':
      await restoreVersion(ctx.store, { ...versions[versionIndex], mtimeMs: nowMs }, target)
      result.restoredVersion = versionIndex + 1
      break
  }
  if (keep.type !== 'both') for (const path of copyPaths) await rm(join(folder.path, path), { force: true })
  result.removed = copyPaths
  await ctx.scanPaths(folder.id, [original, ...copyPaths, ...(result.keptAs !== undefined ? [result.keptAs] : [])])
  return result
}
