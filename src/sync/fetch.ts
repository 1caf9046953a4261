// `lansync fetch PATH`: brings one path this device does not hold (outside its selection) from a
// connected peer that has it, using the version the peers announced. Afterwards a copy is here,
// so later versions of the path are applied like those of a selected path; deleting the copy here
// only drops it again (no tombstone), because the path is still outside the selection.
import type { Config } from '../config.js'
import { LansyncError } from '../errors.js'
import { isKnownNews } from '../core/selection.js'
import type { StoredRecord, Store } from '../store/store.js'
import { findFolder, locatePath } from '../ops/locate.js'
import type { FolderRunner } from './folder-runner.js'
import type { Session } from './session.js'

export interface FetchContext {
  config: Config
  store: Store
  /** The running folder, undefined when the agent does not run it (paused, or no agent). */
  runner: (folderId: string) => FolderRunner | undefined
  /** The connected sessions of the folder's devices. */
  sessions: (folderId: string) => Session[]
  isAgentRunning: boolean
}

export interface FetchResult {
  folder: string
  label: string
  path: string
  /** Already held here: nothing was fetched. */
  isAlreadyHere: boolean
  sizeBytes: number
  /** The peer it came from (its device ID). */
  from?: string
}

export async function fetchPath (ctx: FetchContext, { path, folder: name }: { path: string, folder?: string }): Promise<FetchResult> {
  const { folder, relPath } = name === undefined ? locatePath(ctx.config, path) : { folder: findFolder(ctx.config, name), relPath: path.replace(/^\.?\/+/, '').replace(/\/+$/, '') }
  if (relPath === '' || relPath.startsWith('/') || relPath.split('/').some(s => s === '..' || s === '')) {
    throw new LansyncError('PATH_INVALID', `${relPath === '' ? 'an empty path' : relPath} is not a path inside folder "${folder.label}"`)
  }
  if (!ctx.isAgentRunning) throw new LansyncError('AGENT_NOT_RUNNING', 'fetch pulls from connected peers: start the agent first (`lansync start`)')
  const runner = ctx.runner(folder.id)
  if (runner === undefined) throw new LansyncError('FOLDER_PAUSED', `folder "${folder.label}" is not running here`)
  const base = { folder: folder.id, label: folder.label, path: relPath }
  runner.refreshRules() // the rule files as they are now, edited a moment ago or not
  if (runner.scanner.ignore.isIgnored(relPath)) {
    throw new LansyncError('PATH_IGNORED', `${relPath} is ignored in folder "${folder.label}" (see \`lansync why ${relPath}\`); ignored paths are not synced`)
  }
  const local = await ctx.store.getRecord(folder.id, relPath)
  const known = await ctx.store.getKnown(folder.id, relPath)
  if (local !== undefined && !local.isDeleted && (known === undefined || !isKnownNews(known, undefined, local))) {
    return { ...base, isAlreadyHere: true, sizeBytes: local.sizeBytes }
  }
  if (known === undefined) throw new LansyncError('PATH_NOT_FOUND', `no peer has announced ${relPath} in folder "${folder.label}"`)
  if (known.isDeleted) throw new LansyncError('PATH_NOT_FOUND', `${relPath} was deleted on the other devices (its versions: \`lansync history\`)`)
  const sessions = ctx.sessions(folder.id).filter(s => s.isSharing(folder.id))
  if (sessions.length === 0) throw new LansyncError('PEER_NOT_CONNECTED', `no device that shares folder "${folder.label}" is connected; try again when one is (\`lansync status\`)`)
  // The directories on the way, when they are only known here too: so they are made with their records.
  const records: StoredRecord[] = []
  const parts = relPath.split('/')
  for (let n = 1; n < parts.length; n++) {
    const dir = parts.slice(0, n).join('/')
    const dirKnown = await ctx.store.getKnown(folder.id, dir)
    const dirLocal = await ctx.store.getRecord(folder.id, dir)
    if (dirKnown !== undefined && !dirKnown.isDeleted && (dirLocal === undefined || dirLocal.isDeleted)) records.push(dirKnown)
  }
  records.push(known)
  for (const r of records) runner.fetching.add(r.path)
  try {
    for (const session of sessions) {
      await session.pullRecords(folder.id, records)
      const now = await ctx.store.getRecord(folder.id, relPath)
      if (now !== undefined && !now.isDeleted && !isKnownNews(known, undefined, now)) {
        return { ...base, isAlreadyHere: false, sizeBytes: now.sizeBytes, from: session.deviceId }
      }
    }
  } finally {
    for (const r of records) runner.fetching.delete(r.path)
  }
  throw new LansyncError('PEER_BLOCK_UNAVAILABLE', `no connected peer could supply ${relPath} (see the folder's problems in \`lansync status\`)`)
}
