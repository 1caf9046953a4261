// Wiring only: builds the parts from the config and starts and stops them in order. The agent
// runs in the foreground (`lansync start`) or "offline" inside a CLI command when none runs.
import { EventEmitter } from 'node:events'
import { homePaths, loadConfig, parseBootstrapNode, saveConfig, updateConfig, type Config } from './config.js'
import { setOverallLimits } from './ops/limits.js'
import { PeerManager } from './sync/peers.js'
import { LanDiscovery, isLanReachable } from './sync/lan-discovery.js'
import type { WanDiscovery, WanStatus } from './sync/wan-discovery.js'
import type { SessionContext } from './sync/session.js'
import { loadIdentity, type Identity } from './identity.js'
import { Store } from './store/store.js'
import { FolderRunner, folderSelection, type FolderState } from './sync/folder-runner.js'
import { ControlServer } from './control/server.js'
import { Scanner } from './fs/scanner.js'
import { LansyncError } from './errors.js'
import { deviceShort, decodeDeviceId } from './core/device-id.js'
import { listHistory, pruneHistory, restoreFile, restoreFolderSnapshot, type OpsContext } from './ops/history.js'
import type { ScanProblem, ScanProgress, ScanResult } from './fs/scanner.js'
import { PairingHost, type PairingWindowState } from './sync/pairing-host.js'
import { resumeHeldDeletes, type ResumeResult } from './sync/held-deletes.js'
import { findFolder } from './ops/locate.js'
import { listConflicts, resolveConflict } from './ops/conflicts.js'
import { previewRecords } from './sync/preview.js'
import { listPaths } from './ops/history.js'
import { DashboardHost } from './dashboard/host.js'
import { fetchPath, type FetchContext } from './sync/fetch.js'
import type { Session } from './sync/session.js'
import { Bandwidth, type Limits } from './sync/rate-limiter.js'
import { overrideFolder } from './sync/override.js'
import { isOutOfSync } from './core/folder-type.js'
import { revertFolder } from './sync/revert.js'

export interface AgentEvents {
  log: [string]
  progress: [{ folder: string } & ScanProgress]
  scanned: [{ folder: string } & ScanResult]
  problem: [{ folder: string } & ScanProblem]
  state: [{ folder: string, state: FolderState, reason?: string }]
  /** A pairing window opened (its state) or closed (undefined): what mDNS announces. */
  pairing: [PairingWindowState | undefined]
}

/** Folder offers kept per device, so that a misbehaving peer cannot grow the config without end. */
export const MAX_OFFERS_PER_DEVICE = 100

export class Agent extends EventEmitter<AgentEvents> {
  readonly home: string
  config: Config
  readonly identity: Identity
  readonly store: Store
  private readonly runners = new Map<string, FolderRunner>()
  private control: ControlServer | undefined
  private peers: PeerManager | undefined
  private lan: LanDiscovery | undefined
  private wan: WanDiscovery | undefined
  /** The bootstrap list the running WAN node was built with (a change rebuilds it). */
  private wanBootstrapKey = ''
  /** `start --wan/--no-wan/--bootstrap` override the config until `lansync wan` says otherwise. */
  private wanOverride: { isEnabled?: boolean, bootstrap?: string[] } = {}
  /** WAN changes run one at a time (reloads may overlap). */
  private wanChange: Promise<void> = Promise.resolve()
  /** Bandwidth limits on block data, overall and per device (see sync/rate-limiter.ts). */
  private readonly bandwidth = new Bandwidth()
  /** `start --max-send/--max-recv` override the config until `lansync limits set` says otherwise. */
  private limitsOverride: Partial<Limits> = {}
  private isRunning = false
  private isClosed = false
  private readonly startedMs = Date.now()
  private readonly offersFullLogged = new Set<string>()
  /** `start --dashboard [PORT]` serves the dashboard whatever the config says, until `lansync dashboard on|off`. */
  private dashboardOverride: number | undefined
  private readonly dashboard = new DashboardHost({
    home: () => this.home,
    call: async (method, params) => await this.call(method, params),
    config: () => this.config,
    log: line => this.log(line)
  })
  private readonly pairing = new PairingHost({
    home: () => this.home,
    identity: () => this.identity,
    config: () => this.config,
    listenAddress: () => this.peers?.listenAddress,
    isRunning: () => this.isRunning && !this.isClosed,
    reload: async () => { await this.call('reload', {}) },
    onWindow: state => {
      this.lan?.announcePairingWindow(state?.port)
      this.emit('pairing', state)
    },
    isAnnounced: () => this.lan !== undefined,
    log: line => this.log(line)
  })

