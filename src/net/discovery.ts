// LAN discovery over mDNS (bonjour-service): announces this device as `_lansync._tcp` with TXT
// `{ id, v, n }`, browses for other devices, and keeps a bounded, expiring table of address hints
// per device ID. A sighting is only a hint of where to dial: identity is proved by the Noise key.
import { EventEmitter } from 'node:events'
import { networkInterfaces } from 'node:os'
import { isIP } from 'node:net'
import { Bonjour, type Browser, type Service, type ServiceConfig } from 'bonjour-service'

export const SERVICE_TYPE = 'lansync'
export const SERVICE_PROTOCOL = 'tcp'
/** Longest device name kept from a TXT record, in characters. */
export const MAX_NAME_CHARS = 64
/** Most address hints kept per device; an announcement can list any number of A/AAAA records. */
export const MAX_ADDRESSES_PER_DEVICE = 16
/** After an interface change, the record is announced again this much later. */
const REANNOUNCE_AGAIN_MS = 2_000
/** TXT keys of our own: device ID, protocol version, name. Others are extension keys. */
const CORE_TXT_KEYS = new Set(['id', 'v', 'n'])
/** Extension TXT keys (e.g. a pairing window's port): a lowercase letter, then up to 8 of a-z 0-9. */
const EXTRA_KEY_RE = /^[a-z][a-z0-9]{0,8}$/
/** Extension values: printable ASCII without spaces, at most 200 characters (a TXT string holds 255 bytes). */
const EXTRA_VALUE_RE = /^[\x21-\x7e]{0,200}$/
/** Most extension keys sent or kept per announcement. */
export const MAX_EXTRA_TXT_KEYS = 8

export type AddressFamily = 'IPv4' | 'IPv6'

export interface AddressHint {
  address: string
  family: AddressFamily
  port: number
  lastSeenMs: number
}

export interface Sighting {
  deviceId: string
  name: string
  protocolVersion: number
  /** Port of the most recent announcement. */
  port: number
  /** Extension TXT keys of the latest announcement that passed isExtraTxt (e.g. a pairing port). */
  extra: Record<string, string>
  /** Newest first. */
  addresses: AddressHint[]
  firstSeenMs: number
  lastSeenMs: number
}

/** ttl: not refreshed in time; goodbye: the device said so; evicted: table full; replaced: its
 * announcing service now speaks for another device ID. */
export type ExpiryReason = 'ttl' | 'goodbye' | 'evicted' | 'replaced'

export interface DiscoveryEvents {
  /** A device was seen for the first time, or its address list changed. */
  peer: [sighting: Sighting]
  /** A device has no address hints left. */
  expired: [deviceId: string, reason: ExpiryReason]
  /** An announcement of our service type was ignored (malformed TXT, bad port, ...). */
  rejected: [reason: string, from: string]
  /** A network problem that discovery survives (send failures while an interface is down, ...). */
  warning: [err: Error]
  /** We announced again: our interface addresses changed, or our extension TXT keys did. */
  reannounced: [reason: ReannounceReason]
}

export type ReannounceReason = 'interfaces' | 'txt' | 'asked'

export interface DiscoveryOptions {
  deviceId: string
  deviceName: string
  /** TCP port the transport listens on. */
  port: number
  protocolVersion: number
  /** A hint not refreshed for this long is dropped. */
  ttlMs?: number
  maxEntries?: number
  /** How often the host's interface addresses are compared, to re-announce when they change. */
  interfaceCheckMs?: number
  /** How often we query the LAN again, which refreshes every live device's hints; below ttlMs. */
  queryIntervalMs?: number
  /** Structural check of a device ID from a TXT record; pass the real decoder's validator. */
  isDeviceId?: (id: string) => boolean
  /** Whether AAAA records are announced; false when the transport listens on IPv4 only. */
  isIPv6Announced?: boolean
  /** false: browse only, never announce (a CLI looking for a pairing window). Default true. */
  isAnnounced?: boolean
  /** Extension TXT keys announced along with `id`, `v`, `n`; see setExtraTxt(). */
  extraTxt?: Record<string, string>
  /** Passed to bonjour-service (e.g. `{ interface: '10.0.0.2' }`). */
  bonjourOptions?: Partial<ServiceConfig> & Record<string, unknown>
  now?: () => number
}

