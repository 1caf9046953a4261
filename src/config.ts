// The device's configuration: where its home is, its folders and devices. Loaded and validated
// once into a full typed value; written atomically (temp file + rename) so a crash never leaves
// half a config behind.
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync, openSync, fsyncSync, closeSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { hostname } from 'node:os'
import { isIPv4 } from 'node:net'
import envPaths from 'env-paths'
import { LansyncError } from './errors.js'
import type { RetentionPolicy } from './core/retention.js'
import { isRateLimit } from './core/rate.js'
import { FOLDER_TYPES, type FolderType } from './core/folder-type.js'

export type { FolderType } from './core/folder-type.js'

export interface FolderConfig {
  id: string
  label: string
  path: string
  type: FolderType
  /** Device IDs this folder is shared with. */
  sharedWith: string[]
  retention: RetentionPolicy
  /** Paused by a person (`lansync folder pause`): synced with no device; local versions are still recorded. */
  isPaused: boolean
  /**
   * The mass-delete guard: remote deletes of more than this share (0..1) of the folder's files at
   * once are held, not applied, until `lansync folder resume` (only in folders of at least
   * MIN_GUARDED_FILES files). 1 turns the guard off.
   */
  maxDeleteShare: number
  /**
   * Selective sync: gitignore-style patterns of the paths this device holds (`lansync folder
   * only`); empty holds everything. Local to this device, never sent.
   */
  selection: string[]
}

export interface DeviceConfig {
  /** Full device ID (printable public key). */
  id: string
  name: string
  /** Static addresses `host:port` to dial, tried along with discovered ones. */
  addresses: string[]
  /** Paused by a person (`lansync device pause`): not dialed, not accepted, its session closed. */
  isPaused?: boolean
  /** Block data sent to / received from this device, bytes per second; 0 or absent: no limit of its own. */
  maxSendBps?: number
  maxRecvBps?: number
}

/** The local web dashboard (`lansync dashboard on|off`): served on 127.0.0.1 only, token-protected. */
export interface DashboardConfig {
  isEnabled: boolean
  /** TCP port on 127.0.0.1 (0: any free port, reported by `lansync dashboard url`). */
  port: number
}

/** A folder a paired device offered to share with us, waiting for `lansync folder accept`. */
export interface FolderOffer {
  folderId: string
  label: string
  fromDevice: string
  offeredMs: number
}

export interface Config {
  version: 1
  deviceName: string
  /** Address the agent listens on, `host:port`. */
  listen: string
  isMdnsEnabled: boolean
  /** Join the hyperswarm DHT so paired devices on other networks find this one (opt-in). */
  isWanEnabled: boolean
  /** DHT bootstrap nodes `host:port`; empty: hyperswarm's public bootstrap nodes. */
  wanBootstrap: string[]
  /** Block data sent to / received from all devices together, bytes per second; 0: no limit. */
  maxSendBps: number
  maxRecvBps: number
  folders: FolderConfig[]
  devices: DeviceConfig[]
  offers: FolderOffer[]
  dashboard: DashboardConfig
}

export const DEFAULT_PORT = 22100
export const DEFAULT_MAX_DELETE_SHARE = 0.5
export const DEFAULT_DASHBOARD_PORT = 22180
export const MARKER_DIR = '.lansync'

/** The lansync home: `$LANSYNC_HOME`, else the platform's config dir (XDG on Linux). */
export function resolveHome (explicit?: string): string {
  const home = explicit ?? process.env.LANSYNC_HOME ?? envPaths('lansync', { suffix: '' }).config
  return resolve(home)
}

export function homePaths (home: string): { config: string, identity: string, db: string, socket: string, log: string, dashboardToken: string } {
  return {
    dashboardToken: join(home, 'dashboard-token'),
    config: join(home, 'config.json'),
    identity: join(home, 'identity.json'),
    db: join(home, 'db'),
    socket: join(home, 'agent.sock'),
    log: join(home, 'agent.log')
  }
}

export function defaultConfig (): Config {
  return {
    version: 1,
    deviceName: hostname(),
    listen: `0.0.0.0:${DEFAULT_PORT}`,
    isMdnsEnabled: true,
    isWanEnabled: false,
    wanBootstrap: [],
    maxSendBps: 0,
    maxRecvBps: 0,
    folders: [],
    devices: [],
    offers: [],
    dashboard: { isEnabled: false, port: DEFAULT_DASHBOARD_PORT }
  }
}

