// Keeps one session per paired device: listens, dials known addresses with backoff, settles
// duplicate connections (both sides dialing at once) the same way on both ends, and drops
// sessions of devices that are no longer paired.
import { EventEmitter } from 'node:events'
import { Transport, type Connection } from '../net/transport.js'
import { decodeDeviceId, deviceShort, encodeDeviceId } from '../core/device-id.js'
import { parseHostPort, type Config } from '../config.js'
import type { Identity } from '../identity.js'
import { Session, type SessionContext } from './session.js'

export interface PeerStatus {
  deviceId: string
  name: string
  isConnected: boolean
  address?: string
  connectedMs?: number
  bytesSent: number
  bytesReceived: number
  blockBytesSent: number
  blockBytesReceived: number
  sendRateBps: number
  recvRateBps: number
  folders: ReturnType<Session['folderStates']>
}

interface PeersEvents { log: [string] }

const MIN_BACKOFF_MS = 500
const MAX_BACKOFF_MS = 30_000

export class PeerManager extends EventEmitter<PeersEvents> {
  private readonly identity: Identity
  private config: Config
  private readonly ctx: SessionContext
  readonly transport: Transport
  private readonly sessions = new Map<string, Session>()
  private readonly dialers = new Map<string, { timer?: NodeJS.Timeout, backoffMs: number, isDialing: boolean }>()
  /** Counters of sessions that ended, so totals never go backwards. */
  private readonly totals = new Map<string, { bytesSent: number, bytesReceived: number, blockBytesSent: number, blockBytesReceived: number }>()
  private readonly rates = new Map<string, { atMs: number, sent: number, received: number, sendRateBps: number, recvRateBps: number }>()
  private rateTimer: NodeJS.Timeout | undefined
  private isClosed = false
  listenAddress: { host: string, port: number } | undefined

  constructor (identity: Identity, config: Config, ctx: SessionContext) {
    super()
    this.identity = identity
    this.config = config
    this.ctx = ctx
    this.transport = new Transport({
      keyPair: { publicKey: identity.publicKey, secretKey: identity.secretKey },
      isAllowed: key => this.isPaired(encodeDeviceId(key))
    })
    this.transport.on('connection', conn => this.adopt(conn))
    this.transport.on('rejected', info => this.emit('log', `refused a connection from ${info.remoteAddress}: ${info.reason}`))
  }

  async listen (address: string): Promise<{ host: string, port: number }> {
    const { host, port } = parseHostPort(address, 'listen address')
    this.listenAddress = await this.transport.listen(host, port)
    this.rateTimer = setInterval(() => this.sampleRates(), 1000)
    this.emit('log', `listening on ${this.listenAddress.host}:${this.listenAddress.port}`)
    this.reconcile()
    return this.listenAddress
  }

  /** Applies a new config: closes sessions of unpaired devices or changed sharing, dials new ones. */
  update (config: Config): void {
    const before = this.config
    this.config = config
    for (const [deviceId, session] of this.sessions) {
      const sharedBefore = before.folders.filter(f => f.sharedWith.includes(deviceId)).map(f => f.id + (f.isPaused ? 'p' : '')).sort().join()
      const sharedNow = config.folders.filter(f => f.sharedWith.includes(deviceId)).map(f => f.id + (f.isPaused ? 'p' : '')).sort().join()
      if (!this.isPaired(deviceId)) session.close('PEER_UNKNOWN', 'this device was unpaired')
      else if (sharedBefore !== sharedNow) session.close('PEER_FOLDERS_CHANGED', 'shared folders changed; reconnecting')
    }
    this.reconcile()
  }

  async close (): Promise<void> {
    if (this.isClosed) return
    this.isClosed = true
    clearInterval(this.rateTimer)
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
        address: session?.conn.remoteAddress,
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

  private isPaired (deviceId: string): boolean {
    return this.config.devices.some(d => d.id === deviceId)
  }

  /** Starts dialing devices that have addresses and no session. */
  private reconcile (): void {
    if (this.isClosed) return
    for (const [deviceId, dialer] of this.dialers) {
      if (!this.isPaired(deviceId)) { clearTimeout(dialer.timer); this.dialers.delete(deviceId) }
    }
    for (const device of this.config.devices) {
      if (device.addresses.length === 0 || this.sessions.has(device.id)) continue
      let dialer = this.dialers.get(device.id)
      if (dialer === undefined) { dialer = { backoffMs: MIN_BACKOFF_MS, isDialing: false }; this.dialers.set(device.id, dialer) }
      if (!dialer.isDialing && dialer.timer === undefined) void this.dial(device.id)
    }
  }

  private async dial (deviceId: string): Promise<void> {
    const dialer = this.dialers.get(deviceId)
    const device = this.config.devices.find(d => d.id === deviceId)
    if (dialer === undefined || device === undefined || this.isClosed) return
    dialer.timer = undefined
    if (this.sessions.has(deviceId)) return
    dialer.isDialing = true
    const key = decodeDeviceId(deviceId)
    for (const address of device.addresses) {
      try {
        const { host, port } = parseHostPort(address)
        const conn = await this.transport.dial(host, port, key)
        dialer.isDialing = false
        dialer.backoffMs = MIN_BACKOFF_MS
        this.adopt(conn)
        return
      } catch {
        // Try the next address; failures are normal while the other device is off.
      }
    }
    dialer.isDialing = false
    if (this.isClosed) return
    dialer.timer = setTimeout(() => { void this.dial(deviceId) }, dialer.backoffMs)
    dialer.backoffMs = Math.min(MAX_BACKOFF_MS, dialer.backoffMs * 2)
  }

  private adopt (conn: Connection): void {
    if (this.isClosed) { conn.close('shutting down'); return }
    const deviceId = encodeDeviceId(conn.remotePublicKey)
    const existing = this.sessions.get(deviceId)
    if (existing !== undefined) {
      // Both ends dialed at once: keep the connection dialed by the device with the smaller ID,
      // a rule both ends apply alike, so exactly one survives.
      const keepNew = this.preferredInitiator(deviceId) === (conn.isInitiator ? 'self' : 'peer')
      if (!keepNew) { conn.close('duplicate connection'); return }
      existing.close('DUPLICATE', 'duplicate connection')
    }
    const session = new Session(conn, deviceId, deviceShort(conn.remotePublicKey), this.ctx)
    this.sessions.set(deviceId, session)
    this.emit('log', `connected to ${this.nameOf(deviceId)} at ${conn.remoteAddress}`)
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
