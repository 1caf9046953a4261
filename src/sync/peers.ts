// Keeps one session per paired device: listens, dials known addresses (static ones from the
// config, and hints from LAN discovery) with backoff, takes connections from the WAN swarm too,
// settles duplicate connections (both sides dialing at once, or one device reachable both over the
// LAN and the WAN) the same way on both ends, and drops sessions of devices that are no longer
// paired or whose local address vanished.
import { EventEmitter } from 'node:events'
import { networkInterfaces } from 'node:os'
import { Transport, type Connection, type ConnectionVia } from '../net/transport.js'
import { decodeDeviceId, deviceShort, encodeDeviceId } from '../core/device-id.js'
import { parseHostPort, type Config } from '../config.js'
import type { Identity } from '../identity.js'
import { Session, type SessionContext } from './session.js'

export interface PeerStatus {
  deviceId: string
  name: string
  isConnected: boolean
  /** Paused here (`lansync device pause`): no session until `lansync device resume`. */
  isPaused: boolean
  /** This device's own limits for it, bytes per second (0: none; the overall limits apply too). */
  maxSendBps: number
  maxRecvBps: number
  address?: string
  /** How the session's connection came: TCP dialed or accepted here ('lan'), or the DHT swarm ('wan'). */
  via?: ConnectionVia
  connectedMs?: number
  bytesSent: number
  bytesReceived: number
  blockBytesSent: number
  blockBytesReceived: number
  sendRateBps: number
  recvRateBps: number
  folders: ReturnType<Session['folderStates']>
}

interface PeersEvents {
  log: [string]
  /** A session started (after any duplicate was settled). */
  connected: [deviceId: string, via: ConnectionVia]
  /** The session of a device ended and no other replaced it. */
  disconnected: [deviceId: string]
}

const MIN_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 30_000
/**
 * Discovered addresses tried per dial round, newest first: a record can list 16, and each dead
 * one may cost a connect timeout, so a neighbour's junk cannot stall the round for long.
 */
const MAX_DISCOVERED_DIALS = 4
/** A new sighting dials at once, but never more often than this per device. */
const MIN_SIGHTING_DIAL_GAP_MS = 1_000
/**
 * Two devices usually see each other's announcements at the same moment. The one whose dial the
 * duplicate rule would drop waits this long first, so that usually one connection is made, not two.
 */
const SIGHTING_YIELD_MS = 1_500
/**
 * Both ends dialing at once produce two connections that complete within moments of each other on
 * a LAN; an inbound connection later than this after ours is taken as the peer redialing. Misjudging
 * a very slow race costs one reconnect (each end may keep a different one and both close), not more.
 */
const RACE_WINDOW_MS = 5_000
/** How often sessions are checked for a local address that no interface has any more. */
const LOCAL_ADDRESS_CHECK_MS = 3_000

/** Dial candidates `host:port` learned from discovery for a device, best first. */
export type DiscoveredAddresses = (deviceId: string) => string[]

interface Dialer {
  timer?: NodeJS.Timeout
  /** When `timer` fires, ms since the epoch. */
  dueMs: number
  backoffMs: number
  isDialing: boolean
  /** A sighting arrived during a dial round: retry as soon as it ends. */
  isRetryWanted: boolean
  lastDialMs: number
  /** Discovered addresses whose failure was logged since the last connection (bounded). */
  loggedFailures: Set<string>
}

export class PeerManager extends EventEmitter<PeersEvents> {
  private readonly identity: Identity
  private config: Config
  private readonly ctx: SessionContext
  readonly transport: Transport
  private readonly sessions = new Map<string, Session>()
  /** Sessions for which we already dropped an inbound duplicate as the loser of a dial race. */
  private readonly racesSettled = new WeakSet<Session>()
  private readonly dialers = new Map<string, Dialer>()
  private discovered: DiscoveredAddresses = () => []
  private localCheckTimer: NodeJS.Timeout | undefined
  /** Counters of sessions that ended, so totals never go backwards. */
  private readonly totals = new Map<string, { bytesSent: number, bytesReceived: number, blockBytesSent: number, blockBytesReceived: number }>()
  private readonly rates = new Map<string, { atMs: number, sent: number, received: number, sendRateBps: number, recvRateBps: number }>()
  private rateTimer: NodeJS.Timeout | undefined
  /** Paused devices whose refused connection was logged (once per pause). */
  private readonly refusalsLogged = new Set<string>()
  private isClosed = false
  listenAddress: { host: string, port: number } | undefined

