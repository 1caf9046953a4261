// The hyperswarm side of the network: joins the DHT with the device key pair, announces and looks
// up the topics it is given, refuses every remote key `isAllowed` refuses (hyperswarm's firewall,
// before the connection exists), and hands each accepted connection on as a Connection.
import { EventEmitter } from 'node:events'
import HyperDHT from 'hyperdht'
import Hyperswarm, { type PeerDiscoverySession, type SwarmConnection } from 'hyperswarm'
import { Connection, formatAddress, type KeyPair } from './transport.js'

export interface WanSwarmOptions {
  keyPair: KeyPair
  /**
   * DHT bootstrap nodes; undefined: hyperdht's public ones. Never undefined in tests: a test must
   * not reach the public DHT.
   */
  bootstrap: Array<{ host: string, port: number }> | undefined
  /** Whether a remote static key may connect or be dialed; asked before any connection exists. */
  isAllowed: (remotePublicKey: Uint8Array) => boolean
  log?: (line: string) => void
}

export interface WanSwarmStatus {
  /** The DHT's first bootstrap query finished. */
  isBootstrapped: boolean
  /** Nodes in our DHT routing table: 0 means no bootstrap node answered. */
  dhtNodes: number
  /** Unsolicited packets cannot reach us (NAT): peers must hole-punch. */
  isFirewalled: boolean
  /** Our address as DHT nodes see it, once known. */
  publicAddress?: string
  /** Where our DHT socket is bound. */
  localAddress?: string
  topics: number
  connections: number
  /** Connection attempts refused by the firewall since the start (unknown keys). */
  refused: number
}

interface WanSwarmEvents {
  connection: [Connection]
  /** A remote key was refused by the firewall (hex). */
  refused: [string]
}

/**
 * The bind host for the DHT socket: loopback when every bootstrap node is on loopback (a group's
 * own DHT on this machine, as in tests), so that no packet leaves the host and hyperdht offers
 * peers no LAN address; else every interface.
 */
export function dhtBindHost (bootstrap: Array<{ host: string }> | undefined): string {
  return bootstrap !== undefined && bootstrap.length > 0 && bootstrap.every(n => /^127\./.test(n.host)) ? '127.0.0.1' : '0.0.0.0'
}

export class WanSwarm extends EventEmitter<WanSwarmEvents> {
  private readonly swarm: Hyperswarm
  private readonly isAllowed: (remotePublicKey: Uint8Array) => boolean
  private readonly log: (line: string) => void
  /** topic hex → its discovery session. */
  private readonly joined = new Map<string, PeerDiscoverySession>()
  private refusedCount = 0
  private closing: Promise<void> | undefined

  constructor (options: WanSwarmOptions) {
    super()
    const { keyPair, bootstrap, isAllowed, log = () => {} } = options
    this.isAllowed = isAllowed
    this.log = log
    // The device key is the swarm's key: the Noise static key of every swarm connection is then
    // the device key that pairing trusts, and the firewall checks exactly that.
    const host = dhtBindHost(bootstrap)
    // On loopback nothing is firewalled: saying so lets hyperdht connect directly. Left to find
    // out, both ends count as firewalled and hole-punch on one host, where the first connection
    // often opened, carried nothing and timed out 13 s later (always, when the DHT ports had been
    // used by earlier processes).
    const dht = new HyperDHT({ keyPair, bootstrap, host, ...(host === '127.0.0.1' ? { firewalled: false } : {}) })
    this.swarm = new Hyperswarm({
      keyPair,
      dht,
      // Called with the remote Noise key before dialing and while a peer's handshake is in
      // flight; true refuses it (and hyperswarm bans the key until `unban`).
      firewall: remotePublicKey => {
        if (this.isAllowed(remotePublicKey)) return false
        this.refusedCount += 1
        this.emit('refused', remotePublicKey.toString('hex'))
        return true
      }
    })
    this.swarm.on('connection', conn => this.accept(conn))
  }

  get isClosed (): boolean { return this.closing !== undefined }

  /** Waits until the DHT has bootstrapped (the first query ran, answered or not). */
  async ready (): Promise<void> {
    await this.swarm.dht.ready()
  }

  /** Announces on and looks up exactly these topics (32 bytes each): joins new ones, leaves the rest. */
  setTopics (topics: Uint8Array[]): void {
    if (this.isClosed) return
    const wanted = new Map(topics.map(t => [Buffer.from(t).toString('hex'), t]))
    for (const [key, session] of this.joined) {
      if (wanted.has(key)) continue
      this.joined.delete(key)
      void session.destroy().catch(() => {})
    }
    for (const [key, topic] of wanted) {
      if (this.joined.has(key)) continue
      this.joined.set(key, this.swarm.join(Buffer.from(topic), { server: true, client: true }))
    }
  }

  /**
   * Announces and looks the topic up again now, instead of at hyperswarm's next refresh (10 min):
   * for a peer that is not connected. A peer found is dialed even if hyperswarm had given up on it.
   */
  refresh (topic: Uint8Array): void {
    const session = this.joined.get(Buffer.from(topic).toString('hex'))
    if (session === undefined || this.isClosed) return
    void session.refresh().catch(err => this.log(`WAN: refreshing a topic failed: ${(err as Error).message}`))
  }

  /** Keys refused earlier stay banned in hyperswarm; lift that for keys allowed now (a device paired since). */
  unbanAllowed (): void {
    for (const peer of this.swarm.peers.values()) {
      if (peer.banned && this.isAllowed(peer.publicKey)) peer.ban(false)
    }
  }

  /** Resolves when the announcements and lookups of every joined topic are done once. */
  async flush (): Promise<void> {
    await this.swarm.flush()
  }

  status (): WanSwarmStatus {
    const dht = this.swarm.dht
    const bound = dht.address()
    return {
      isBootstrapped: dht.bootstrapped,
      dhtNodes: dht.toArray().length,
      isFirewalled: dht.firewalled,
      ...(dht.host !== null && dht.host !== undefined ? { publicAddress: formatAddress(dht.host, dht.port) } : {}),
      ...(bound !== null ? { localAddress: formatAddress(bound.host, bound.port) } : {}),
      topics: this.joined.size,
      connections: this.swarm.connections.size,
      refused: this.refusedCount
    }
  }

  /** Leaves every topic (unannouncing), closes every swarm connection and the DHT node. Idempotent. */
  async close (): Promise<void> {
    this.closing ??= (async () => {
      this.joined.clear()
      try {
        await this.swarm.destroy()
      } catch (err) {
        this.log(`WAN: closing the DHT node: ${(err as Error).message}`)
      }
    })()
    await this.closing
  }

  private accept (stream: SwarmConnection): void {
    // The firewall ran already; checking again costs nothing and keeps this the one rule.
    const remoteKey = stream.remotePublicKey
    if (this.isClosed || remoteKey === null || !this.isAllowed(remoteKey)) {
      stream.on('error', () => {})
      stream.destroy()
      return
    }
    const raw = stream.rawStream
    const remoteAddress = typeof raw?.remoteHost === 'string' ? formatAddress(raw.remoteHost, raw.remotePort ?? 0) : 'dht'
    try {
      this.emit('connection', new Connection(stream, remoteAddress, '', 'wan'))
    } catch (err) {
      stream.destroy()
      this.log(`WAN: dropped a connection: ${(err as Error).message}`)
    }
  }
}
