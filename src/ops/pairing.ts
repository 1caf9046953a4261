// What a completed pairing changes in the config, on either device: the other device is added the
// way `device add` adds one, the folders this side offered are shared with it, and the folders it
// offered become offers for `lansync folder accept` (the same list a peer's hello fills).
import type { Config, DeviceConfig, FolderConfig } from '../config.js'
import { addDevice } from './devices.js'
import { findFolder } from './locate.js'

export interface OfferedFolder { id: string, label: string }

export interface PairingRecord {
  device: DeviceConfig
  /** Folders this device now shares with the other one. */
  shared: OfferedFolder[]
  /** Folders the other device offered that this one does not have: waiting for `folder accept`. */
  offers: OfferedFolder[]
  /** Folders the other device offered that this one already has (share them back to link them). */
  alreadyHere: OfferedFolder[]
}

/** The folders named by `--folder` (ID or label), checked before any window opens. */
export function resolveOfferedFolders (config: Config, names: string[]): OfferedFolder[] {
  const folders = new Map<string, FolderConfig>()
  for (const name of names) {
    const folder = findFolder(config, name)
    folders.set(folder.id, folder)
  }
  return [...folders.values()].map(f => ({ id: f.id, label: f.label }))
}

/**
 * Records a completed pairing in `config`. `address` is where to dial the other device (`host:port`),
 * if known. Idempotent: pairing again with the same device updates its name and address.
 */
export function recordPairing (config: Config, selfId: string, params: {
  deviceId: string
  name: string
  address?: string
  shared: OfferedFolder[]
  offered: OfferedFolder[]
  nowMs: number
}): PairingRecord {
  const device = addDevice(config, selfId, { id: params.deviceId, name: params.name, addresses: params.address !== undefined ? [params.address] : undefined })
  const shared: OfferedFolder[] = []
  for (const offered of params.shared) {
    const folder = config.folders.find(f => f.id === offered.id)
    if (folder === undefined) continue // removed meanwhile
    if (!folder.sharedWith.includes(device.id)) folder.sharedWith.push(device.id)
    shared.push({ id: folder.id, label: folder.label })
  }
  const offers: OfferedFolder[] = []
  const alreadyHere: OfferedFolder[] = []
  for (const offered of params.offered) {
    if (config.folders.some(f => f.id === offered.id)) { alreadyHere.push(offered); continue }
    offers.push(offered)
    if (config.offers.some(o => o.folderId === offered.id && o.fromDevice === device.id)) continue
    config.offers.push({ folderId: offered.id, label: offered.label, fromDevice: device.id, offeredMs: params.nowMs })
  }
  return { device, shared, offers, alreadyHere }
}