  constructor (identity: Identity, config: Config, ctx: SessionContext) {
    super()
    this.identity = identity
    this.config = config
    this.ctx = ctx
    this.transport = new Transport({
      keyPair: { publicKey: identity.publicKey, secretKey: identity.secretKey },
      // A paused device is refused like an unpaired one: before a single protocol message.
      isAllowed: key => { const id = encodeDeviceId(key); return this.isPaired(id) && !this.isPaused(id) }
    })
    this.transport.on('connection', conn => this.adopt(conn))
    this.transport.on('rejected', info => {
      const id = info.remotePublicKey === undefined ? undefined : encodeDeviceId(info.remotePublicKey)
      if (id === undefined || !this.isPaused(id)) { this.emit('log', `refused a connection from ${info.remoteAddress}: ${info.reason}`); return }
      if (this.refusalsLogged.has(id)) return
      this.refusalsLogged.add(id)
      this.emit('log', `refused a connection from ${this.nameOf(id)} at ${info.remoteAddress}: paused here (\`lansync device resume ${this.nameOf(id)}\`)`)
    })
  }

  async listen (address: string): Promise<{ host: string, port: number }> {
    const { host, port } = parseHostPort(address, 'listen address')
    this.listenAddress = await this.transport.listen(host, port)
    this.rateTimer = setInterval(() => this.sampleRates(), 1000)
    this.localCheckTimer = setInterval(() => this.closeSessionsOnVanishedAddresses(), LOCAL_ADDRESS_CHECK_MS)
    this.emit('log', `listening on ${this.listenAddress.host}:${this.listenAddress.port}`)
    this.reconcile()
    return this.listenAddress
  }

  /** Applies a new config: closes sessions of unpaired devices or changed sharing, dials new ones. */
  update (config: Config): void {
    const before = this.config
    this.config = config
    for (const [deviceId, session] of this.sessions) {
      // A type change reconnects too: the new hello asks for what a send-only folder ignored.
      const sharedBefore = before.folders.filter(f => f.sharedWith.includes(deviceId)).map(f => f.id + (f.isPaused ? 'p' : '') + f.type).sort().join()
      const sharedNow = config.folders.filter(f => f.sharedWith.includes(deviceId)).map(f => f.id + (f.isPaused ? 'p' : '') + f.type).sort().join()
      if (!this.isPaired(deviceId)) session.close('PEER_UNKNOWN', 'this device was unpaired')
      else if (this.isPaused(deviceId)) session.close('PEER_PAUSED', `${this.ctx.deviceName} paused syncing with this device`)
      else if (sharedBefore !== sharedNow) session.close('PEER_FOLDERS_CHANGED', 'shared folders changed; reconnecting')
    }
    for (const id of this.refusalsLogged) if (!this.isPaused(id)) this.refusalsLogged.delete(id)
    this.reconcile()
  }

  /** Where dial candidates from discovery come from (asked at each dial round, so they expire there). */
  setDiscoveredAddresses (source: DiscoveredAddresses): void {
    this.discovered = source
    this.reconcile()
  }

  /**
   * Discovery saw a device appear or change address: if it is paired and not connected, dial it
   * now instead of waiting out the backoff. A connected device is left alone: a sighting is only
   * a hint, and the session proves itself.
   */
  noteSighting (deviceId: string): void {
    if (this.isClosed || !this.isPaired(deviceId) || this.isPaused(deviceId) || this.hasLanSession(deviceId)) return
    const dialer = this.dialerOf(deviceId)
    dialer.backoffMs = MIN_BACKOFF_MS
    if (dialer.isDialing) { dialer.isRetryWanted = true; return }
    const yieldMs = this.preferredInitiator(deviceId) === 'self' ? 0 : SIGHTING_YIELD_MS
    const delayMs = Math.max(yieldMs, dialer.lastDialMs + MIN_SIGHTING_DIAL_GAP_MS - Date.now())
    // A dial already due sooner stays: a stream of sightings must not postpone it for ever.
    if (dialer.timer !== undefined && dialer.dueMs <= Date.now() + delayMs) return
    this.schedule(deviceId, dialer, delayMs)
  }

