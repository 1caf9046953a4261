// Paired devices and folder sharing, as config changes. Trust is the device ID (the public key):
// only devices listed here can complete a connection.
import type { Config, DeviceConfig, FolderConfig } from '../config.js'
import { parseHostPort } from '../config.js'
import { LansyncError } from '../errors.js'
import { decodeDeviceId, encodeDeviceId } from '../core/device-id.js'
import { findFolder } from './locate.js'

/** The canonical form of a device ID as typed by a person (any case, with or without dashes). */
export function canonicalDeviceId (text: string): string {
  return encodeDeviceId(decodeDeviceId(text))
}

export function findDevice (config: Config, text: string): DeviceConfig {
  const byName = config.devices.find(d => d.name === text)
  if (byName !== undefined) return byName
  let id: string
  try { id = canonicalDeviceId(text) } catch { throw new LansyncError('DEVICE_NOT_FOUND', `no paired device "${text}" (see \`lansync device list\`)`) }
  const device = config.devices.find(d => d.id === id)
  if (device === undefined) throw new LansyncError('DEVICE_NOT_FOUND', `no paired device ${id} (see \`lansync device list\`)`)
  return device
}

export function addDevice (config: Config, selfId: string, params: { id: string, addresses?: string[], name?: string }): DeviceConfig {
  const id = canonicalDeviceId(params.id)
  if (id === selfId) throw new LansyncError('ARG_INVALID', 'that is this device\'s own ID')
  for (const a of params.addresses ?? []) parseHostPort(a, '--addr')
  const existing = config.devices.find(d => d.id === id)
  if (existing !== undefined) {
    // Adding again updates addresses and name: how a user fixes a typo or a moved device.
    if (params.addresses !== undefined && params.addresses.length > 0) existing.addresses = params.addresses
    if (params.name !== undefined) existing.name = params.name
    return existing
  }
  const device: DeviceConfig = { id, name: params.name ?? id.slice(0, 7), addresses: params.addresses ?? [], isPaused: false, maxSendBps: 0, maxRecvBps: 0 }
  config.devices.push(device)
  return device
}

/** Forgets a device: it can no longer connect, and no folder is shared with it any more. */
export function removeDevice (config: Config, text: string): DeviceConfig {
  const device = findDevice(config, text)
  config.devices = config.devices.filter(d => d.id !== device.id)
  for (const f of config.folders) f.sharedWith = f.sharedWith.filter(id => id !== device.id)
  config.offers = config.offers.filter(o => o.fromDevice !== device.id)
  return device
}

export function shareFolder (config: Config, folderName: string, deviceText: string): { folder: FolderConfig, device: DeviceConfig } {
  const folder = findFolder(config, folderName)
  const device = findDevice(config, deviceText)
  if (!folder.sharedWith.includes(device.id)) folder.sharedWith.push(device.id)
  return { folder, device }
}

export function unshareFolder (config: Config, folderName: string, deviceText: string): { folder: FolderConfig, device: DeviceConfig } {
  const folder = findFolder(config, folderName)
  const device = findDevice(config, deviceText)
  folder.sharedWith = folder.sharedWith.filter(id => id !== device.id)
  return { folder, device }
}

/** Pauses or resumes syncing with a device (the caller saves the config); returns it and whether that changed anything. */
export function setDevicePaused (config: Config, text: string, isPaused: boolean): { device: DeviceConfig, isChanged: boolean } {
  const device = findDevice(config, text)
  const isChanged = (device.isPaused === true) !== isPaused
  device.isPaused = isPaused
  return { device, isChanged }
}

/** Sets a device's own bandwidth limits, bytes per second (0: none); undefined leaves one as it is. */
export function setDeviceLimits (config: Config, text: string, limits: { maxSendBps?: number, maxRecvBps?: number }): DeviceConfig {
  const device = findDevice(config, text)
  if (limits.maxSendBps === undefined && limits.maxRecvBps === undefined) {
    throw new LansyncError('ARG_INVALID', 'name a setting to change, e.g. --max-send 2MiB/s or --max-recv 500KiB/s (0: no limit)')
  }
  if (limits.maxSendBps !== undefined) device.maxSendBps = limits.maxSendBps
  if (limits.maxRecvBps !== undefined) device.maxRecvBps = limits.maxRecvBps
  return device
}