export function loadConfig (home: string): Config {
  const { config: file } = homePaths(home)
  if (!existsSync(file)) {
    throw new LansyncError('CONFIG_NOT_INITIALISED', `no lansync device in ${home}; run \`lansync init\` first`)
  }
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new LansyncError('CONFIG_INVALID', `${file} is not valid JSON: ${(err as Error).message}`, { cause: err })
  }
  return validateConfig(raw, file)
}

export function saveConfig (home: string, config: Config): void {
  mkdirSync(home, { recursive: true })
  writeFileAtomic(homePaths(home).config, JSON.stringify(config, null, 2) + '\n', 0o600)
}

/** Loads, changes and saves the config in one step; returns what `change` returns. */
export function updateConfig<T> (home: string, change: (config: Config) => T): T {
  const config = loadConfig(home)
  const result = change(config)
  saveConfig(home, config)
  return result
}

export function writeFileAtomic (file: string, text: string | Uint8Array, mode = 0o644): void {
  const temp = `${file}.tmp-${process.pid}`
  writeFileSync(temp, text, { mode })
  const fd = openSync(temp, 'r')
  try { fsyncSync(fd) } finally { closeSync(fd) }
  renameSync(temp, file)
}

export function parseHostPort (text: string, what = 'address'): { host: string, port: number } {
  const m = /^\[?([^\]]*?)\]?:(\d{1,5})$/.exec(text)
  const port = m === null ? NaN : Number(m[2])
  if (m === null || m[1] === '' || port > 65535) {
    throw new LansyncError('ARG_INVALID', `${what} must be HOST:PORT (e.g. 127.0.0.1:${DEFAULT_PORT}), not "${text}"`)
  }
  return { host: m[1], port }
}

/**
 * A DHT bootstrap node, `HOST:PORT`: an IPv4 address or a DNS name (the DHT speaks IPv4 only) and
 * a port from 1 to 65535. Throws ARG_INVALID naming what is wrong.
 */
export function parseBootstrapNode (text: unknown): { host: string, port: number } {
  const bad = (why: string): never => {
    throw new LansyncError('ARG_INVALID', `a bootstrap node must be HOST:PORT with an IPv4 address or a host name (e.g. 203.0.113.7:49737), not ${JSON.stringify(text)}: ${why}`)
  }
  if (typeof text !== 'string') return bad('not a string')
  const m = /^([^:\s]+):(\d{1,5})$/.exec(text)
  if (m === null) return bad(text.includes('[') || (text.match(/:/g) ?? []).length > 1 ? 'IPv6 is not supported by the DHT' : 'expected HOST:PORT')
  const [, host, portText] = m
  const port = Number(portText)
  if (port < 1 || port > 65535) bad('the port must be 1 to 65535')
  const isIPv4Like = /^[\d.]+$/.test(host)
  if (isIPv4Like && !isIPv4(host)) bad('not an IPv4 address')
  if (!isIPv4Like && !/^(?=.{1,253}$)([a-z\d]([a-z\d-]{0,61}[a-z\d])?)(\.[a-z\d]([a-z\d-]{0,61}[a-z\d])?)*$/i.test(host)) bad('not a host name')
  return { host, port }
}