  async close (): Promise<void> {
    if (this.isClosed) return
    this.isClosed = true
    clearInterval(this.rateTimer)
    clearInterval(this.localCheckTimer)
    for (const d of this.dialers.values()) clearTimeout(d.timer)
    for (const session of this.sessions.values()) session.close('SHUTDOWN', 'the agent is stopping')
    await this.transport.close()
  }

  session (deviceId: string): Session | undefined { return this.sessions.get(deviceId) }

  status (): PeerStatus[] {
    return this.config.devices.map(device => {
      const session = this.sessions.get(device.id)
      const total = this.totals.get(device.id) ?? { bytesSent: 0, bytesReceived: 0, blockBytesSent: 0, blockBytesReceived: 0 }
      const rate = this.rates.get(device.id)
      return {
        deviceId: device.id,
        name: device.name,
        isConnected: session !== undefined,
        isPaused: device.isPaused === true,
        maxSendBps: device.maxSendBps ?? 0,
        maxRecvBps: device.maxRecvBps ?? 0,
        address: session?.conn.remoteAddress,
        via: session?.conn.via,
        connectedMs: session?.connectedMs,
        bytesSent: total.bytesSent + (session?.conn.bytesSent ?? 0),
        bytesReceived: total.bytesReceived + (session?.conn.bytesReceived ?? 0),
        blockBytesSent: total.blockBytesSent + (session?.blockBytesSent ?? 0),
        blockBytesReceived: total.blockBytesReceived + (session?.blockBytesReceived ?? 0),
        sendRateBps: session === undefined ? 0 : rate?.sendRateBps ?? 0,
        recvRateBps: session === undefined ? 0 : rate?.recvRateBps ?? 0,
        folders: session?.folderStates() ?? []
      }
    })
  }

  isPaired (deviceId: string): boolean {
    return this.config.devices.some(d => d.id === deviceId)
  }

  /** Paused by a person: neither dialed nor accepted. */
  isPaused (deviceId: string): boolean {
    return this.config.devices.some(d => d.id === deviceId && d.isPaused === true)
  }

  /**
   * A LAN session needs no dialing. A WAN session does not stop dialing the device's LAN
   * addresses: when one answers, its connection replaces the WAN one (see `adopt`).
   */
  private hasLanSession (deviceId: string): boolean {
    return this.sessions.get(deviceId)?.conn.via === 'lan'
  }

  /** Discovered addresses first (they were just seen), then the static ones; no repeats. */
  private candidates (deviceId: string): Array<{ address: string, isDiscovered: boolean }> {
    const device = this.config.devices.find(d => d.id === deviceId)
    if (device === undefined) return []
    const out = new Map<string, boolean>()
    for (const address of this.discovered(deviceId).slice(0, MAX_DISCOVERED_DIALS)) out.set(address, true)
    for (const address of device.addresses) if (!out.has(address)) out.set(address, false)
    return [...out].map(([address, isDiscovered]) => ({ address, isDiscovered }))
  }

  /** Starts dialing devices that have addresses (static or discovered) and no session. */
  private reconcile (): void {
    if (this.isClosed) return
    for (const [deviceId, dialer] of this.dialers) {
      if (!this.isPaired(deviceId) || this.isPaused(deviceId)) { clearTimeout(dialer.timer); this.dialers.delete(deviceId) }
    }
    for (const device of this.config.devices) {
      if (device.isPaused === true || this.hasLanSession(device.id) || this.candidates(device.id).length === 0) continue
      const dialer = this.dialerOf(device.id)
      if (!dialer.isDialing && dialer.timer === undefined) void this.dial(device.id)
    }
  }

