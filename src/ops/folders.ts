// Adding, listing and removing folders. A folder gets a marker dir at its root; removing a folder
// stops syncing it and never touches the user's files (its history stays in the store).
import { existsSync, mkdirSync, readFileSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { randomBytes } from 'node:crypto'
import { DEFAULT_MAX_DELETE_SHARE, MARKER_DIR, isDeleteShare, writeFileAtomic, type Config, type FolderConfig, type FolderType } from '../config.js'
import { LansyncError } from '../errors.js'
import { findFolder } from './locate.js'
import { parseSelectionPatterns } from '../core/selection.js'
import { FOLDER_TYPES } from '../core/folder-type.js'

const FOLDER_ID = /^[a-z0-9][a-z0-9-]{0,63}$/
const MARKER_FILE = 'folder.json'

export interface AddFolderParams { path: string, label?: string, id?: string, type?: FolderType }

/** Validates and adds a folder to `config` (the caller saves it); creates the marker. */
export function addFolder (config: Config, home: string, params: AddFolderParams): FolderConfig {
  const path = resolve(params.path)
  let s
  try { s = statSync(path) } catch { throw new LansyncError('FOLDER_PATH_INVALID', `${path} does not exist; create it first`) }
  if (!s.isDirectory()) throw new LansyncError('FOLDER_PATH_INVALID', `${path} is not a directory`)
  const homeAbs = resolve(home)
  if (isWithin(path, homeAbs) || isWithin(homeAbs, path)) {
    throw new LansyncError('FOLDER_OVERLAPS', `${path} overlaps the lansync home ${homeAbs}`)
  }
  for (const other of config.folders) {
    const otherPath = resolve(other.path)
    if (isWithin(path, otherPath) || isWithin(otherPath, path)) {
      throw new LansyncError('FOLDER_OVERLAPS', `${path} overlaps folder "${other.label}" at ${otherPath}; folders cannot be nested`)
    }
  }
  const markerId = readMarkerId(path)
  if (params.id !== undefined && !FOLDER_ID.test(params.id)) {
    throw new LansyncError('ARG_INVALID', `folder id "${params.id}" must be 1-64 of a-z, 0-9 and '-'`)
  }
  if (params.id !== undefined && markerId !== undefined && markerId !== params.id) {
    throw new LansyncError('FOLDER_EXISTS', `${path} was already folder "${markerId}"; add it with that id, or remove ${join(path, MARKER_DIR)} first`)
  }
  if (params.type !== undefined && !FOLDER_TYPES.includes(params.type)) {
    throw new LansyncError('ARG_INVALID', `--type must be one of ${FOLDER_TYPES.join(', ')}, not ${String(params.type)}`)
  }
  const id = params.id ?? markerId ?? newFolderId()
  if (config.folders.some(f => f.id === id)) throw new LansyncError('FOLDER_EXISTS', `a folder with id ${id} is already configured`)
  const label = params.label ?? id
  if (config.folders.some(f => f.label === label)) throw new LansyncError('FOLDER_EXISTS', `a folder labelled "${label}" already exists; pick another --label`)
  mkdirSync(join(path, MARKER_DIR), { recursive: true })
  writeFileAtomic(join(path, MARKER_DIR, MARKER_FILE), JSON.stringify({ id, label }) + '\n')
  const folder: FolderConfig = { id, label, path, type: params.type ?? 'sendreceive', sharedWith: [], retention: { mode: 'all' }, isPaused: false, maxDeleteShare: DEFAULT_MAX_DELETE_SHARE, selection: [] }
  config.folders.push(folder)
  return folder
}

export function removeFolder (config: Config, name: string): FolderConfig {
  const folder = findFolder(config, name)
  config.folders = config.folders.filter(f => f.id !== folder.id)
  return folder
}

export interface FolderSettings { maxDeleteShare?: number, type?: FolderType }

/** Changes a folder's settings in `config` (the caller saves it). */
export function setFolderSettings (config: Config, name: string, settings: FolderSettings): FolderConfig {
  const folder = findFolder(config, name)
  if (settings.maxDeleteShare === undefined && settings.type === undefined) throw new LansyncError('ARG_INVALID', 'name a setting to change, e.g. --max-delete-share 0.3 or --type receiveonly')
  if (settings.maxDeleteShare !== undefined && !isDeleteShare(settings.maxDeleteShare)) {
    throw new LansyncError('ARG_INVALID', `--max-delete-share must be a share of the folder from 0 to 1 (e.g. 0.3 for 30%; 1 turns the guard off), not ${String(settings.maxDeleteShare)}`)
  }
  if (settings.type !== undefined && !FOLDER_TYPES.includes(settings.type)) {
    throw new LansyncError('ARG_INVALID', `--type must be one of ${FOLDER_TYPES.join(', ')}, not ${String(settings.type)}`)
  }
  if (settings.maxDeleteShare !== undefined) folder.maxDeleteShare = settings.maxDeleteShare
  if (settings.type !== undefined) folder.type = settings.type
  return folder
}

/**
 * `lansync folder only`: this device holds only the paths matching `patterns` (gitignore style),
 * or everything again with `isAll`. Changes `config` (the caller saves it); nothing on disk moves.
 */
export function setFolderSelection (config: Config, name: string, { patterns, isAll }: { patterns: readonly unknown[], isAll: boolean }): FolderConfig {
  const folder = findFolder(config, name)
  if (isAll && patterns.length > 0) throw new LansyncError('ARG_INVALID', 'give patterns or --all, not both')
  folder.selection = isAll ? [] : parseSelectionPatterns(patterns)
  return folder
}

/** Pauses or resumes syncing a folder with every device (the caller saves the config). */
export function setFolderPaused (config: Config, name: string, isPaused: boolean): { folder: FolderConfig, isChanged: boolean } {
  const folder = findFolder(config, name)
  const isChanged = folder.isPaused !== isPaused
  folder.isPaused = isPaused
  return { folder, isChanged }
}

function readMarkerId (path: string): string | undefined {
  const file = join(path, MARKER_DIR, MARKER_FILE)
  if (!existsSync(file)) return undefined
  try {
    const id = JSON.parse(readFileSync(file, 'utf8')).id
    return typeof id === 'string' && FOLDER_ID.test(id) ? id : undefined
  } catch { return undefined }
}

function newFolderId (): string {
  const text = randomBytes(8).toString('base64url').toLowerCase().replace(/[^a-z0-9]/g, '').padEnd(10, '0').slice(0, 10)
  return `${text.slice(0, 5)}-${text.slice(5)}`
}

function isWithin (child: string, parent: string): boolean {
  return child === parent || child.startsWith(parent.endsWith('/') ? parent : parent + '/')
}