/** What one announcement says about one device, after validation. */
export interface Observation {
  deviceId: string
  name: string
  protocolVersion: number
  port: number
  addresses: Array<{ address: string, family: AddressFamily }>
  /** Well-formed extension TXT keys (at most MAX_EXTRA_TXT_KEYS); malformed ones are dropped, not fatal. */
  extra?: Record<string, string>
  /** The announcing service's fully qualified name: goodbyes name it, not the device. */
  source: string
}

const DEFAULT_DEVICE_ID_RE = /^[A-Za-z0-9-]{8,128}$/

export function defaultIsDeviceId (id: string): boolean { return DEFAULT_DEVICE_ID_RE.test(id) }

/** Whether `key=value` may be announced or kept as an extension TXT entry. */
export function isExtraTxt (key: string, value: unknown): value is string {
  return !CORE_TXT_KEYS.has(key) && EXTRA_KEY_RE.test(key) && typeof value === 'string' && EXTRA_VALUE_RE.test(value)
}

/**
 * Validates a browsed service into an Observation, or returns the reason it is unusable.
 * Link-local IPv6 addresses are dropped: without the zone (interface) they cannot be dialled,
 * and the record does not carry one. `from` (the packet's source) is used when a record lists
 * no addresses at all, as happens for a responder on `lo`.
 */
export function parseService (
  service: { fqdn?: unknown, port?: unknown, txt?: unknown, addresses?: unknown, referer?: { address?: unknown } },
  isDeviceId: (id: string) => boolean = defaultIsDeviceId
): Observation | string {
  const txt = service.txt
  if (typeof txt !== 'object' || txt === null) return 'no TXT record'
  const { id, v, n } = txt as Record<string, unknown>
  if (typeof id !== 'string' || !isDeviceId(id)) return 'TXT id is not a device ID'
  if (typeof v !== 'string' || !/^\d{1,5}$/.test(v) || Number(v) > 65535) return 'TXT v is not a protocol version'
  if (n !== undefined && typeof n !== 'string') return 'TXT n is not a string'
  const port = service.port
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) return 'SRV port is invalid'
  if (typeof service.fqdn !== 'string' || service.fqdn === '') return 'service has no name'
  const name = boundName(n ?? '')
  const raw = Array.isArray(service.addresses) ? service.addresses : []
  const addresses: Observation['addresses'] = []
  const seen = new Set<string>()
  for (const a of raw) {
    const hint = usableAddress(a)
    if (hint === null || seen.has(hint.address)) continue
    seen.add(hint.address)
    addresses.push(hint)
    if (addresses.length >= MAX_ADDRESSES_PER_DEVICE) break
  }
  if (addresses.length === 0) {
    const fallback = usableAddress(service.referer?.address)
    if (fallback !== null) addresses.push(fallback)
  }
  if (addresses.length === 0) return 'announcement carries no usable address'
  const extra: Record<string, string> = {}
  for (const key of Object.keys(txt).sort()) {
    if (Object.keys(extra).length >= MAX_EXTRA_TXT_KEYS) break
    const value = (txt as Record<string, unknown>)[key]
    if (isExtraTxt(key, value)) extra[key] = value
  }
  return { deviceId: id, name, protocolVersion: Number(v), port, addresses, extra, source: service.fqdn.toLowerCase() }
}

/**
 * Control characters in a name would let a neighbour forge lines in `lansync peers` output, and a
 * TXT string holds at most 255 bytes (`n=` included), so names are cleaned and cut to
 * MAX_NAME_CHARS characters and 240 UTF-8 bytes, whichever is shorter.
 */
export function boundName (raw: string): string {
  let out = ''
  let bytes = 0
  let chars = 0
  for (const ch of raw.replace(/[\u0000-\u001f\u007f-\u009f]/g, '')) {
    bytes += Buffer.byteLength(ch)
    if (++chars > MAX_NAME_CHARS || bytes > 240) break
    out += ch
  }
  return out
}

