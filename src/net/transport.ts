// TCP listen/dial wrapped in @hyperswarm/secret-stream (Noise over the device keys). Owns who may
// talk to us: the remote static key is checked before any application byte is decrypted, sockets
// still authenticating are capped and timed out, and each accepted socket becomes a Connection.
import { EventEmitter } from 'node:events'
import net from 'node:net'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import { LansyncError } from '../errors.js'

/**
 * Noise XK: the dialer names the device it wants (its key is pre-shared), and the first message is
 * encrypted to that key, so a different device at the address cannot complete the handshake and
 * never learns who is dialing (the dialer's static key is sent only after the responder proved its
 * own). The responder learns the dialer's key in the last message and checks it before any data.
 */
const NOISE_PATTERN = 'XK'
/**
 * Handshake messages are under 100 bytes; secret-stream would otherwise trust a 24-bit length prefix
 * from an unauthenticated peer and allocate up to 16 MiB for it.
 */
const MAX_HANDSHAKE_MESSAGE_BYTES = 1024
/**
 * Raw secret-stream messages to watch before the peer counts as accepted. Responder: Noise
 * messages 1 and 3. Dialer: Noise message 2, then the responder's stream header, which the
 * responder writes only after its key check passed; waiting for it makes a refused dial fail
 * instead of resolving a connection the other side is about to drop.
 */
const GUARDED_MESSAGES_RESPONDER = 2
const GUARDED_MESSAGES_DIALER = 2
const KEEPALIVE_INITIAL_DELAY_MS = 15_000
/** How long close() lets queued bytes flush and the peer finish before the socket is destroyed. */
const CLOSE_GRACE_MS = 2_000
/**
 * Largest plaintext per secret-stream message; bigger sends are split without copying (our data
 * is a byte stream; the frame layer does not rely on message boundaries). The receiver decrypts a
 * message only once all of it arrived, copying it together when it spans socket reads: messages
 * well under a 64 KiB read mostly avoid that copy. Measured over loopback between two processes,
 * 16 KiB gave ~450 MB/s against ~250-350 MB/s for 256 KiB-1 MiB; the overhead is 20 bytes each.
 */
const MAX_MESSAGE_BYTES = 16 * 1024
const PUBLIC_KEY_BYTES = 32
const SECRET_KEY_BYTES = 64

export interface KeyPair {
  /** ed25519 public key, 32 bytes: the device ID's key. */
  publicKey: Uint8Array
  /** ed25519 secret key, 64 bytes. */
  secretKey: Uint8Array
}

export interface TransportOptions {
  keyPair: KeyPair
  /** Whether a remote static key may talk to us; asked once per socket, before any data is read. */
  isAllowed: (remotePublicKey: Uint8Array) => boolean
  /** Time allowed from accept (or from dialing) until the peer is authenticated. */
  handshakeTimeoutMs?: number
  /** Inbound sockets allowed to be mid-handshake at once; more are closed on accept. */
  maxUnauthenticated?: number
  log?: (message: string) => void
}

export type RejectKind = 'unknown-key' | 'timeout' | 'handshake' | 'busy'

export interface RejectedInfo {
  remoteAddress: string
  kind: RejectKind
  reason: string
  /** Set when the handshake got far enough to learn the remote key. */
  remotePublicKey?: Buffer
}

interface TransportEvents {
  connection: [Connection]
  rejected: [RejectedInfo]
}

export class Transport extends EventEmitter<TransportEvents> {
  private readonly keyPair: KeyPair
  private readonly isAllowed: (remotePublicKey: Uint8Array) => boolean
  private readonly handshakeTimeoutMs: number
  private readonly maxUnauthenticated: number
  private readonly log: (message: string) => void
  private server: net.Server | undefined
  /** Inbound sockets accepted but not yet authenticated (the capped set). */
  private readonly unauthenticated = new Set<net.Socket>()
  /** Outbound sockets mid-connect or mid-handshake, so close() can end them. */
  private readonly dialing = new Set<net.Socket>()
  private readonly connections = new Set<Connection>()
  private closing: Promise<void> | undefined

  constructor (options: TransportOptions) {
    super()
    const { keyPair, isAllowed, handshakeTimeoutMs = 10_000, maxUnauthenticated = 64, log = () => {} } = options
    if (keyPair.publicKey.byteLength !== PUBLIC_KEY_BYTES || keyPair.secretKey.byteLength !== SECRET_KEY_BYTES) {
      throw new TypeError('keyPair must be an ed25519 key pair (32-byte public key, 64-byte secret key)')
    }
    this.keyPair = keyPair
    this.isAllowed = isAllowed
    this.handshakeTimeoutMs = handshakeTimeoutMs
    this.maxUnauthenticated = maxUnauthenticated
    this.log = log
  }

