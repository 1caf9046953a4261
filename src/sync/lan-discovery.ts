// Puts mDNS discovery to work for the agent: announces this device, hands sightings of paired
// devices to the PeerManager as dial candidates, logs what it sees (briefly) and answers
// `lansync peers`. A record is only a hint of where to dial; the Noise key decides who we talk to.
import { isIPv6 } from 'node:net'
import { networkInterfaces } from 'node:os'
import { Discovery, type DiscoveryOptions, type Sighting } from '../net/discovery.js'
import { formatAddress } from '../net/transport.js'
import { decodeDeviceId, encodeDeviceId } from '../core/device-id.js'
import { PROTOCOL_VERSION } from '../protocol/messages.js'
import type { Config } from '../config.js'
import type { PeerManager } from './peers.js'

/** Interfaces are compared this often; a change re-announces (a goodbye, then the new addresses). */
const INTERFACE_CHECK_MS = 3_000
/** The same log line about the same device or sender is repeated at most this often. */
const LOG_REPEAT_MS = 10 * 60_000
const MAX_LOG_KEYS = 256

/** One device seen on the LAN, as `lansync peers` shows it. */
export interface LanPeer {
  deviceId: string
  /** The name the device announces (unauthenticated, cleaned of control characters). */
  name: string
  /** Our name for it when paired. */
  pairedName?: string
  isPaired: boolean
  isConnected: boolean
  /** Where the session runs, when connected. */
  connectedAddress?: string
  /** Announced addresses `host:port`, newest first. */
  addresses: string[]
  protocolVersion: number
  /** `host:port` of the device's open pairing window (TXT `pp`), newest address first; absent when none is open. */
  pairingAddresses?: string[]
  firstSeenMs: number
  lastSeenMs: number
}

export interface LanPeersResult { isDiscoveryEnabled: boolean, reason?: string, peers: LanPeer[] }

/**
 * A device ID exactly as `encodeDeviceId` prints it. TXT records must carry the canonical form, so
 * that one device has one entry in the table however its ID is spelt.
 */
export function isCanonicalDeviceId (id: string): boolean {
  try { return encodeDeviceId(decodeDeviceId(id)) === id } catch { return false }
}

/** Dial candidates from a sighting: `host:port` strings, newest first. */
export function sightingAddresses (s: Sighting): string[] {
  return s.addresses.map(a => formatAddress(a.address, a.port))
}

/** TXT key announcing the TCP port of an open pairing window (protocol.md section 8). */
export const PAIRING_PORT_TXT_KEY = 'pp'

/** Where the device's announced pairing window listens: its addresses with the `pp` port; [] when none is announced. */
export function pairingWindowAddresses (s: Sighting): string[] {
  const text = s.extra[PAIRING_PORT_TXT_KEY]
  if (text === undefined || !/^[1-9]\d{0,4}$/.test(text) || Number(text) > 65535) return []
  return s.addresses.map(a => formatAddress(a.address, Number(text)))
}

/** Rows for `lansync peers`: every sighting, joined with the pairing list and live sessions. */
export function lanPeerRows (sightings: Sighting[], config: Pick<Config, 'devices'>, sessions: Array<{ deviceId: string, isConnected: boolean, address?: string }>): LanPeer[] {
  return sightings.map(s => {
    const device = config.devices.find(d => d.id === s.deviceId)
    const session = sessions.find(p => p.deviceId === s.deviceId && p.isConnected)
    const pairing = pairingWindowAddresses(s)
    return {
      deviceId: s.deviceId,
      name: s.name,
      ...(device !== undefined ? { pairedName: device.name } : {}),
      isPaired: device !== undefined,
      isConnected: session !== undefined,
      ...(session?.address !== undefined ? { connectedAddress: session.address } : {}),
      addresses: sightingAddresses(s),
      protocolVersion: s.protocolVersion,
      ...(pairing.length > 0 ? { pairingAddresses: pairing } : {}),
      firstSeenMs: s.firstSeenMs,
      lastSeenMs: s.lastSeenMs
    }
  })
}

/** Whether announcing makes sense for a listen host: not when only loopback can reach us. */
export function isLanReachable (listenHost: string): boolean {
  return !/^(127\.|::1$|::ffff:127\.|localhost$)/i.test(listenHost)
}

/** This host's non-loopback IPv4 addresses, for log lines. */
function localAddresses (): string[] {
  return Object.values(networkInterfaces()).flatMap(list => (list ?? []).filter(a => !a.internal && a.family === 'IPv4').map(a => a.address))
}

