// Maps what a user types (a path on disk, a folder label or id) to a configured folder.
import { resolve, relative, sep, isAbsolute } from 'node:path'
import type { Config, FolderConfig } from '../config.js'
import { LansyncError } from '../errors.js'

export interface LocatedPath { folder: FolderConfig, relPath: string }

/** The folder holding `path` (absolute or relative to the current directory) and its wire path. */
export function locatePath (config: Config, path: string): LocatedPath {
  const abs = resolve(path)
  for (const folder of config.folders) {
    const rel = relative(resolve(folder.path), abs)
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) continue
    return { folder, relPath: sep === '/' ? rel : rel.split(sep).join('/') }
  }
  throw new LansyncError('PATH_NOT_IN_FOLDER', `${abs} is not inside any lansync folder (see \`lansync folder list\`)`)
}

/** A folder by id, label or path. */
export function findFolder (config: Config, name: string): FolderConfig {
  const abs = resolve(name)
  const folder = config.folders.find(f => f.id === name) ??
    config.folders.find(f => f.label === name) ??
    config.folders.find(f => resolve(f.path) === abs)
  if (folder === undefined) throw new LansyncError('FOLDER_NOT_FOUND', `no folder "${name}" (see \`lansync folder list\`)`)
  return folder
}