function usableAddress (a: unknown): { address: string, family: AddressFamily } | null {
  if (typeof a !== 'string') return null
  const kind = isIP(a)
  if (kind === 4) {
    const first = Number(a.split('.')[0])
    if (first === 0 || first >= 224) return null // unspecified, multicast, reserved
    return { address: a, family: 'IPv4' }
  }
  if (kind === 6) {
    const lower = a.toLowerCase()
    if (/^fe[89ab]/.test(lower) || lower.startsWith('ff') || lower === '::' || lower.includes('%')) return null
    return { address: lower, family: 'IPv6' }
  }
  return null
}

interface Hint extends AddressHint { source: string }
interface Entry {
  deviceId: string
  name: string
  protocolVersion: number
  port: number
  extra: Record<string, string>
  hints: Hint[] // newest first
  firstSeenMs: number
  lastSeenMs: number
}

export interface TableChange { changed: string[], expired: Array<{ deviceId: string, reason: ExpiryReason }> }

/**
 * The bounded table of sightings. No timers and no clock of its own: every method takes `nowMs`,
 * so expiry and eviction are tested without waiting. Map order is recency order (LRU first).
 */
export class SightingTable {
  private readonly entries = new Map<string, Entry>()
  constructor (private readonly ttlMs: number, private readonly maxEntries: number) {}

  get size (): number { return this.entries.size }

  /**
   * Records an announcement. An announcement lists all its sender's current addresses, so the
   * hints from the same source are replaced, not merged: a moved device's old address goes away.
   */
  observe (obs: Observation, nowMs: number): TableChange {
    // One service speaks for one device: if its TXT now names another ID, the old claim is void.
    const result = this.dropHints((h, e) => h.source === obs.source && e.deviceId !== obs.deviceId, 'replaced')
    let entry = this.entries.get(obs.deviceId)
    const before = entry === undefined ? '' : addressKey(entry.hints) + JSON.stringify(entry.extra)
    if (entry === undefined) {
      entry = { deviceId: obs.deviceId, name: obs.name, protocolVersion: obs.protocolVersion, port: obs.port, extra: {}, hints: [], firstSeenMs: nowMs, lastSeenMs: nowMs }
    } else {
      this.entries.delete(obs.deviceId) // re-inserted below as most recent
    }
    entry.name = obs.name
    entry.protocolVersion = obs.protocolVersion
    entry.port = obs.port
    entry.extra = { ...obs.extra }
    entry.lastSeenMs = nowMs
    const fresh: Hint[] = obs.addresses.map(a => ({ ...a, port: obs.port, lastSeenMs: nowMs, source: obs.source }))
    const freshKeys = new Set(fresh.map(h => `${h.address}|${h.port}`))
    const others = entry.hints.filter(h => h.source !== obs.source && !freshKeys.has(`${h.address}|${h.port}`))
    entry.hints = [...fresh, ...others].slice(0, MAX_ADDRESSES_PER_DEVICE)
    this.entries.set(obs.deviceId, entry)
    if (addressKey(entry.hints) + JSON.stringify(entry.extra) !== before) result.changed.push(obs.deviceId)
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value as string
      this.entries.delete(oldest)
      result.expired.push({ deviceId: oldest, reason: 'evicted' })
    }
    return result
  }

  /** A goodbye (TTL 0) for a service: its hints go at once. */
  forget (source: string): TableChange {
    const key = source.toLowerCase()
    return this.dropHints(h => h.source === key, 'goodbye')
  }

  /** Drops hints older than ttlMs. */
  sweep (nowMs: number): TableChange {
    return this.dropHints(h => nowMs - h.lastSeenMs >= this.ttlMs, 'ttl')
  }

  get (deviceId: string): Sighting | undefined {
    const entry = this.entries.get(deviceId)
    return entry === undefined ? undefined : toSighting(entry)
  }

  all (): Sighting[] { return [...this.entries.values()].reverse().map(toSighting) }

  private dropHints (isDropped: (h: Hint, e: Entry) => boolean, reason: ExpiryReason): TableChange {
    const result: TableChange = { changed: [], expired: [] }
    for (const entry of [...this.entries.values()]) {
      const kept = entry.hints.filter(h => !isDropped(h, entry))
      if (kept.length === entry.hints.length) continue
      entry.hints = kept
      if (kept.length === 0) {
        this.entries.delete(entry.deviceId)
        result.expired.push({ deviceId: entry.deviceId, reason })
      } else {
        result.changed.push(entry.deviceId)
      }
    }
    return result
  }
}