  private constructor (home: string, config: Config, identity: Identity, store: Store) {
    super()
    this.home = home
    this.config = config
    this.identity = identity
    this.store = store
  }

  /** Loads config, key and database. Nothing runs until `start()`. */
  static async open (home: string): Promise<Agent> {
    const config = loadConfig(home)
    const identity = loadIdentity(home)
    const store = await Store.open(homePaths(home).db)
    return new Agent(home, config, identity, store)
  }

  /** Starts the control socket, every folder (first scan, then watching), then the network. */
  async start ({ listen, isMdnsEnabled = true, isWanEnabled, wanBootstrap, dashboardPort, maxSendBps, maxRecvBps }: { listen?: string, isMdnsEnabled?: boolean, isWanEnabled?: boolean, wanBootstrap?: string[], dashboardPort?: number, maxSendBps?: number, maxRecvBps?: number } = {}): Promise<void> {
    this.wanOverride = { isEnabled: isWanEnabled, bootstrap: wanBootstrap !== undefined && wanBootstrap.length > 0 ? wanBootstrap : undefined }
    this.limitsOverride = { maxSendBps, maxRecvBps }
    this.applyLimits()
    this.isRunning = true
    this.control = new ControlServer(homePaths(this.home).socket, async (method, params, onProgress, signal) => await this.call(method, params, onProgress, signal))
    await this.control.listen()
    this.log(`device ${this.identity.deviceId} (${this.config.deviceName}) started`)
    this.dashboardOverride = dashboardPort
    // Asked for on the command line: a port that cannot be had stops the start. From the config: said, and sync goes on.
    await this.dashboard.apply(this.dashboardSettings()).catch(err => { if (dashboardPort !== undefined) throw err; this.log((err as Error).message) })
    await this.syncFolders()
    this.peers = new PeerManager(this.identity, this.config, this.sessionContext())
    this.peers.on('log', line => this.log(line))
    const bound = await this.peers.listen(listen ?? this.config.listen)
    if (!this.config.isMdnsEnabled || !isMdnsEnabled) this.log('mDNS discovery is off; dialing configured addresses only')
    else if (!isLanReachable(bound.host)) this.log(`mDNS discovery is off: listening on ${bound.host} only`)
    else {
      this.lan = new LanDiscovery({ deviceId: this.identity.deviceId, deviceName: this.config.deviceName, listen: bound, peers: this.peers, config: () => this.config, log: line => this.log(line) })
      this.lan.start()
    }
    await this.applyWan()
  }

  /** WAN mode on or off, and with which bootstrap nodes: the start flags, else the config. */
  private wanSettings (): { isEnabled: boolean, bootstrap: string[] } {
    return {
      isEnabled: this.wanOverride.isEnabled ?? this.config.isWanEnabled,
      bootstrap: this.wanOverride.bootstrap ?? this.config.wanBootstrap
    }
  }

  /**
   * Starts, updates, rebuilds (new bootstrap nodes) or stops the WAN node to match the settings.
   * Throws WAN_PUBLIC_DHT_FORBIDDEN when no bootstrap node is given where public ones are forbidden.
   */
  private async applyWan (): Promise<void> {
    const run = this.wanChange.then(async () => {
      if (!this.isRunning || this.isClosed || this.peers === undefined) return
      const { isEnabled, bootstrap } = this.wanSettings()
      const key = JSON.stringify(bootstrap)
      if (this.wan !== undefined && isEnabled && key === this.wanBootstrapKey) { this.wan.update(); return }
      if (this.wan !== undefined) {
        const wan = this.wan
        this.wan = undefined
        await wan.close()
        this.log(isEnabled ? 'WAN: bootstrap nodes changed; rejoining the DHT' : 'WAN: off (left the DHT)')
      }
      if (!isEnabled) return
      const nodes = bootstrap.map(node => parseBootstrapNode(node))
      // A safety net for test and lab machines: with this set, only an explicit (own) DHT is used.
      if (nodes.length === 0 && process.env.LANSYNC_FORBID_PUBLIC_DHT === '1') {
        throw new LansyncError('WAN_PUBLIC_DHT_FORBIDDEN', 'WAN mode needs --bootstrap HOST:PORT here: LANSYNC_FORBID_PUBLIC_DHT=1 forbids the public DHT')
      }
      // Loaded only here: hyperswarm and hyperdht cost an agent without WAN mode (the default)
      // about 10 MiB and 60 ms of start-up.
      const { WanDiscovery } = await import('./sync/wan-discovery.js')
      if (this.isClosed) return
      this.wan = new WanDiscovery({ identity: this.identity, bootstrap: nodes.length > 0 ? nodes : undefined, peers: this.peers, config: () => this.config, log: line => this.log(line) })
      this.wanBootstrapKey = key
      this.wan.start()
      this.log(`WAN: joining the DHT via ${nodes.length > 0 ? bootstrap.join(', ') : 'the public bootstrap nodes'}`)
    })
    this.wanChange = run.catch(() => {})
    await run
  }