  private dialerOf (deviceId: string): Dialer {
    let dialer = this.dialers.get(deviceId)
    if (dialer === undefined) {
      dialer = { dueMs: 0, backoffMs: MIN_BACKOFF_MS, isDialing: false, isRetryWanted: false, lastDialMs: 0, loggedFailures: new Set() }
      this.dialers.set(deviceId, dialer)
    }
    return dialer
  }

  private schedule (deviceId: string, dialer: Dialer, delayMs: number): void {
    clearTimeout(dialer.timer)
    dialer.dueMs = Date.now() + delayMs
    dialer.timer = setTimeout(() => { void this.dial(deviceId) }, delayMs)
  }

  private async dial (deviceId: string): Promise<void> {
    const dialer = this.dialers.get(deviceId)
    if (dialer === undefined || !this.isPaired(deviceId) || this.isPaused(deviceId) || this.isClosed) return
    clearTimeout(dialer.timer)
    dialer.timer = undefined
    if (this.hasLanSession(deviceId)) return
    const candidates = this.candidates(deviceId)
    if (candidates.length === 0) { this.dialers.delete(deviceId); return } // until a sighting or a config change
    dialer.isDialing = true
    dialer.isRetryWanted = false
    dialer.lastDialMs = Date.now()
    const key = decodeDeviceId(deviceId)
    for (const { address, isDiscovered } of candidates) {
      try {
        const { host, port } = parseHostPort(address)
        const conn = await this.transport.dial(host, port, key)
        dialer.isDialing = false
        if (this.isPaused(deviceId)) { conn.close('paused'); return } // paused while dialing
        dialer.backoffMs = MIN_BACKOFF_MS
        dialer.loggedFailures.clear()
        this.adopt(conn)
        return
      } catch (err) {
        // Try the next address; failures are normal while the other device is off. A discovered
        // address failing is worth a line (once): the device was just seen there, or someone
        // announced its ID from an address that cannot prove the key.
        if (isDiscovered && !dialer.loggedFailures.has(address) && !this.isClosed) {
          if (dialer.loggedFailures.size >= 32) dialer.loggedFailures.clear()
          dialer.loggedFailures.add(address)
          this.emit('log', `cannot connect to ${this.nameOf(deviceId)} at ${address} (found on the LAN): ${(err as Error).message}`)
        }
      }
    }
    dialer.isDialing = false
    if (this.isClosed || this.dialers.get(deviceId) !== dialer) return
    if (dialer.isRetryWanted) { this.schedule(deviceId, dialer, MIN_SIGHTING_DIAL_GAP_MS); return }
    this.schedule(deviceId, dialer, dialer.backoffMs)
    dialer.backoffMs = Math.min(MAX_BACKOFF_MS, dialer.backoffMs * 2)
  }

  /**
   * A connection whose local address no interface holds any more (the network changed under us)
   * can never deliver a byte again, but would look alive until the idle timeout. Close it so that
   * both ends reconnect over the addresses that exist now.
   */
  private closeSessionsOnVanishedAddresses (): void {
    if (this.sessions.size === 0) return
    const own = new Set<string>()
    for (const list of Object.values(networkInterfaces())) {
      for (const a of list ?? []) own.add(a.address.toLowerCase().replace(/%.*$/, ''))
    }
    for (const session of [...this.sessions.values()]) {
      const local = session.conn.localAddress.toLowerCase().replace(/%.*$/, '')
      if (local === '' || own.has(local)) continue
      session.close('TRANSPORT_TIMEOUT', `this device no longer has the address ${local}`)
    }
  }

