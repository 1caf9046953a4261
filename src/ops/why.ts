// `lansync why`: whether a path of a folder is synced, and which rule decides it (the layer, file,
// line and pattern), plus whether this device's selection holds it. Reads the config and the rule
// files only: no agent, no database.
import { statSync } from 'node:fs'
import { join } from 'node:path'
import type { Config } from '../config.js'
import { LansyncError } from '../errors.js'
import type { IgnoreVerdict } from '../core/ignore-match.js'
import { folderSelection } from '../sync/folder-runner.js'
import { IgnoreRules } from '../fs/ignore-rules.js'
import { findFolder, locatePath } from './locate.js'

export interface WhyResult extends IgnoreVerdict {
  folder: string
  label: string
  path: string
  isDir: boolean
  /** Whether this device's selection (`folder only`) holds the path; always true with no selection. */
  isSelected: boolean
  selection: string[]
}

/** `path` on disk inside a folder, or `folder` (label, id or path) and `path` relative to its root. */
export function explainPath (config: Config, { path, folder: name }: { path: string, folder?: string }): WhyResult {
  let folder, relPath
  if (name === undefined) {
    ({ folder, relPath } = locatePath(config, path))
  } else {
    folder = findFolder(config, name)
    relPath = path.replace(/^\.?\/+/, '').replace(/\/+$/, '')
    if (relPath === '' || relPath === '.') throw new LansyncError('PATH_INVALID', 'name a path inside the folder')
  }
  if (relPath.startsWith('/') || relPath.split('/').some(s => s === '..' || s === '')) {
    throw new LansyncError('PATH_INVALID', `${relPath} is not a path inside folder "${folder.label}" (give it relative to the folder root, without '..')`)
  }
  let isDir = false
  try { isDir = statSync(join(folder.path, relPath)).isDirectory() } catch {}
  const verdict = new IgnoreRules(folder.path).explain(relPath, isDir)
  const selection = folder.selection ?? []
  return { folder: folder.id, label: folder.label, path: relPath, isDir, ...verdict, isSelected: folderSelection(folder).isSelected(relPath, isDir ? 'dir' : 'file'), selection }
}