function addressKey (hints: Hint[]): string { return hints.map(h => `${h.address}|${h.port}`).sort().join(',') }

function toSighting (e: Entry): Sighting {
  const addresses = [...e.hints]
    .sort((a, b) => b.lastSeenMs - a.lastSeenMs || familyRank(a.family) - familyRank(b.family))
    .map(({ address, family, port, lastSeenMs }) => ({ address, family, port, lastSeenMs }))
  return { deviceId: e.deviceId, name: e.name, protocolVersion: e.protocolVersion, port: e.port, extra: { ...e.extra }, addresses, firstSeenMs: e.firstSeenMs, lastSeenMs: e.lastSeenMs }
}

// IPv4 first among equally fresh hints: the mDNS socket itself is IPv4, so IPv4 is known to work.
function familyRank (f: AddressFamily): number { return f === 'IPv4' ? 0 : 1 }

/** This host's announceable addresses, in the same terms bonjour-service uses to build A/AAAA records. */
function interfaceSignature (): string {
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal || a.mac === '00:00:00:00:00:00') continue
      out.push(`${a.family} ${a.address}`)
    }
  }
  return out.sort().join(',')
}

export class Discovery extends EventEmitter<DiscoveryEvents> {
  private readonly opts: Required<Omit<DiscoveryOptions, 'bonjourOptions' | 'extraTxt'>> & { bonjourOptions: DiscoveryOptions['bonjourOptions'] }
  private extraTxt: Record<string, string> = {}
  private readonly sightings: SightingTable
  private readonly instanceName: string
  private bonjour: Bonjour | null = null
  private service: Service | null = null
  private browser: Browser | null = null
  private timers: NodeJS.Timeout[] = []
  private lastInterfaces = ''
  private publishing: Promise<void> = Promise.resolve()
  private isStarted = false
  private stopping: Promise<void> | null = null

  constructor (options: DiscoveryOptions) {
    super()
    const {
      deviceId, deviceName, port, protocolVersion,
      ttlMs = 120_000, maxEntries = 256, interfaceCheckMs = 10_000,
      queryIntervalMs = Math.max(500, Math.floor(ttlMs / 3)),
      isDeviceId = defaultIsDeviceId, bonjourOptions, now = Date.now, extraTxt = {}, isIPv6Announced = true, isAnnounced = true
    } = options
    if (!isDeviceId(deviceId)) throw new TypeError(`not a device ID: ${deviceId}`)
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new TypeError(`port must be in 1..65535, got ${port}`)
    if (!Number.isInteger(protocolVersion) || protocolVersion < 0 || protocolVersion > 65535) throw new TypeError('protocolVersion must be in 0..65535')
    if (!(ttlMs > 0) || !(interfaceCheckMs > 0) || !(queryIntervalMs > 0)) throw new TypeError('intervals must be positive')
    if (!Number.isInteger(maxEntries) || maxEntries < 1) throw new TypeError('maxEntries must be a positive integer')
    this.opts = { deviceId, deviceName, port, protocolVersion, ttlMs, maxEntries, interfaceCheckMs, queryIntervalMs, isDeviceId, isIPv6Announced, isAnnounced, bonjourOptions, now }
    this.sightings = new SightingTable(ttlMs, maxEntries)
    this.extraTxt = checkedExtraTxt(extraTxt)
    // The instance name must be unique on the LAN or probing peers fight over it; the device ID
    // is. Dots would be read as label separators, and a label holds at most 63 bytes.
    this.instanceName = `lansync-${deviceId.replace(/[^A-Za-z0-9-]/g, '').slice(0, 48)}`
  }