  get isClosed (): boolean { return this.closing !== undefined }

  /** Connections authenticated and still open, accepted or dialed. */
  get openConnections (): number { return this.connections.size }

  /** Starts accepting connections. Port 0 picks a free port; the bound address is returned. */
  async listen (host: string, port: number): Promise<{ host: string, port: number }> {
    if (this.isClosed) throw new LansyncError('TRANSPORT_CLOSED', 'the transport is closed')
    if (this.server !== undefined) throw new LansyncError('TRANSPORT_LISTEN', 'the transport is already listening')
    const server = net.createServer({ noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_INITIAL_DELAY_MS })
    server.on('connection', socket => this.accept(socket))
    this.server = server
    await new Promise<void>((resolve, reject) => {
      const onError = (err: NodeJS.ErrnoException): void => {
        this.server = undefined
        const why = err.code === 'EADDRINUSE'
          ? 'the address is already in use (is another agent running?)'
          : err.code === 'EADDRNOTAVAIL' ? 'no interface on this machine has that address' : err.message
        reject(new LansyncError('TRANSPORT_LISTEN', `cannot listen on ${formatAddress(host, port)}: ${why}`, { cause: err }))
      }
      server.once('error', onError)
      server.listen(port, host, () => { server.off('error', onError); resolve() })
    })
    server.on('error', err => this.log(`listener error: ${err.message}`))
    if (this.isClosed) { // close() ran while binding and could not stop a server not yet listening
      server.close()
      throw new LansyncError('TRANSPORT_CLOSED', 'the transport closed while starting to listen')
    }
    const address = server.address() as net.AddressInfo
    return { host: address.address, port: address.port }
  }