  private dashboardSettings (): Config['dashboard'] {
    return this.dashboardOverride !== undefined ? { isEnabled: true, port: this.dashboardOverride } : this.config.dashboard
  }

  /** The overall limits in force: the start flags, else the config. */
  private limits (): Limits {
    return {
      maxSendBps: this.limitsOverride.maxSendBps ?? this.config.maxSendBps,
      maxRecvBps: this.limitsOverride.maxRecvBps ?? this.config.maxRecvBps
    }
  }

  /** Applies the limits of the config (and start flags) to every session, at once. */
  private applyLimits (): void {
    this.bandwidth.apply({ ...this.limits(), devices: this.config.devices.map(d => ({ id: d.id, maxSendBps: d.maxSendBps ?? 0, maxRecvBps: d.maxRecvBps ?? 0 })) })
  }

  /** WAN reachability for `lansync status` and `lansync wan`. */
  wanStatus (): WanStatus {
    const { isEnabled, bootstrap } = this.wanSettings()
    return { isEnabled, bootstrap, ...(this.wan?.status() ?? { isRunning: false }) }
  }

  private sessionContext (): SessionContext {
    return {
      deviceName: this.config.deviceName,
      localDevice: this.identity.short,
      store: this.store,
      // A paused folder is offered to no device: it neither sends nor receives anything.
      sharedFolders: deviceId => this.config.folders
        .filter(f => f.sharedWith.includes(deviceId) && !f.isPaused && this.runners.has(f.id))
        .map(folder => ({ folder, runner: this.runners.get(folder.id) as FolderRunner })),
      onOffer: (deviceId, folderId, label) => this.recordOffer(deviceId, folderId, label),
      deviceLabel: short => this.deviceLabel(short),
      log: line => this.log(line),
      bandwidth: this.bandwidth
    }
  }

  /** A paired device shares a folder we do not: remember the offer for `lansync folder accept`. */
  private recordOffer (deviceId: string, folderId: string, label: string): void {
    const from = this.config.devices.find(d => d.id === deviceId)?.name ?? deviceId
    if (this.config.offers.some(o => o.folderId === folderId && o.fromDevice === deviceId)) return
    if (this.config.folders.some(f => f.id === folderId && f.isPaused)) return // paused here: nothing to say
    if (this.config.folders.some(f => f.id === folderId)) {
      this.log(`${from} shares folder "${label}" (${folderId}); share it back with \`lansync folder share ${folderId} ${deviceId}\``)
      return
    }
    // A paired device could offer 1000 new folders on every connection: keep a bounded number of
    // them (the config is rewritten whole for each), and say so once.
    if (this.config.offers.filter(o => o.fromDevice === deviceId).length >= MAX_OFFERS_PER_DEVICE) {
      if (!this.offersFullLogged.has(deviceId)) {
        this.offersFullLogged.add(deviceId)
        this.log(`${from} offers more than ${MAX_OFFERS_PER_DEVICE} folders; the rest are ignored (see \`lansync folder offers\`)`)
      }
      return
    }
    this.config.offers.push({ folderId, label, fromDevice: deviceId, offeredMs: Date.now() })
    saveConfig(this.home, this.config)
    this.log(`${from} offers folder "${label}" (${folderId}); accept with \`lansync folder accept ${folderId} PATH\``)
  }