function validateConfig (raw: any, file: string): Config {
  const bad = (what: string): never => { throw new LansyncError('CONFIG_INVALID', `${file}: ${what}`) }
  if (raw === null || typeof raw !== 'object') bad('not an object')
  if (raw.version !== 1) bad(`unsupported config version ${String(raw.version)}`)
  const base = defaultConfig()
  const config: Config = {
    version: 1,
    deviceName: typeof raw.deviceName === 'string' ? raw.deviceName : base.deviceName,
    listen: typeof raw.listen === 'string' ? raw.listen : base.listen,
    isMdnsEnabled: typeof raw.isMdnsEnabled === 'boolean' ? raw.isMdnsEnabled : base.isMdnsEnabled,
    isWanEnabled: raw.isWanEnabled === undefined ? base.isWanEnabled : typeof raw.isWanEnabled === 'boolean' ? raw.isWanEnabled : bad('isWanEnabled must be true or false'),
    wanBootstrap: raw.wanBootstrap === undefined ? base.wanBootstrap : Array.isArray(raw.wanBootstrap) ? raw.wanBootstrap : bad('wanBootstrap must be a list of "host:port"'),
    maxSendBps: raw.maxSendBps === undefined ? 0 : isRateLimit(raw.maxSendBps) ? raw.maxSendBps : bad(`maxSendBps must be 0 (no limit) or bytes per second, not ${JSON.stringify(raw.maxSendBps)}`),
    maxRecvBps: raw.maxRecvBps === undefined ? 0 : isRateLimit(raw.maxRecvBps) ? raw.maxRecvBps : bad(`maxRecvBps must be 0 (no limit) or bytes per second, not ${JSON.stringify(raw.maxRecvBps)}`),
    folders: Array.isArray(raw.folders) ? raw.folders : bad('folders must be a list'),
    devices: Array.isArray(raw.devices) ? raw.devices : bad('devices must be a list'),
    offers: Array.isArray(raw.offers) ? raw.offers : [],
    dashboard: validateDashboard(raw.dashboard, base.dashboard, bad)
  }
  parseHostPort(config.listen, 'listen')
  for (const node of config.wanBootstrap) {
    try { parseBootstrapNode(node) } catch (err) { bad(`wanBootstrap: ${(err as Error).message}`) }
  }
  for (const f of config.folders) {
    if (typeof f.id !== 'string' || typeof f.path !== 'string') bad('each folder needs an id and a path')
    f.label ??= f.id
    f.type ??= 'sendreceive'
    if (!FOLDER_TYPES.includes(f.type)) bad(`folder ${String(f.id)}: type must be one of ${FOLDER_TYPES.join(', ')}, not ${JSON.stringify(f.type)}`)
    f.sharedWith ??= []
    f.retention ??= { mode: 'all' }
    f.isPaused ??= false
    if (typeof f.isPaused !== 'boolean') bad(`folder ${String(f.id)}: isPaused must be true or false`)
    f.maxDeleteShare ??= DEFAULT_MAX_DELETE_SHARE
    f.selection ??= []
    if (!Array.isArray(f.selection) || f.selection.some((p: unknown) => typeof p !== 'string' || p === '')) bad(`folder ${String(f.id)}: selection must be a list of patterns`)
    if (!isDeleteShare(f.maxDeleteShare)) bad(`folder ${String(f.id)}: maxDeleteShare must be a number from 0 to 1, not ${JSON.stringify(f.maxDeleteShare)}`)
  }
  for (const d of config.devices) {
    if (typeof d.id !== 'string') bad('each device needs an id')
    d.name ??= d.id.slice(0, 7)
    d.addresses ??= []
    d.isPaused ??= false
    d.maxSendBps ??= 0
    d.maxRecvBps ??= 0
    if (typeof d.isPaused !== 'boolean') bad(`device ${d.id}: isPaused must be true or false`)
    for (const key of ['maxSendBps', 'maxRecvBps'] as const) {
      if (!isRateLimit(d[key])) bad(`device ${d.id}: ${key} must be 0 (no limit) or bytes per second, not ${JSON.stringify(d[key])}`)
    }
  }
  return config
}

function validateDashboard (raw: any, base: DashboardConfig, bad: (what: string) => never): DashboardConfig {
  if (raw === undefined) return base
  if (raw === null || typeof raw !== 'object') return bad('dashboard must be an object {isEnabled, port}')
  const isEnabled = raw.isEnabled === undefined ? base.isEnabled : typeof raw.isEnabled === 'boolean' ? raw.isEnabled : bad('dashboard.isEnabled must be true or false')
  const port = raw.port === undefined ? base.port : isPort(raw.port) ? raw.port : bad(`dashboard.port must be a port number from 0 to 65535, not ${JSON.stringify(raw.port)}`)
  return { isEnabled, port }
}

/** A TCP port number to listen on: an integer from 0 (any free port) to 65535. */
export function isPort (value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 65535
}

/** A valid `maxDeleteShare`: a finite number from 0 (hold every mass delete) to 1 (guard off). */
export function isDeleteShare (value: unknown): value is number {
  return typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= 1
}