  /** Starts announcing and browsing. Idempotent; a stopped Discovery cannot be restarted. */
  start (): void {
    if (this.stopping !== null) throw new TypeError('Discovery was stopped; create a new one')
    if (this.isStarted) return
    this.isStarted = true
    this.bonjour = new Bonjour(this.opts.bonjourOptions ?? {}, (err: Error) => this.emit('warning', err))
    // multicast-dns emits 'error' when it cannot bind 5353 (EACCES, EADDRINUSE), and bonjour-service
    // attaches no listener, so the agent would crash. Its socket is not public API: reach it
    // defensively and turn the error into a warning (discovery off, static addresses still work).
    const mdns = (this.bonjour as unknown as { server?: { mdns?: EventEmitter } }).server?.mdns
    mdns?.on('error', (err: Error) => this.emit('warning', err))
    this.lastInterfaces = interfaceSignature()
    if (this.opts.isAnnounced) this.publish()
    this.browse()
    const { interfaceCheckMs, queryIntervalMs, ttlMs } = this.opts
    this.every(interfaceCheckMs, () => this.checkInterfaces())
    this.every(queryIntervalMs, () => this.browse())
    this.every(Math.max(100, Math.min(ttlMs / 4, 10_000)), () => this.apply(this.sightings.sweep(this.opts.now())))
  }

  /** Sends goodbyes for our service, then closes the mDNS socket. Idempotent. */
  async stop (): Promise<void> {
    if (this.stopping !== null) return await this.stopping
    this.stopping = (async () => {
      for (const t of this.timers) clearInterval(t)
      this.timers = []
      this.browser?.stop()
      this.browser = null
      const bonjour = this.bonjour
      this.bonjour = null
      if (bonjour === null) return
      await this.publishing
      // unpublishAll sends every record again with TTL 0 (the goodbye) before the socket closes;
      // the bound keeps a dead interface from holding up shutdown.
      await withinMs(1_000, done => bonjour.unpublishAll(() => done()))
      await withinMs(1_000, done => bonjour.destroy(() => done()))
      this.service = null
    })()
    return await this.stopping
  }

  /**
   * Replaces the extension TXT keys we announce (`{}` removes them) and re-announces at once if
   * running: e.g. `{ pp: '40123' }` while a pairing window listens on TCP port 40123. Keys are a
   * lowercase letter then up to 8 of a-z 0-9, not `id`/`v`/`n`; values printable ASCII without
   * spaces, at most 200 characters; at most MAX_EXTRA_TXT_KEYS keys. Anything else is a TypeError.
   * Receivers see them as `Sighting.extra`; like the rest of the record they are unauthenticated.
   */
  setExtraTxt (extra: Record<string, string>): void {
    const checked = checkedExtraTxt(extra)
    if (JSON.stringify(checked) === JSON.stringify(this.extraTxt)) return
    this.extraTxt = checked
    if (this.isStarted && this.stopping === null) this.republish('txt')
  }

  /** Re-announces now (as on an interface change): a goodbye, then the record with current addresses. */
  reannounce (): void {
    if (this.isStarted && this.stopping === null) this.republish('asked')
  }

  /** Address hints for a device, newest first. Empty when unknown. */
  candidates (deviceId: string): AddressHint[] {
    return this.sightings.get(deviceId)?.addresses ?? []
  }

  /** Every current sighting, most recently seen first. */
  table (): Sighting[] { return this.sightings.all() }

  private every (intervalMs: number, fn: () => void): void {
    const t = setInterval(fn, intervalMs)
    t.unref()
    this.timers.push(t)
  }

