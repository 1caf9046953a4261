// One authenticated connection to one paired device: hello, then per shared folder a manifest
// sender, a puller and block serving. Any protocol violation closes this connection with a
// reason; it never takes the agent down.
import { EventEmitter } from 'node:events'
import type { Connection } from '../net/transport.js'
import { FrameDecoder, encodeFrame, encodeFrameParts } from '../protocol/framing.js'
import { decodeMessage, encodeMessage, encodeMessageParts } from '../protocol/codec.js'
import { MAX_FRAME_BYTES, PROTOCOL_VERSION, type Message, IDLE_TIMEOUT_MS, PING_INTERVAL_MS } from '../protocol/messages.js'
import { LansyncError, isLansyncError } from '../errors.js'
import type { FileRecord } from '../core/types.js'
import { isStoreWriteError, type Store, type StoredRecord } from '../store/store.js'
import type { FolderConfig } from '../config.js'
import { BlockFetcher } from './block-fetcher.js'
import { ManifestSender } from './manifest-sender.js'
import { Puller } from './puller.js'
import type { FolderRunner } from './folder-runner.js'
import { crashPoint } from '../fault.js'
import { deltaAgainst, deltaCostBytes, deltaLiteralBytes } from '../core/block-delta.js'
import type { Bandwidth } from './rate-limiter.js'

/** Block requests served at once: each waits on a store read, so a few overlap reads with writes. */
const MAX_CONCURRENT_SERVES = 8
/**
 * Unanswered requests a peer may have queued here. One within its 16 MiB byte window never needs
 * more than 1,024 (blocks are at least 16 KiB but the last of a file); beyond 4,096 it is flooding us.
 */
export const MAX_QUEUED_REQUESTS = 4096

/** What a session needs from the agent. */
export interface SessionContext {
  deviceName: string
  localDevice: string
  store: Store
  /** Folders shared with `deviceId` that run here. */
  sharedFolders: (deviceId: string) => Array<{ folder: FolderConfig, runner: FolderRunner }>
  /** A folder the peer offers that is not (yet) shared here. */
  onOffer: (deviceId: string, folderId: string, label: string) => void
  deviceLabel: (short: string) => string
  log: (message: string) => void
  /** Send and receive limits on block data (protocol messages are never held back). */
  bandwidth?: Bandwidth
}

interface FolderLink {
  folder: FolderConfig
  runner: FolderRunner
  sender?: ManifestSender
  puller: Puller
  peerEpoch: string
  /** Highest sequence of the peer's manifest applied here. */
  appliedSequence: number
  /** The sequence saved as the peer's: appliedSequence, held below records that failed and wait to be retried. */
  savedSequence: number
  isInitialReceived: boolean
  peerNeedFiles: number
  peerNeedBytes: number
  onHeldChanged: () => void
}

interface SessionEvents {
  close: [string]
}

export class Session extends EventEmitter<SessionEvents> {
  readonly conn: Connection
  readonly deviceId: string
  readonly peerShort: string
  peerName = ''
  private readonly ctx: SessionContext
  private readonly decoder = new FrameDecoder({ maxFrameBytes: MAX_FRAME_BYTES })
  private readonly fetcher: BlockFetcher
  private readonly links = new Map<string, FolderLink>()
  private isHelloReceived = false
  private isClosed = false
  private pingTimer: NodeJS.Timeout | undefined
  private idleTimer: NodeJS.Timeout | undefined
  private progressTimer: NodeJS.Timeout | undefined
  /** Block requests being served (at most MAX_CONCURRENT_SERVES) and those waiting, first come first served. */
  private serving = 0
  private readonly requestQueue: Array<Extract<Message, { type: 'request' }>> = []
  /** Aborts transfers waiting for a bandwidth limit when the connection ends. */
  private readonly ended = new AbortController()
  blockBytesSent = 0
  readonly connectedMs = Date.now()

  constructor (conn: Connection, deviceId: string, peerShort: string, ctx: SessionContext) {
    super()
    this.conn = conn
    this.deviceId = deviceId
    this.peerShort = peerShort
    this.ctx = ctx
    const bandwidth = ctx.bandwidth
    this.fetcher = new BlockFetcher({
      send: message => { this.write(message as unknown as Message) },
      throttle: bandwidth === undefined ? undefined : async sizeBytes => await bandwidth.acquireRecv(deviceId, sizeBytes, this.ended.signal)
    })
    conn.on('close', (reason?: string) => this.shutdown(reason ?? 'connection closed'))
  }

  get blockBytesReceived (): number { return this.fetcher.bytesReceived }

