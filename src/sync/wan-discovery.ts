// Puts the hyperswarm DHT to work for the agent (WAN mode): one topic per paired device, derived
// from a secret only the two devices hold; connections the swarm accepts go to the PeerManager's
// adopt path, exactly like TCP ones. Devices not connected get their topic looked up again with
// backoff, since hyperswarm alone looks again only every ~10 minutes.
import { WanSwarm, type WanSwarmStatus } from '../net/wan.js'
import { deriveWanTopic } from '../core/wan-topic.js'
import { decodeDeviceId, encodeDeviceId } from '../core/device-id.js'
import type { Config } from '../config.js'
import type { Identity } from '../identity.js'
import type { PeerManager } from './peers.js'

/** First re-lookup of an unconnected device's topic after joining (or after its session ended). */
const REFRESH_MIN_MS = 3_000
/** Re-lookups back off to this, below hyperswarm's own 10-minute refresh. */
const REFRESH_MAX_MS = 5 * 60_000
/** The same log line about the same key is repeated at most this often. */
const LOG_REPEAT_MS = 10 * 60_000
const MAX_LOG_KEYS = 256

export interface WanDiscoveryOptions {
  identity: Identity
  /** DHT bootstrap nodes; undefined: hyperdht's public ones. */
  bootstrap: Array<{ host: string, port: number }> | undefined
  peers: PeerManager
  /** The current config (it is replaced on reload). */
  config: () => Config
  log: (line: string) => void
}

interface TopicState {
  topic: Uint8Array
  timer?: NodeJS.Timeout
  backoffMs: number
}

export interface WanStatus extends Partial<WanSwarmStatus> {
  isEnabled: boolean
  isRunning: boolean
  /** Bootstrap nodes in use; [] means hyperswarm's public ones. */
  bootstrap: string[]
  /** Paired devices whose session runs over the WAN. */
  wanPeers?: number
  /** Why the agent is not in the DHT although WAN mode is on. */
  error?: string
}

export class WanDiscovery {
  readonly swarm: WanSwarm
  private readonly identity: Identity
  private readonly peers: PeerManager
  private readonly config: () => Config
  private readonly log: (line: string) => void
  /** device ID → its pairwise topic and re-lookup state. */
  private readonly topics = new Map<string, TopicState>()
  private readonly logged = new Map<string, number>()
  private readonly onConnected = (deviceId: string): void => { this.stopRefreshing(deviceId) }
  private readonly onDisconnected = (deviceId: string): void => {
    const state = this.topics.get(deviceId)
    if (state === undefined) return
    state.backoffMs = REFRESH_MIN_MS
    this.scheduleRefresh(deviceId, state)
  }

  private isClosed = false
  /** Why the DHT node failed, if it did (shown by `lansync status`). */
  private failure: string | undefined

  constructor (options: WanDiscoveryOptions) {
    const { identity, bootstrap, peers, config, log } = options
    this.identity = identity
    this.peers = peers
    this.config = config
    this.log = log
    this.swarm = new WanSwarm({
      keyPair: { publicKey: identity.publicKey, secretKey: identity.secretKey },
      bootstrap,
      isAllowed: key => this.config().devices.some(d => d.id === encodeDeviceId(key) && d.isPaused !== true), // paused: refused too
      log
    })
    this.swarm.on('connection', conn => this.peers.adopt(conn))
    this.swarm.on('refused', keyHex => this.say(`refused:${keyHex}`, `WAN: refused a connection from an unpaired device (key ${keyHex.slice(0, 16)}…)`))
    peers.on('connected', this.onConnected)
    peers.on('disconnected', this.onDisconnected)
  }

  /** Joins the topics of every paired device; the DHT bootstraps in the background. */
  start (): void {
    this.update()
    void this.swarm.ready().then(() => {
      if (this.isClosed) return
      const s = this.swarm.status()
      this.log(s.dhtNodes > 0
        ? `WAN: in the DHT (${s.dhtNodes} nodes, ${s.isFirewalled ? 'behind a firewall or NAT' : 'reachable'}), ${s.topics} topic(s)`
        : 'WAN: no DHT bootstrap node answered; retrying in the background')
    }, err => {
      this.failure = (err as Error).message
      this.log(`WAN: the DHT node failed: ${this.failure}`)
    })
  }

  /** After a config change: topics of devices paired or unpaired since, and keys banned while unpaired. */
  update (): void {
    if (this.isClosed) return
    const wanted = new Set(this.config().devices.filter(d => d.isPaused !== true).map(d => d.id)) // a paused device's topic is left
    for (const [deviceId, state] of this.topics) {
      if (wanted.has(deviceId)) continue
      clearTimeout(state.timer)
      this.topics.delete(deviceId)
    }
    for (const deviceId of wanted) {
      if (this.topics.has(deviceId)) continue
      try {
        const state: TopicState = { topic: deriveWanTopic(this.identity, decodeDeviceId(deviceId)), backoffMs: REFRESH_MIN_MS }
        this.topics.set(deviceId, state)
        if (this.peers.session(deviceId) === undefined) this.scheduleRefresh(deviceId, state)
      } catch (err) {
        this.say(`topic:${deviceId}`, `WAN: no topic for ${deviceId}: ${(err as Error).message}`)
      }
    }
    this.swarm.setTopics([...this.topics.values()].map(s => s.topic))
    this.swarm.unbanAllowed()
  }

  status (): Omit<WanStatus, 'isEnabled' | 'bootstrap'> {
    return {
      isRunning: !this.isClosed && this.failure === undefined,
      ...(this.failure !== undefined ? { error: this.failure } : {}),
      ...this.swarm.status(),
      wanPeers: this.peers.status().filter(p => p.via === 'wan').length
    }
  }

  /** Unannounces, closes the WAN connections (their sessions end) and the DHT node. Idempotent. */
  async close (): Promise<void> {
    if (this.isClosed) return
    this.isClosed = true
    this.peers.off('connected', this.onConnected)
    this.peers.off('disconnected', this.onDisconnected)
    for (const state of this.topics.values()) clearTimeout(state.timer)
    await this.swarm.close()
  }

  private scheduleRefresh (deviceId: string, state: TopicState): void {
    clearTimeout(state.timer)
    state.timer = setTimeout(() => {
      state.timer = undefined
      if (this.isClosed || this.topics.get(deviceId) !== state || this.peers.session(deviceId) !== undefined) return
      this.swarm.refresh(state.topic)
      state.backoffMs = Math.min(REFRESH_MAX_MS, state.backoffMs * 2)
      this.scheduleRefresh(deviceId, state)
    }, state.backoffMs)
    state.timer.unref()
  }

  private stopRefreshing (deviceId: string): void {
    const state = this.topics.get(deviceId)
    if (state === undefined) return
    clearTimeout(state.timer)
    state.timer = undefined
  }

  /** Logs a line unless the same key said it recently: strangers knocking must not flood the log. */
  private say (key: string, line: string): void {
    const nowMs = Date.now()
    const last = this.logged.get(key)
    if (last !== undefined && nowMs - last < LOG_REPEAT_MS) return
    this.logged.delete(key)
    this.logged.set(key, nowMs)
    if (this.logged.size > MAX_LOG_KEYS) this.logged.delete(this.logged.keys().next().value as string)
    this.log(line)
  }
}