  async close (): Promise<void> {
    if (this.isClosed) return
    this.isClosed = true
    this.pairing.close()
    await this.dashboard.close()
    await this.control?.close()
    await this.lan?.close() // goodbye first, while the network is still up
    await this.peers?.close() // sessions say why they end, on WAN connections too
    await this.wanChange
    await this.wan?.close() // then unannounce and leave the DHT
    for (const runner of this.runners.values()) await runner.close()
    this.runners.clear()
    await this.store.close()
  }

  /** Live per-peer state (connections, what is left per folder, rates): cheap, for progress bars. */
  peerStatus (): ReturnType<PeerManager['status']> { return this.peers?.status() ?? [] }

  /** One entry point for every operation the CLI asks for, locally or over the control socket. */
  async call (method: string, params: any, onProgress: (p: unknown) => void = () => {}, signal?: AbortSignal): Promise<unknown> {
    const ctx = this.opsContext()
    switch (method) {
      case 'history': return await listHistory(ctx, params)
      case 'restore': return await restoreFile(ctx, params)
      case 'snapshot.restore': return await restoreFolderSnapshot(ctx, params, onProgress)
      case 'history.paths': return await listPaths(ctx, params)
      case 'history.prune': return await this.inAllFolders(async () => await pruneHistory(ctx, params))
      case 'conflicts': return await listConflicts(ctx, params)
      case 'conflicts.resolve': return await resolveConflict(ctx, params)
      case 'plan': return await this.plan(params)
      case 'status': return await this.status()
      case 'peers': return this.lan?.list() ?? { isDiscoveryEnabled: false, reason: this.isRunning ? 'mDNS discovery is off' : 'the agent is not running', peers: [] }
      case 'reload': {
        const before = this.config
        this.config = loadConfig(this.home)
        this.logPauses(before)
        this.applyLimits()
        await this.syncFolders()
        this.peers?.update(this.config)
        this.lan?.update()
        await this.applyWan()
        return { folders: this.config.folders.length }
      }
      case 'limits':
        // With limits in `params` (bytes/s) they are saved first; either way the saved config
        // now wins over the start flags (`lansync limits set` saves, then calls this).
        if (params.maxSendBps !== undefined || params.maxRecvBps !== undefined) updateConfig(this.home, c => setOverallLimits(c, params))
        this.config = loadConfig(this.home)
        this.limitsOverride = {}
        this.applyLimits()
        return this.limitsStatus()
      case 'wan':
        // `lansync wan on|off` saved the config: it now wins over the start flags.
        this.config = loadConfig(this.home)
        this.wanOverride = {}
        this.peers?.update(this.config)
        await this.applyWan()
        return this.wanStatus()
      case 'dashboard':
        // `lansync dashboard on|off` saved the config: it now wins over `start --dashboard`.
        this.config = loadConfig(this.home)
        this.dashboardOverride = undefined
        if (this.isRunning) await this.dashboard.apply(this.dashboardSettings())
        return this.dashboard.status(this.config.dashboard)
      case 'dashboard.status': return this.dashboard.status(this.dashboardSettings())
      case 'rescan': return await this.rescan(params)
      case 'fetch': return await fetchPath(this.fetchContext(), params)
      case 'folder.resume': return params.isDryRun === true ? await this.heldDeletes(params) : await this.resumeFolder(params)
      case 'folder.override': return await this.withRunner(params, 'override', async runner => await overrideFolder(runner, { isDryRun: params.isDryRun === true }))
      case 'folder.revert': return await this.withRunner(params, 'revert', async runner => await revertFolder(runner, { isDryRun: params.isDryRun === true }))
      case 'ping': return { deviceId: this.identity.deviceId }
      case 'pair.open': return await this.pairing.open(params, onProgress, signal)
      default: throw new LansyncError('CONTROL_FAILED', `unknown method ${method}`)
    }
  }