  /**
   * Takes an authenticated connection (dialed, accepted, or from the WAN swarm) and runs a session
   * on it, unless the device already has one that the duplicate rules keep.
   */
  adopt (conn: Connection): void {
    if (this.isClosed) { conn.close('shutting down'); return }
    const deviceId = encodeDeviceId(conn.remotePublicKey)
    if (!this.isPaired(deviceId)) { conn.close('this device is not paired'); return }
    if (this.isPaused(deviceId)) { conn.close('this device is paused'); return } // a WAN connection
    const existing = this.sessions.get(deviceId)
    if (existing !== undefined && existing.conn.via !== conn.via) {
      // One device reachable over the LAN and over the WAN: both ends hold both connections, and
      // both keep the LAN one (shorter path, no relay), so exactly one survives.
      if (conn.via === 'wan') { conn.close('duplicate connection (the LAN connection is kept)'); return }
      existing.close('DUPLICATE', 'replaced by a LAN connection to the same device')
    } else if (existing !== undefined && conn.via === 'wan') {
      // hyperswarm keeps one connection per key and hands us another only once the first closed
      // or it settled a race of its own (the same way on both ends): the new one is the one kept.
      existing.close('DUPLICATE', 'the device connected again over the WAN (this connection is stale)')
    } else if (existing !== undefined) {
      // The peer dials only when it holds no session with us. So an inbound connection while our
      // session is inbound too, older than any dial race, or after we already settled a race for
      // it (the loser of a race keeps our session and does not dial again) means the peer lost
      // that session: it moved, or the connection died unnoticed. The new connection replaces it.
      // Otherwise both ends dialed at once: keep the connection dialed by the device with the
      // smaller ID, a rule both ends apply alike, so exactly one survives.
      const isPeerRedial = !conn.isInitiator &&
        (!existing.conn.isInitiator || Date.now() - existing.connectedMs > RACE_WINDOW_MS || this.racesSettled.has(existing))
      const keepNew = isPeerRedial || this.preferredInitiator(deviceId) === (conn.isInitiator ? 'self' : 'peer')
      if (!keepNew) {
        if (!conn.isInitiator) this.racesSettled.add(existing)
        conn.close('duplicate connection')
        return
      }
      existing.close('DUPLICATE', isPeerRedial ? 'the device connected again (this connection is stale)' : 'duplicate connection')
    }
    const session = new Session(conn, deviceId, deviceShort(conn.remotePublicKey), this.ctx)
    this.sessions.set(deviceId, session)
    this.emit('log', `connected to ${this.nameOf(deviceId)} at ${conn.remoteAddress}${conn.via === 'wan' ? ' (WAN)' : ''}`)
    this.emit('connected', deviceId, conn.via)
    session.once('close', reason => {
      const t = this.totals.get(deviceId) ?? { bytesSent: 0, bytesReceived: 0, blockBytesSent: 0, blockBytesReceived: 0 }
      t.bytesSent += conn.bytesSent
      t.bytesReceived += conn.bytesReceived
      t.blockBytesSent += session.blockBytesSent
      t.blockBytesReceived += session.blockBytesReceived
      this.totals.set(deviceId, t)
      if (this.sessions.get(deviceId) === session) {
        this.sessions.delete(deviceId)
        this.emit('log', `disconnected from ${this.nameOf(deviceId)}: ${reason}`)
        this.emit('disconnected', deviceId)
        const dialer = this.dialers.get(deviceId)
        if (dialer !== undefined) dialer.backoffMs = MIN_BACKOFF_MS
        setTimeout(() => this.reconcile(), MIN_BACKOFF_MS).unref()
      }
    })
    void session.start().catch(err => session.close('INTERNAL', (err as Error).message))
  }

  private preferredInitiator (deviceId: string): 'self' | 'peer' {
    return this.identity.deviceId < deviceId ? 'self' : 'peer'
  }

  private nameOf (deviceId: string): string {
    return this.config.devices.find(d => d.id === deviceId)?.name ?? deviceId.slice(0, 7)
  }

  private sampleRates (): void {
    const nowMs = Date.now()
    for (const [deviceId, session] of this.sessions) {
      const prev = this.rates.get(deviceId)
      const sent = session.conn.bytesSent
      const received = session.conn.bytesReceived
      if (prev !== undefined && nowMs > prev.atMs && sent >= prev.sent && received >= prev.received) {
        const secs = (nowMs - prev.atMs) / 1000
        this.rates.set(deviceId, { atMs: nowMs, sent, received, sendRateBps: (sent - prev.sent) / secs, recvRateBps: (received - prev.received) / secs })
      } else {
        this.rates.set(deviceId, { atMs: nowMs, sent, received, sendRateBps: 0, recvRateBps: 0 })
      }
    }
  }
}