  private publish (): void {
    const bonjour = this.bonjour
    if (bonjour === null) return
    const { port, deviceId, protocolVersion, deviceName } = this.opts
    this.service = bonjour.publish({
      name: this.instanceName,
      type: SERVICE_TYPE,
      protocol: SERVICE_PROTOCOL,
      port,
      // Namespaces and cloned machines share hostnames; a per-device host name keeps A records apart.
      host: `${this.instanceName}.local`,
      txt: { ...this.extraTxt, id: deviceId, v: String(protocolVersion), n: boundName(deviceName) },
      disableIPv6: !this.opts.isIPv6Announced,
      // Probing would let anyone who answers for our name silence us; the name holds our device ID,
      // so an honest conflict cannot happen.
      probe: false
    })
  }

  /**
   * Re-announces with the current addresses. bonjour-service computes the A/AAAA records once per
   * publish, so the service is unpublished (a goodbye: browsers drop the old record at once) and
   * published again (browsers add it with the new addresses).
   */
  private republish (reason: ReannounceReason): void {
    this.publishing = this.publishing.then(async () => {
      const service = this.service
      if (this.bonjour === null || service === null) return
      await withinMs(1_000, done => service.stop(() => done()))
      if (this.bonjour === null || this.stopping !== null) return
      this.publish()
      this.emit('reannounced', reason)
    })
  }

  private checkInterfaces (): void {
    const signature = interfaceSignature()
    if (signature === this.lastInterfaces) return
    this.lastInterfaces = signature
    this.republish('interfaces')
    // Announced once more a little later (RFC 6762 asks for at least two announcements): an
    // address often changes while the link is down, and the first announcement is then lost.
    const again = setTimeout(() => {
      this.timers = this.timers.filter(t => t !== again)
      if (this.isStarted && this.stopping === null) this.republish('interfaces')
    }, REANNOUNCE_AGAIN_MS)
    again.unref()
    this.timers.push(again)
  }

  /**
   * (Re)starts browsing. bonjour's Browser reports a service once and ignores repeats, so a fresh
   * Browser per query interval is what turns every live device's answer into a refresh.
   */
  private browse (): void {
    const bonjour = this.bonjour
    if (bonjour === null) return
    this.browser?.stop()
    const browser = bonjour.find({ type: SERVICE_TYPE, protocol: SERVICE_PROTOCOL })
    this.browser = browser
    const onService = (service: Service): void => this.onService(service)
    browser.on('up', onService)
    browser.on('srv-update', onService)
    browser.on('txt-update', onService)
    browser.on('down', (service: Service) => {
      if (typeof service.fqdn === 'string') this.apply(this.sightings.forget(service.fqdn))
    })
  }

  private onService (service: Service): void {
    const from = typeof service.referer?.address === 'string' ? service.referer.address : 'unknown'
    const parsed = parseService(service, this.opts.isDeviceId)
    if (typeof parsed === 'string') { this.emit('rejected', parsed, from); return }
    if (parsed.deviceId === this.opts.deviceId) return // our own announcement, looped back (or a spoof of it)
    this.apply(this.sightings.observe(parsed, this.opts.now()))
  }

  private apply (change: TableChange): void {
    for (const { deviceId, reason } of change.expired) this.emit('expired', deviceId, reason)
    for (const deviceId of change.changed) {
      const sighting = this.sightings.get(deviceId)
      if (sighting !== undefined) this.emit('peer', sighting)
    }
  }
}

function checkedExtraTxt (extra: Record<string, string>): Record<string, string> {
  if (typeof extra !== 'object' || extra === null) throw new TypeError('extraTxt must be an object of strings')
  const keys = Object.keys(extra).sort()
  if (keys.length > MAX_EXTRA_TXT_KEYS) throw new TypeError(`at most ${MAX_EXTRA_TXT_KEYS} extension TXT keys`)
  const out: Record<string, string> = {}
  for (const key of keys) {
    if (!isExtraTxt(key, extra[key])) throw new TypeError(`not an extension TXT entry: ${JSON.stringify(key)}=${JSON.stringify(extra[key])}`)
    out[key] = extra[key]
  }
  return out
}

function withinMs (timeoutMs: number, start: (done: () => void) => void): Promise<void> {
  return new Promise(resolve => {
    const timer = setTimeout(resolve, timeoutMs)
    const done = (): void => { clearTimeout(timer); resolve() }
    try { start(done) } catch { done() }
  })
}