  /**
   * Connects to the device whose key is `expectedPublicKey`. Resolves once both ends accepted:
   * a different device at the address, or one that does not know us, fails with TRANSPORT_HANDSHAKE.
   */
  async dial (host: string, port: number, expectedPublicKey: Uint8Array): Promise<Connection> {
    if (this.isClosed) throw new LansyncError('TRANSPORT_CLOSED', 'the transport is closed')
    if (expectedPublicKey.byteLength !== PUBLIC_KEY_BYTES) throw new TypeError('expectedPublicKey must be 32 bytes')
    if (!this.isAllowed(expectedPublicKey)) {
      throw new LansyncError('PEER_UNKNOWN', 'refusing to dial a device that is not paired')
    }
    const address = formatAddress(host, port)
    const socket = net.connect({ host, port, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_INITIAL_DELAY_MS })
    this.dialing.add(socket)
    try {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          socket.destroy()
          reject(new LansyncError('TRANSPORT_TIMEOUT', `connecting to ${address} timed out after ${this.handshakeTimeoutMs} ms`))
        }, this.handshakeTimeoutMs)
        socket.once('connect', () => { clearTimeout(timer); socket.off('close', onClose); resolve() })
        socket.once('error', err => { clearTimeout(timer); reject(new LansyncError('TRANSPORT_CLOSED', `cannot connect to ${address}: ${err.message}`, { cause: err })) })
        const onClose = (): void => { clearTimeout(timer); reject(new LansyncError('TRANSPORT_CLOSED', `cannot connect to ${address}: the transport closed`)) }
        socket.once('close', onClose)
      })
      const conn = await this.secure(socket, address, { isInitiator: true, expectedPublicKey })
      if (this.isClosed) {
        conn.destroy('the transport closed')
        throw new LansyncError('TRANSPORT_CLOSED', 'the transport closed while dialing')
      }
      this.track(conn)
      return conn
    } catch (err) {
      socket.destroy()
      if (this.isClosed) throw new LansyncError('TRANSPORT_CLOSED', 'the transport closed while dialing', { cause: err })
      throw err
    } finally {
      this.dialing.delete(socket)
    }
  }

  /** Stops listening and destroys every connection, authenticated or not. Idempotent. */
  async close (): Promise<void> {
    if (this.closing !== undefined) return await this.closing
    this.closing = (async () => {
      const server = this.server
      const stopped = server === undefined ? Promise.resolve() : new Promise<void>(resolve => server.close(() => resolve()))
      for (const socket of [...this.unauthenticated, ...this.dialing]) socket.destroy()
      for (const conn of [...this.connections]) conn.destroy('the transport closed')
      await stopped
    })()
    return await this.closing
  }

  private accept (socket: net.Socket): void {
    const remoteAddress = formatAddress(socket.remoteAddress ?? '?', socket.remotePort ?? 0)
    if (this.isClosed) { socket.destroy(); return }
    if (this.unauthenticated.size >= this.maxUnauthenticated) {
      socket.destroy()
      this.reject({ remoteAddress, kind: 'busy', reason: `${this.unauthenticated.size} connections are already authenticating` })
      return
    }
    this.unauthenticated.add(socket)
    this.secure(socket, remoteAddress, { isInitiator: false }).then(conn => {
      this.unauthenticated.delete(socket)
      if (this.isClosed) { conn.destroy('the transport closed'); return }
      this.track(conn)
      this.emit('connection', conn)
    }, (err: LansyncError & { remotePublicKey?: Buffer }) => {
      this.unauthenticated.delete(socket)
      socket.destroy()
      if (this.isClosed) return
      const kind: RejectKind = err.code === 'PEER_UNKNOWN' ? 'unknown-key' : err.code === 'TRANSPORT_TIMEOUT' ? 'timeout' : 'handshake'
      this.reject({ remoteAddress, kind, reason: err.message, remotePublicKey: err.remotePublicKey })
    })
  }

  private reject (info: RejectedInfo): void {
    this.log(`refused ${info.remoteAddress}: ${info.reason}`)
    this.emit('rejected', info)
  }

  private track (conn: Connection): void {
    this.connections.add(conn)
    conn.once('close', () => this.connections.delete(conn))
  }

  /**
   * Runs the Noise handshake on a connected socket. Settles with a Connection once the peer is
   * authenticated, or rejects (the socket destroyed) with TRANSPORT_HANDSHAKE, TRANSPORT_TIMEOUT or
   * PEER_UNKNOWN; a PEER_UNKNOWN error carries the refused `remotePublicKey`.
   */
  private async secure (socket: net.Socket, remoteAddress: string, role: { isInitiator: true, expectedPublicKey: Uint8Array } | { isInitiator: false }): Promise<Connection> {
    return await new Promise<Connection>((resolve, reject) => {
      let failure: LansyncError | undefined
      let isOpened = false
      let isAccepted = false
      let isSettled = false
      const stream = new NoiseSecretStream(role.isInitiator, socket, {
        pattern: NOISE_PATTERN,
        keyPair: this.keyPair,
        remotePublicKey: role.isInitiator ? role.expectedPublicKey : undefined
      })
      const fail = (err: LansyncError): void => {
        failure ??= err
        stream.destroy()
      }
      const guard = guardHandshakeMessages(socket, role.isInitiator ? GUARDED_MESSAGES_DIALER : GUARDED_MESSAGES_RESPONDER, {
        onOversized: lengthBytes => fail(new LansyncError('TRANSPORT_HANDSHAKE', `not a lansync handshake: a handshake message claims ${lengthBytes} bytes`)),
        onComplete: () => { isAccepted = true; settle() }
      })
      const timer = setTimeout(() => fail(new LansyncError('TRANSPORT_TIMEOUT', `no handshake within ${this.handshakeTimeoutMs} ms`)), this.handshakeTimeoutMs)
      const onError = (err: Error): void => {
        failure ??= new LansyncError('TRANSPORT_HANDSHAKE', `handshake failed: ${err.message}`, { cause: err })
      }
      // 'handshake' is emitted synchronously inside secret-stream's read loop, before the stream
      // header and any data message after it are decrypted; destroying here stops that loop.
      const onHandshake = (): void => {
        const remoteKey = stream.remotePublicKey
        if (remoteKey === null) { fail(new LansyncError('TRANSPORT_HANDSHAKE', 'handshake finished without a remote key')); return }
        if (role.isInitiator) {
          if (!Buffer.from(remoteKey).equals(Buffer.from(role.expectedPublicKey))) {
            fail(new LansyncError('TRANSPORT_HANDSHAKE', 'the device at this address has a different key'))
          }
        } else if (!this.isAllowed(remoteKey)) {
          const err = new LansyncError('PEER_UNKNOWN', 'the remote device key is not paired with this device') as LansyncError & { remotePublicKey?: Buffer }
          err.remotePublicKey = Buffer.from(remoteKey)
          fail(err)
        }
      }
      const onClose = (): void => {
        cleanup()
        if (isSettled) return
        isSettled = true
        reject(failure ?? new LansyncError('TRANSPORT_HANDSHAKE', role.isInitiator
          ? `${remoteAddress} closed the connection during the handshake (a different device, or one that has not paired this device)`
          : 'the connection closed during the handshake'))
      }
      const cleanup = (): void => {
        clearTimeout(timer)
        guard.remove()
        stream.off('error', onError)
        stream.off('handshake', onHandshake)
        stream.off('close', onClose)
      }
      const settle = (): void => {
        if (isSettled || !isOpened || !isAccepted || failure !== undefined || stream.destroying) return
        isSettled = true
        cleanup()
        resolve(new Connection(stream, remoteAddress, socket.localAddress))
      }
      stream.on('error', onError)
      stream.on('handshake', onHandshake)
      stream.on('close', onClose)
      void stream.opened.then(isOpen => {
        isOpened = isOpen
        if (!role.isInitiator) isAccepted = true
        settle()
      })
    })
  }
}