  /** Starts runners for new folders and stops those for removed ones (after a config change). */
  private async syncFolders (): Promise<void> {
    if (!this.isRunning) return
    // Paused folders run too: they sync with no device, but local changes are still recorded in
    // history (lansync is a backup as well); sessionContext leaves them out.
    const wanted = new Map(this.config.folders.map(f => [f.id, f]))
    for (const [id, runner] of this.runners) {
      const folder = wanted.get(id)
      if (folder === undefined || folder.path !== runner.folder.path) {
        await runner.close()
        this.runners.delete(id)
      } else {
        await runner.update(folder) // new settings (maxDeleteShare, type) apply from the next batch on
      }
    }
    for (const folder of wanted.values()) {
      if (this.runners.has(folder.id)) continue
      const runner = new FolderRunner({ folder, store: this.store, device: this.identity.short, deviceName: short => this.deviceName(short) })
      const tag = { folder: folder.label }
      runner.on('progress', p => this.emit('progress', { ...tag, ...p }))
      runner.on('problem', p => { this.emit('problem', { ...tag, ...p }); this.log(`${folder.label}: ${p.path}: ${p.message}`) })
      runner.on('scanned', r => this.emit('scanned', { ...tag, ...r }))
      // States with a reason (error, paused, stopped) are logged once each, and so is the return
      // to idle after one; the scans in between (a paused folder still scans) are not.
      let lastLogged = ''
      runner.on('state', (state, reason) => {
        this.emit('state', { ...tag, state, reason })
        if (reason !== undefined || state === 'error') {
          const line = `${folder.label}: ${state}${reason !== undefined ? `: ${reason}` : ''}`
          if (line !== lastLogged) this.log(line)
          lastLogged = line
        } else if (state === 'idle' && lastLogged !== '') {
          const after = lastLogged.includes(': stopped: ') ? 'its marker is back' : lastLogged.includes(': paused: ') ? 'no deletes held' : 'the problem is gone'
          this.log(`${folder.label}: idle: ${after}`)
          lastLogged = ''
        }
      })
      this.runners.set(folder.id, runner)
      void runner.start().catch(err => this.log(`${folder.label}: ${(err as Error).message}`))
    }
  }

  /** Says in the log which folders and devices a person paused or resumed. */
  private logPauses (before: Config): void {
    for (const f of this.config.folders) {
      const was = before.folders.find(b => b.id === f.id)
      if (was === undefined || was.isPaused === f.isPaused) continue
      this.log(f.isPaused
        ? `${f.label}: paused by a person: synced with no device until \`lansync folder resume ${f.label}\` (local changes are still recorded)`
        : `${f.label}: resumed: syncing with its devices again`)
    }
    for (const d of this.config.devices) {
      const was = before.devices.find(b => b.id === d.id)
      if (was === undefined || (was.isPaused === true) === (d.isPaused === true)) continue
      this.log(d.isPaused ? `${d.name}: paused by a person: no connection until \`lansync device resume ${d.name}\`` : `${d.name}: resumed`)
    }
  }

  /** The overall limits and where they come from, for `lansync limits` and `status`. */
  private limitsStatus (): Limits & { isFromStartFlags: boolean, devices: Array<{ deviceId: string, name: string } & Limits> } {
    return {
      ...this.limits(),
      isFromStartFlags: this.limitsOverride.maxSendBps !== undefined || this.limitsOverride.maxRecvBps !== undefined,
      devices: this.config.devices.map(d => ({ deviceId: d.id, name: d.name, maxSendBps: d.maxSendBps ?? 0, maxRecvBps: d.maxRecvBps ?? 0 }))
    }
  }

  /** What `folder resume` would delete: the held tombstones' paths, and who made each. */
  private async heldDeletes ({ folder: name }: { folder: string }): Promise<unknown> {
    const folder = findFolder(this.config, name)
    const held = []
    for await (const r of this.store.heldRecords(folder.id)) held.push({ path: r.path, kind: r.kind, deletedBy: this.deviceName(r.modifiedBy) })
    return { folder: folder.id, label: folder.label, held }
  }

  /** Applies the remote deletes the mass-delete guard held, as a person confirmed. */
  private async resumeFolder ({ folder: name }: { folder: string }): Promise<ResumeResult> {
    const folder = findFolder(this.config, name)
    let runner = this.runners.get(folder.id)
    // No agent running (or the folder is not started): a runner of our own, without a watcher.
    const isOwn = runner === undefined
    runner ??= new FolderRunner({ folder, store: this.store, device: this.identity.short, isWatching: false, deviceName: short => this.deviceName(short) })
    try {
      const result = await resumeHeldDeletes(runner, { localDevice: this.identity.short, deviceLabel: short => this.deviceLabel(short) })
      this.log(`${folder.label}: resumed by a person: ${result.deleted} held deletes applied${result.kept > 0 ? `, ${result.kept} kept (changed here since)` : ''}`)
      return result
    } finally {
      if (isOwn) await runner.close()
    }
  }