export interface LanDiscoveryOptions {
  deviceId: string
  deviceName: string
  /** Where the transport listens: the port is announced; an IPv4 host means no AAAA records. */
  listen: { host: string, port: number }
  peers: PeerManager
  /** The current config (it is replaced on reload). */
  config: () => Config
  log: (line: string) => void
  /** Overrides for tests (TTL, intervals, bonjour options). */
  discovery?: Partial<DiscoveryOptions>
}

export class LanDiscovery {
  readonly discovery: Discovery
  private readonly peers: PeerManager
  private readonly config: () => Config
  private readonly log: (line: string) => void
  private readonly port: number
  /** key → when its line was last logged and what it said, in insertion (age) order. */
  private readonly logged = new Map<string, { atMs: number, line: string }>()

  constructor (options: LanDiscoveryOptions) {
    const { deviceId, deviceName, listen, peers, config, log, discovery = {} } = options
    this.peers = peers
    this.config = config
    this.log = log
    this.port = listen.port
    this.discovery = new Discovery({
      deviceId,
      deviceName,
      port: listen.port,
      // A socket bound to 0.0.0.0 takes no IPv6 connection: announcing AAAA records would only
      // send peers to addresses that refuse them. `::` (dual stack) takes both.
      isIPv6Announced: isIPv6(listen.host),
      protocolVersion: PROTOCOL_VERSION,
      isDeviceId: isCanonicalDeviceId,
      interfaceCheckMs: INTERFACE_CHECK_MS,
      ...discovery
    })
    this.discovery.on('peer', s => this.onSighting(s))
    this.discovery.on('expired', (deviceId, reason) => {
      const device = this.config().devices.find(d => d.id === deviceId)
      // The session, if any, stays: it proves itself by its keepalive, not by the record.
      if (device !== undefined) this.say(`lost:${deviceId}`, `mDNS: ${device.name} (${deviceId.slice(0, 7)}) is no longer announced (${reason})`)
    })
    this.discovery.on('rejected', (reason, from) => this.say(`rejected:${from}:${reason}`, `mDNS: ignored an announcement from ${from}: ${reason}`))
    this.discovery.on('warning', err => this.say(`warning:${err.message}`, `mDNS: ${err.message}`))
    this.discovery.on('reannounced', reason => {
      if (reason === 'interfaces') this.log(`mDNS: network addresses changed (${localAddresses().join(', ') || 'none'}); announcing again`)
    })
  }

  /** Starts announcing and browsing, and offers sightings to the PeerManager. */
  start (): void {
    this.discovery.start()
    this.peers.setDiscoveredAddresses(deviceId => {
      const s = this.discovery.table().find(x => x.deviceId === deviceId)
      return s === undefined ? [] : sightingAddresses(s)
    })
    this.log(`mDNS: announcing _lansync._tcp on port ${this.port} and looking for devices`)
  }

  /** Sends our goodbye and stops. Idempotent. */
  async close (): Promise<void> {
    await this.discovery.stop()
  }

  /** After a config change: devices paired just now may already be on the LAN. */
  update (): void {
    for (const s of this.discovery.table()) this.peers.noteSighting(s.deviceId)
  }

  /**
   * Announces the port of an open pairing window (undefined: none), so that `lansync pair CODE`
   * on another device finds it without an address. Like every TXT key it is only a hint: the code
   * decides whom we pair with.
   */
  announcePairingWindow (port: number | undefined): void {
    this.discovery.setExtraTxt(port === undefined ? {} : { [PAIRING_PORT_TXT_KEY]: String(port) })
  }

  list (): LanPeersResult {
    return { isDiscoveryEnabled: true, peers: lanPeerRows(this.discovery.table(), this.config(), this.peers.status()) }
  }

  private onSighting (s: Sighting): void {
    const device = this.config().devices.find(d => d.id === s.deviceId)
    const where = sightingAddresses(s).slice(0, 3).join(', ')
    if (device === undefined) {
      this.say(`seen:${s.deviceId}`, `mDNS: unpaired device "${s.name}" (${s.deviceId}) at ${where}`)
      return
    }
    this.say(`seen:${s.deviceId}`, `mDNS: found ${device.name} (${s.deviceId.slice(0, 7)}) at ${where}`)
    this.peers.noteSighting(s.deviceId)
  }

  /** Logs a line unless the same key said the same thing recently (a noisy LAN must not flood the log). */
  private say (key: string, line: string): void {
    const nowMs = Date.now()
    const last = this.logged.get(key)
    if (last !== undefined && last.line === line && nowMs - last.atMs < LOG_REPEAT_MS) return
    this.logged.delete(key)
    this.logged.set(key, { atMs: nowMs, line })
    if (this.logged.size > MAX_LOG_KEYS) this.logged.delete(this.logged.keys().next().value as string)
    this.log(line)
  }
}