  async start (): Promise<void> {
    const folders = []
    for (const { folder } of this.ctx.sharedFolders(this.deviceId)) {
      const meta = await this.ctx.store.folderMeta(folder.id)
      const have = await this.ctx.store.getPeerState(folder.id, this.peerShort)
      folders.push({ id: folder.id, label: folder.label, epoch: meta.epoch, sequence: meta.sequence, haveEpoch: have?.epoch ?? '', haveSequence: have?.sequence ?? 0 })
    }
    // The peer may have been refused while we read the store: timers armed now would outlive it.
    if (this.isClosed) return
    this.write({ type: 'hello', protocol: PROTOCOL_VERSION, deviceName: this.ctx.deviceName, folders } as Message)
    // Read only now: the peer's hello makes us send manifests, which must follow our own hello.
    // (The connection holds incoming bytes, with backpressure, until this listener is attached.)
    this.conn.on('data', (chunk: Uint8Array) => this.onData(chunk))
    this.pingTimer = setInterval(() => this.write({ type: 'ping' } as Message), PING_INTERVAL_MS)
    this.progressTimer = setInterval(() => this.sendProgress(), 1000)
    this.touch()
  }

  /** Per-folder sync state with this peer, for `status`. */
  folderStates (): Array<{ folder: string, label: string, isInitialReceived: boolean, needFiles: number, needBytes: number, peerNeedFiles: number, peerNeedBytes: number }> {
    return [...this.links.values()].map(l => ({
      folder: l.folder.id,
      label: l.folder.label,
      isInitialReceived: l.isInitialReceived,
      needFiles: l.puller.needFiles,
      needBytes: l.puller.needBytes,
      peerNeedFiles: l.peerNeedFiles,
      peerNeedBytes: l.peerNeedBytes
    }))
  }

  /** What the peer sent for a folder and is not applied here yet (for `lansync plan`); undefined when the peer does not share it. */
  pendingRecords (folderId: string): { records: FileRecord[], isInitialReceived: boolean } | undefined {
    const link = this.links.get(folderId)
    return link === undefined ? undefined : { records: link.puller.pendingRecords(), isInitialReceived: link.isInitialReceived }
  }

  /**
   * Applies known versions of paths not held here (`lansync fetch`, a widened selection) as if
   * this peer had just sent them: their blocks come from this peer. Resolves when handled; a path
   * this peer cannot supply is reported as a problem of the folder.
   */
  async pullRecords (folderId: string, records: FileRecord[]): Promise<void> {
    const link = this.links.get(folderId)
    if (link === undefined || this.isClosed || records.length === 0) return
    await link.puller.enqueue(records)
  }

  /** Whether the peer shares `folderId` with this device on this connection. */
  isSharing (folderId: string): boolean { return this.links.has(folderId) && !this.isClosed }

  /** Pulls what this device knows of and holds now (after the selection widened or a rule was dropped). */
  private async pullHeldKnown (link: FolderLink): Promise<void> {
    if (this.isClosed) return
    const records = await link.runner.heldKnown()
    await this.pullRecords(link.folder.id, records)
  }

  /** Sends `close` with a reason, then ends the connection. Idempotent. */
  close (code: string, reason: string): void {
    if (this.isClosed) return
    try { this.conn.send(encodeFrame(encodeMessage({ type: 'close', code, reason } as Message))) } catch {}
    this.shutdown(`${code}: ${reason}`)
  }

  private shutdown (reason: string): void {
    if (this.isClosed) return
    this.isClosed = true
    clearInterval(this.pingTimer)
    clearInterval(this.progressTimer)
    clearTimeout(this.idleTimer)
    for (const link of this.links.values()) { link.sender?.close(); link.puller.close(); link.runner.off('heldChanged', link.onHeldChanged) }
    this.fetcher.close(new LansyncError('TRANSPORT_CLOSED', `connection to ${this.deviceId.slice(0, 7)} closed: ${reason}`))
    this.ended.abort()
    this.conn.close(reason)
    this.emit('close', reason)
  }

  private write (message: Message): boolean {
    if (this.isClosed) return false
    return this.conn.send(...encodeFrameParts(encodeMessageParts(message)))
  }

  private async writeAndDrain (message: Message): Promise<void> {
    if (!this.write(message) && !this.isClosed) await this.conn.waitDrain()
  }

  private touch (): void {
    clearTimeout(this.idleTimer)
    if (this.isClosed) return
    this.idleTimer = setTimeout(() => this.close('TRANSPORT_TIMEOUT', `nothing received for ${IDLE_TIMEOUT_MS / 1000} s`), IDLE_TIMEOUT_MS)
  }

  private onData (chunk: Uint8Array): void {
    if (this.isClosed) return
    this.touch()
    let messages: Message[]
    try {
      messages = this.decoder.push(chunk).map(frame => decodeMessage(frame))
    } catch (err) {
      this.fail(err)
      return
    }
    for (const message of messages) {
      try {
        this.handle(message)
      } catch (err) {
        this.fail(err)
        return
      }
    }
  }