/**
 * Watches the raw bytes of the first `count` secret-stream messages (each a 24-bit little-endian
 * length, then that many bytes) and reports an oversized or empty one before secret-stream
 * allocates a buffer for it. The watcher is put in front of secret-stream's own reader the moment
 * that reader is attached, so it sees every byte first and in order.
 */
function guardHandshakeMessages (socket: net.Socket, count: number, handlers: { onOversized: (lengthBytes: number) => void, onComplete: () => void }): { remove: () => void } {
  let messagesLeft = count
  let prefixBytes = 0
  let length = 0
  let bodyLeft = 0
  const onData = (chunk: Buffer): void => {
    let offset = 0
    while (messagesLeft > 0 && offset < chunk.byteLength) {
      if (bodyLeft > 0) {
        const n = Math.min(bodyLeft, chunk.byteLength - offset)
        bodyLeft -= n
        offset += n
        if (bodyLeft === 0 && --messagesLeft === 0) { remove(); handlers.onComplete(); return }
        continue
      }
      length += chunk[offset++] * 2 ** (8 * prefixBytes)
      if (++prefixBytes < 3) continue
      if (length === 0 || length > MAX_HANDSHAKE_MESSAGE_BYTES) { remove(); handlers.onOversized(length); return }
      bodyLeft = length
      prefixBytes = 0
      length = 0
    }
  }
  const onNewListener = (event: string | symbol): void => {
    if (event !== 'data') return
    socket.off('newListener', onNewListener)
    socket.prependListener('data', onData)
  }
  const remove = (): void => {
    socket.off('newListener', onNewListener)
    socket.off('data', onData)
  }
  socket.on('newListener', onNewListener)
  return { remove }
}

interface ConnectionEvents {
  /** Decrypted application bytes, in order; chunk boundaries carry no meaning. */
  data: [Buffer]
  /** The send buffer fell below its high-water mark after send() returned false. */
  drain: []
  /** Emitted once, with our reason if we closed it, else why it ended. */
  close: [string]
}

/** How a connection reached us: TCP from the transport here, or a hyperswarm (DHT) connection. */
export type ConnectionVia = 'lan' | 'wan'

/**
 * One authenticated, encrypted byte stream to a known device. Reading starts when the first 'data'
 * listener is attached (bytes wait, with backpressure on the socket, until then).
 */
export class Connection extends EventEmitter<ConnectionEvents> {
  readonly remotePublicKey: Buffer
  /** `host:port` of the other end, for logs and status. */
  readonly remoteAddress: string
  /** Our IP address on this connection (no port), or '' if unknown. */
  readonly localAddress: string
  readonly isInitiator: boolean
  readonly via: ConnectionVia
  /** Application bytes handed to send() / delivered as 'data' (not counting encryption overhead). */
  bytesSent = 0
  bytesReceived = 0
  private readonly stream: NoiseSecretStream
  private isReading = false
  private isDraining = false
  private isClosing = false
  private isClosed = false
  private closeReason: string | undefined
  private errorReason: string | undefined
  private graceTimer: NodeJS.Timeout | undefined

  /**
   * Built by Transport (or the WAN swarm, whose connections are NoiseSecretStreams too) once the
   * handshake and the key check passed. An empty `localAddress` skips the vanished-address check.
   */
  constructor (stream: NoiseSecretStream, remoteAddress: string, localAddress = '', via: ConnectionVia = 'lan') {
    super()
    if (stream.remotePublicKey === null) throw new TypeError('the stream has not finished its handshake')
    this.stream = stream
    this.remotePublicKey = Buffer.from(stream.remotePublicKey)
    this.remoteAddress = remoteAddress
    this.localAddress = localAddress.replace(/^::ffff:(?=\d+\.)/, '')
    this.isInitiator = stream.isInitiator
    this.via = via
    stream.on('error', (err: Error) => { this.errorReason ??= err.message })
    // The peer finished sending: finish our side too, so the stream closes on both ends.
    stream.on('end', () => stream.end())
    stream.on('drain', () => {
      if (!this.isDraining) return
      this.isDraining = false
      this.emit('drain')
    })
    stream.on('close', () => this.finish())
    ;(this as EventEmitter).on('newListener', (event: string | symbol) => {
      if (event === 'data') this.startReading()
    })
  }