  /**
   * Runs `work` on a folder's runner: the running one, or (no agent, or a paused folder) one of
   * its own without a watcher, closed afterwards. Logged as a person's action.
   */
  private async withRunner<T extends { paths: string[], isDryRun: boolean }> ({ folder: name }: { folder: string }, what: string, work: (runner: FolderRunner) => Promise<T>): Promise<T> {
    const folder = findFolder(this.config, name)
    let runner = this.runners.get(folder.id)
    const isOwn = runner === undefined
    runner ??= new FolderRunner({ folder, store: this.store, device: this.identity.short, isWatching: false, deviceName: short => this.deviceName(short) })
    try {
      const result = await work(runner)
      if (!result.isDryRun) this.log(`${folder.label}: ${what} by a person: ${result.paths.length} paths`)
      return result
    } finally {
      if (isOwn) await runner.close()
    }
  }

  private async rescan ({ folder }: { folder?: string }): Promise<unknown> {
    const targets = [...this.runners.values()].filter(r => folder === undefined || r.folder.id === folder || r.folder.label === folder)
    const out = []
    for (const runner of targets) {
      // What this scan (and any queued before it) found changed on disk: after a sync settles, nothing.
      const changed: string[] = []
      const onScanned = (r: ScanResult): void => { changed.push(...r.added, ...r.modified, ...r.deleted) }
      runner.on('scanned', onScanned)
      try { await runner.scan(['']) } finally { runner.off('scanned', onScanned) }
      out.push({ folder: runner.folder.label, state: runner.state, reason: runner.stateReason, changed: [...new Set(changed)].sort() })
    }
    return out
  }

  /** Pruning deletes versions and blocks: no scan may commit meanwhile. */
  private async inAllFolders<T> (work: () => Promise<T>): Promise<T> {
    const runners = [...this.runners.values()]
    const runNested = (i: number): Promise<T> => i === runners.length ? work() : runners[i].exclusive(() => runNested(i + 1))
    return await runNested(0)
  }

  async status (): Promise<unknown> {
    const folders = []
    for (const folder of this.config.folders) {
      const runner = this.runners.get(folder.id)
      const { files, dirs, bytes, deleted, localChanges } = await this.store.folderTotals(folder.id)
      const meta = await this.store.folderMeta(folder.id)
      folders.push({
        id: folder.id,
        label: folder.label,
        path: folder.path,
        type: folder.type,
        state: folder.isPaused ? 'paused' : runner?.state ?? (this.isRunning ? 'starting' : 'not running'),
        reason: folder.isPaused ? pausedReason(folder.label) : runner?.stateReason,
        isPaused: folder.isPaused,
        pendingDeletes: runner?.heldCount ?? await this.countHeld(folder.id),
        // Receive-only: paths changed here and not sent; send-only: remote changes not applied here.
        localChanges,
        outOfSync: await countOutOfSync(this.store, folder.id, this.identity.short),
        files, dirs, bytes, deleted,
        sequence: meta.sequence,
        lastScanMs: runner?.lastScanMs ?? 0,
        sharedWith: folder.sharedWith,
        selection: folder.selection,
        notHeld: runner !== undefined ? await runner.countKnown() : 0,
        problems: runner?.problemList() ?? []
      })
    }
    return {
      deviceId: this.identity.deviceId,
      deviceName: this.config.deviceName,
      isAgentRunning: this.isRunning,
      uptimeMs: this.isRunning ? Date.now() - this.startedMs : 0,
      listen: this.peers?.listenAddress,
      wan: this.wanStatus(),
      limits: this.limitsStatus(),
      folders,
      peers: this.peers?.status() ?? this.config.devices.map(d => ({ deviceId: d.id, name: d.name, isConnected: false, isPaused: d.isPaused === true, maxSendBps: d.maxSendBps ?? 0, maxRecvBps: d.maxRecvBps ?? 0, folders: [] }))
    }
  }