  private fail (err: unknown): void {
    if (isLansyncError(err)) {
      this.ctx.log(`closing connection to ${this.deviceId.slice(0, 7)}: ${err.message}`)
      this.close(err.code, err.message)
    } else {
      this.ctx.log(`closing connection to ${this.deviceId.slice(0, 7)} after an internal error: ${(err as Error)?.stack ?? String(err)}`)
      this.close('INTERNAL', 'internal error')
    }
  }

  private handle (message: Message): void {
    if (!this.isHelloReceived && message.type !== 'hello') {
      throw new LansyncError('PROTOCOL_UNEXPECTED', `${message.type} before hello`)
    }
    switch (message.type) {
      case 'hello': return this.onHello(message)
      case 'manifest': return this.onRecords(message.folder, message.records, message.sequence, message.isLast, true)
      case 'update': return this.onRecords(message.folder, message.records, message.sequence, false, false)
      case 'request':
        if (this.requestQueue.length >= MAX_QUEUED_REQUESTS) throw new LansyncError('PROTOCOL_LIMIT', `the peer has more than ${MAX_QUEUED_REQUESTS} block requests unanswered`)
        this.requestQueue.push(message)
        this.serveQueued()
        return
      case 'response': return this.fetcher.onResponse(message.id, message.data, message.error, message.delta)
      case 'progress': {
        const link = this.linkFor(message.folder)
        link.peerNeedFiles = message.needFiles
        link.peerNeedBytes = message.needBytes
        return
      }
      case 'ping': return
      case 'close':
        this.ctx.log(`${this.deviceId.slice(0, 7)} closed the connection: ${message.code} ${message.reason}`)
        this.shutdown(`peer closed: ${message.reason}`)
    }
  }

  private onHello (hello: Extract<Message, { type: 'hello' }>): void {
    if (this.isHelloReceived) throw new LansyncError('PROTOCOL_UNEXPECTED', 'a second hello')
    if (hello.protocol !== PROTOCOL_VERSION) {
      throw new LansyncError('PROTOCOL_VERSION', `peer speaks protocol ${hello.protocol}, this device ${PROTOCOL_VERSION}`)
    }
    this.isHelloReceived = true
    this.peerName = hello.deviceName
    const local = new Map(this.ctx.sharedFolders(this.deviceId).map(x => [x.folder.id, x]))
    for (const offered of hello.folders) {
      const mine = local.get(offered.id)
      if (mine === undefined) { this.ctx.onOffer(this.deviceId, offered.id, offered.label); continue }
      const link: FolderLink = {
        folder: mine.folder,
        runner: mine.runner,
        puller: new Puller({
          runner: mine.runner,
          fetcher: this.fetcher,
          localDevice: this.ctx.localDevice,
          deviceLabel: this.ctx.deviceLabel,
          peerName: () => this.peerName !== '' ? this.peerName : this.deviceId.slice(0, 7),
          peer: this.peerShort,
          onRetried: () => { void this.acknowledge(offered.id).catch(err => { if (!this.isClosed) this.fail(err) }) }
        }),
        peerEpoch: offered.epoch,
        appliedSequence: 0,
        savedSequence: 0,
        isInitialReceived: false,
        peerNeedFiles: 0,
        peerNeedBytes: 0,
        onHeldChanged: () => { void this.pullHeldKnown(link).catch(err => { if (!this.isClosed) this.fail(err) }) }
      }
      this.links.set(offered.id, link)
      mine.runner.on('heldChanged', link.onHeldChanged)
      link.onHeldChanged()
      void this.startSending(link, offered.haveEpoch, offered.haveSequence)
    }
  }

  private async startSending (link: FolderLink, haveEpoch: string, haveSequence: number): Promise<void> {
    const meta = await this.ctx.store.folderMeta(link.folder.id)
    // The peer's sequence means something only for our current index epoch.
    const since = haveEpoch === meta.epoch && haveSequence <= meta.sequence ? haveSequence : 0
    const sender = new ManifestSender({
      runner: link.runner,
      store: this.ctx.store,
      sinceSequence: since,
      peer: this.peerShort,
      send: async (records, sequence, isInitial, isLast) => {
        const wire = records.map(toWireRecord)
        const message = isInitial
          ? { type: 'manifest', folder: link.folder.id, records: wire, sequence, isLast }
          : { type: 'update', folder: link.folder.id, records: wire, sequence }
        await this.writeAndDrain(message as Message)
      }
    })
    link.sender = sender
    await sender.start().catch(err => this.fail(err))
  }