  /** True from close()/destroy() or the stream ending until forever. */
  get isOpen (): boolean { return !this.isClosing && !this.isClosed }

  /**
   * Queues bytes for sending, given as one buffer or several to send one after another; they must
   * not be modified afterwards. Returns false when the send buffer is full: wait for 'drain' (or
   * waitDrain()) before sending more. A closed connection drops the bytes and returns false; its
   * 'close' event tells why.
   */
  send (...parts: Uint8Array[]): boolean {
    if (!this.isOpen) return false
    let isBelowMark = true
    // The bytes are the parts' concatenation. Pieces of a part go out as they are (secret-stream
    // copies each message once, as it encrypts it); only pieces too small to fill a message
    // (headers, small payloads) are gathered into one, so a block never costs a copy here.
    let gathered: Uint8Array[] = []
    let gatheredBytes = 0
    const flush = (): void => {
      if (gatheredBytes > 0) isBelowMark = this.stream.write(gathered.length === 1 ? gathered[0] : Buffer.concat(gathered, gatheredBytes))
      gathered = []
      gatheredBytes = 0
    }
    for (const part of parts) {
      for (let offset = 0; offset < part.byteLength; offset += MAX_MESSAGE_BYTES) {
        const piece = part.subarray(offset, offset + MAX_MESSAGE_BYTES)
        if (gatheredBytes + piece.byteLength > MAX_MESSAGE_BYTES) flush()
        gathered.push(piece)
        gatheredBytes += piece.byteLength
        this.bytesSent += piece.byteLength
      }
    }
    flush()
    if (!isBelowMark) this.isDraining = true
    return isBelowMark
  }

  /** Resolves when the send buffer has room; rejects with TRANSPORT_CLOSED if the connection closes first. */
  async waitDrain (): Promise<void> {
    if (!this.isOpen) throw new LansyncError('TRANSPORT_CLOSED', `the connection to ${this.remoteAddress} is closed`)
    if (!this.isDraining) return
    // One wait per full buffer, shared by every sender waiting on it: a listener pair each made
    // a dozen blocks being served at once trip node's "possible EventEmitter memory leak" warning.
    this.drained ??= new Promise<void>((resolve, reject) => {
      const onDrain = (): void => { this.off('close', onClose); this.drained = undefined; resolve() }
      const onClose = (reason: string): void => {
        this.off('drain', onDrain)
        this.drained = undefined
        reject(new LansyncError('TRANSPORT_CLOSED', `the connection to ${this.remoteAddress} closed: ${reason}`))
      }
      this.once('drain', onDrain)
      this.once('close', onClose)
    })
    await this.drained
  }

  /** The wait of waitDrain while the send buffer is full. */
  private drained: Promise<void> | undefined

  /**
   * Ends the connection: bytes already sent are flushed, nothing more is delivered as 'data', and
   * the socket is destroyed if the peer has not closed within a grace period. Idempotent.
   */
  close (reason = 'closed locally'): void {
    if (!this.isOpen) return
    this.isClosing = true
    this.closeReason = reason
    this.startReading() // so the peer's end-of-stream is seen and the socket can close
    this.stream.end()
    this.graceTimer = setTimeout(() => this.stream.destroy(), CLOSE_GRACE_MS)
    this.graceTimer.unref()
  }

  /** Ends the connection at once, dropping anything not yet sent. Idempotent. */
  destroy (reason = 'destroyed locally'): void {
    if (this.isClosed) return
    this.isClosing = true
    this.closeReason ??= reason
    this.stream.destroy()
  }

  private startReading (): void {
    if (this.isReading) return
    this.isReading = true
    this.stream.on('data', (chunk: Buffer) => {
      if (this.isClosing) return
      this.bytesReceived += chunk.byteLength
      this.emit('data', chunk)
    })
  }

  private finish (): void {
    if (this.isClosed) return
    this.isClosed = true
    this.isClosing = true
    clearTimeout(this.graceTimer)
    this.emit('close', this.closeReason ?? (this.errorReason !== undefined ? `connection lost: ${this.errorReason}` : 'closed by the peer'))
  }
}

/** `host:port`, with brackets around IPv6 hosts. */
export function formatAddress (host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`
}