  /**
   * `lansync plan`: per folder, the deletes the guard holds, and per peer what applying the
   * records it sent and this device has not applied yet would do. Only records already received
   * are known: a peer's changes it has not sent yet cannot be previewed.
   */
  private async plan ({ folder: name }: { folder?: string }): Promise<unknown> {
    const folders = name === undefined ? this.config.folders : [findFolder(this.config, name)]
    const out = []
    for (const folder of folders) {
      const held = []
      for await (const r of this.store.heldRecords(folder.id)) held.push({ path: r.path, kind: r.kind, deletedBy: this.deviceName(r.modifiedBy) })
      const peers = []
      for (const deviceId of folder.sharedWith) {
        const device = this.config.devices.find(d => d.id === deviceId)
        const session = this.peers?.session(deviceId)
        const pending = session?.pendingRecords(folder.id)
        // Connected, but the peer does not share this folder back: nothing comes from it.
        const base = { deviceId, name: device?.name ?? deviceId, isConnected: session !== undefined, isSharing: pending !== undefined }
        if (pending === undefined) { peers.push(base); continue }
        const preview = await previewRecords(pending.records, {
          store: this.store,
          folderId: folder.id,
          localDevice: this.identity.short,
          deviceLabel: short => this.deviceLabel(short),
          deviceName: short => this.deviceName(short),
          type: folder.type
        })
        peers.push({ ...base, isInitialReceived: pending.isInitialReceived, ...preview })
      }
      const runner = this.runners.get(folder.id)
      out.push({ folder: folder.id, label: folder.label, state: folder.isPaused ? 'paused' : runner?.state ?? (this.isRunning ? 'starting' : 'not running'), reason: folder.isPaused ? pausedReason(folder.label) : runner?.stateReason, heldDeletes: held, peers })
    }
    return { isAgentRunning: this.isRunning, folders: out }
  }

  private fetchContext (): FetchContext {
    return {
      config: this.config,
      store: this.store,
      runner: id => this.runners.get(id),
      sessions: id => (this.config.folders.find(f => f.id === id)?.sharedWith ?? [])
        .map(deviceId => this.peers?.session(deviceId))
        .filter((s): s is Session => s !== undefined),
      isAgentRunning: this.isRunning
    }
  }

  private async countHeld (folderId: string): Promise<number> {
    let n = 0
    for await (const _ of this.store.heldRecords(folderId)) n += 1
    return n
  }

  private opsContext (): OpsContext {
    return {
      config: this.config,
      store: this.store,
      now: Date.now,
      deviceName: short => this.deviceName(short),
      scanPaths: async (folderId, paths) => {
        const runner = this.runners.get(folderId)
        if (runner !== undefined) { await runner.scan(paths); return }
        const folder = this.config.folders.find(f => f.id === folderId)
        if (folder === undefined) return
        const selection = folderSelection(folder)
        await new Scanner({ folderId, root: folder.path, store: this.store, device: this.identity.short, isSelected: (p, kind) => selection.isSelected(p, kind), isLocalOnly: () => folder.type === 'receiveonly' }).scanPaths(paths)
      }
    }
  }

  /** A short label of a device for conflict file names: the first group of its device ID. */
  private deviceLabel (short: string): string {
    if (short === this.identity.short) return this.identity.deviceId.slice(0, 7)
    for (const d of this.config.devices) {
      try { if (deviceShort(decodeDeviceId(d.id)) === short) return d.id.slice(0, 7) } catch {}
    }
    return short.slice(0, 7).toUpperCase()
  }

  private deviceName (short: string): string {
    if (short === this.identity.short) return `${this.config.deviceName} (this device)`
    for (const d of this.config.devices) {
      try { if (deviceShort(decodeDeviceId(d.id)) === short) return d.name } catch {}
    }
    return short
  }

  /** The open pairing window, if any (mDNS announces its port while it is open). */
  get pairingWindow (): PairingWindowState | undefined { return this.pairing.state }

  log (message: string): void {
    this.emit('log', message)
  }
}

/** Why a folder a person paused does not sync, and how to undo it. */
function pausedReason (label: string): string {
  return `paused by a person: synced with no device (local changes are still recorded); \`lansync folder resume ${label}\` to sync again`
}

/** Send-only: remote records kept as not applied that still differ from this device's. */
async function countOutOfSync (store: Store, folderId: string, device: string): Promise<number> {
  let n = 0
  for await (const ignored of store.ignoredRecords(folderId)) {
    if (isOutOfSync(await store.getRecord(folderId, ignored.path), ignored, device)) n += 1
  }
  return n
}