  private linkFor (folderId: string): FolderLink {
    const link = this.links.get(folderId)
    if (link === undefined) throw new LansyncError('PEER_FOLDER_NOT_SHARED', `folder ${folderId} is not shared with this device`)
    return link
  }

  private onRecords (folderId: string, records: FileRecord[], sequence: number, isLast: boolean, isInitial: boolean): void {
    const link = this.linkFor(folderId)
    void link.puller.enqueue(records).then(async () => {
      if (this.isClosed) return // the agent may be closing its store; the peer resends from our last saved sequence
      if (sequence > link.appliedSequence) link.appliedSequence = sequence
      await this.acknowledge(folderId)
      if (isInitial && isLast) link.isInitialReceived = true
    }).catch(err => { if (!this.isClosed) this.fail(err) })
  }

  /** Saves how far the peer's manifest is applied: only below a record still to retry, so the peer sends it again after a reconnect. */
  private async acknowledge (folderId: string): Promise<void> {
    const link = this.links.get(folderId)
    if (link === undefined || this.isClosed) return
    // The folder's type changed since this session began (it is closing): what it read must not
    // count, so that the next session is sent everything again (see FolderRunner.settleType).
    if (link.folder.type !== link.runner.folder.type) return
    const failed = link.puller.lowestFailedSequence()
    const acknowledged = failed === undefined ? link.appliedSequence : Math.min(link.appliedSequence, failed - 1)
    if (acknowledged <= link.savedSequence) return
    const saved = link.savedSequence
    link.savedSequence = acknowledged
    try {
      await this.ctx.store.setPeerState(folderId, this.peerShort, { epoch: link.peerEpoch, sequence: acknowledged })
    } catch (err) {
      // The store cannot write (its disk is full): the peer's records are applied, so the next
      // acknowledgement saves this one too; until then a restart only makes the peer resend them.
      if (link.savedSequence === acknowledged) link.savedSequence = saved
      if (!isStoreWriteError(err)) throw err
    }
  }

  /**
   * Serves queued requests a few at a time: each waits on a store read, and reading the next
   * blocks while one is written keeps the connection busy (one at a time it idled between reads).
   * The queue only grows as fast as the peer's byte window allows; responses carry their request's id.
   */
  private serveQueued (): void {
    while (this.serving < MAX_CONCURRENT_SERVES && this.requestQueue.length > 0 && !this.isClosed) {
      const request = this.requestQueue.shift() as Extract<Message, { type: 'request' }>
      this.serving += 1
      this.serve(request)
        .catch(err => this.fail(err))
        .finally(() => { this.serving -= 1; this.serveQueued() })
    }
  }

  private async serve (request: Extract<Message, { type: 'request' }>): Promise<void> {
    const link = this.linkFor(request.folder)
    const isListed = await link.runner.servable.has(request.path, Buffer.from(request.hash).toString('hex'))
    // Only blocks of what this folder holds now are served: a peer reads nothing it was not given.
    const data = isListed ? await this.ctx.store.getBlock(request.hash) : undefined
    if (data === undefined) {
      await this.writeAndDrain({ type: 'response', id: request.id, error: 'NOT_AVAILABLE' } as Message)
      return
    }
    crashPoint('serve:block')
    // An edit of a block the peer holds goes as a delta against it when that is less than half
    // the block: the pieces of its base found in the block, and the bytes in between.
    const delta = request.base === undefined ? undefined : deltaAgainst(data, request.base)
    const isDelta = delta !== undefined && deltaCostBytes(delta) <= data.byteLength / 2 // undefined: the search gave up
    const sentBytes = isDelta ? deltaLiteralBytes(delta) : data.byteLength
    if (this.ctx.bandwidth !== undefined && sentBytes > 0) {
      try {
        await this.ctx.bandwidth.acquireSend(this.deviceId, sentBytes, this.ended.signal)
      } catch (err) {
        if (this.isClosed) return
        throw err
      }
    }
    this.blockBytesSent += sentBytes
    await this.writeAndDrain((isDelta ? { type: 'response', id: request.id, delta } : { type: 'response', id: request.id, data }) as Message)
  }

  private readonly lastProgress = new Map<string, string>()
  /** Tells the peer how far behind we are, when that changed. */
  private sendProgress (): void {
    for (const link of this.links.values()) {
      const text = `${link.puller.needFiles}:${link.puller.needBytes}:${link.appliedSequence}`
      if (text === this.lastProgress.get(link.folder.id)) continue
      this.lastProgress.set(link.folder.id, text)
      this.write({ type: 'progress', folder: link.folder.id, needFiles: link.puller.needFiles, needBytes: link.puller.needBytes, sequence: link.appliedSequence } as Message)
    }
  }
}

function toWireRecord (r: StoredRecord): FileRecord {
  const { inode: _inode, ...record } = r
  return record
}
