// The device that printed a pairing code: a small TCP listener, open only while its window is,
// that runs the responder's side of the pairing exchange (protocol.md section 8). Single use,
// time-limited, one attempt at a time, and every wrong code costs the guesser a delay and one of a
// few attempts; the window closes after the first success, the last wrong code, or its deadline.
import { EventEmitter } from 'node:events'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { LansyncError, isLansyncError } from '../errors.js'
import { PairingPake, SCALAR_RANDOM_BYTES, isSameTag } from '../core/pake.js'
import type { PairingCode } from '../core/pairing-code.js'
import { encodeDeviceId } from '../core/device-id.js'
import { decodeDeviceInfo, encodeDeviceInfo, type DeviceInfo } from '../protocol/pairing.js'
import { PairingChannel } from './pairing-channel.js'
import { formatAddress } from './transport.js'

export const DEFAULT_WINDOW_MS = 120_000
export const DEFAULT_MAX_WRONG_CODES = 5
export const DEFAULT_WRONG_CODE_DELAY_MS = 1_000
export const DEFAULT_STEP_TIMEOUT_MS = 10_000
/** Connections held at once; more are closed on accept (only one runs the exchange at a time). */
const MAX_CONNECTIONS = 8

export interface PairedDevice {
  deviceId: string
  info: DeviceInfo
  /** The address the other device connected from (IPv4-mapped IPv6 unwrapped). */
  remoteHost: string
}

export type WindowEnd = 'paired' | 'expired' | 'too-many-wrong-codes' | 'cancelled' | 'failed'

export interface PairingWindowEvents {
  /** A device sent a wrong code; `attemptsLeft` more are accepted. */
  'wrong-code': [{ remoteAddress: string, attemptsLeft: number }]
  /** An attempt ended without pairing for another reason (timeout, closed connection, bad message). */
  'attempt-failed': [{ remoteAddress: string, reason: string }]
  /** The window closed; `paired` carries the device. */
  closed: [{ reason: WindowEnd, device?: PairedDevice, error?: LansyncError }]
}

export interface PairingWindowOptions {
  code: PairingCode
  /** This device's public key, name, sync port and offered folders. */
  self: DeviceInfo
  durationMs?: number
  maxWrongCodes?: number
  wrongCodeDelayMs?: number
  stepTimeoutMs?: number
  /**
   * Records the other device (adds it to the config) before this side confirms; a throw fails the
   * attempt and closes the window with that error.
   */
  commit: (device: PairedDevice) => Promise<void>
  random?: (bytes: number) => Uint8Array
  now?: () => number
}

export class PairingWindow extends EventEmitter<PairingWindowEvents> {
  readonly code: PairingCode
  readonly expiresMs: number
  private readonly self: DeviceInfo
  private readonly selfInfo: Buffer
  private readonly maxWrongCodes: number
  private readonly wrongCodeDelayMs: number
  private readonly stepTimeoutMs: number
  private readonly commit: (device: PairedDevice) => Promise<void>
  private readonly random: (bytes: number) => Uint8Array
  private readonly server = net.createServer(socket => this.accept(socket))
  private readonly sockets = new Set<net.Socket>()
  private expiryTimer: NodeJS.Timeout | undefined
  private wrongCodes = 0
  private isBusy = false
  private isCommitting = false
  private ended: WindowEnd | undefined
  private readonly done: Promise<PairedDevice>
  private settle!: { resolve: (d: PairedDevice) => void, reject: (e: LansyncError) => void }
  address: { host: string, port: number } | undefined

  constructor ({
    code, self, durationMs = DEFAULT_WINDOW_MS, maxWrongCodes = DEFAULT_MAX_WRONG_CODES, wrongCodeDelayMs = DEFAULT_WRONG_CODE_DELAY_MS,
    stepTimeoutMs = DEFAULT_STEP_TIMEOUT_MS, commit, random = n => randomBytes(n), now = Date.now
  }: PairingWindowOptions) {
    super()
    this.code = code
    this.self = self
    this.selfInfo = encodeDeviceInfo(self)
    this.expiresMs = now() + durationMs
    this.maxWrongCodes = maxWrongCodes
    this.wrongCodeDelayMs = wrongCodeDelayMs
    this.stepTimeoutMs = stepTimeoutMs
    this.commit = commit
    this.random = random
    this.done = new Promise((resolve, reject) => { this.settle = { resolve, reject } })
    this.done.catch(() => {}) // observed through result()
    this.server.maxConnections = MAX_CONNECTIONS
    this.expiryTimer = setTimeout(() => this.expire(), durationMs)
  }

  /** Opens the listener (port 0: any free port). */
  async listen (host: string, port = 0): Promise<{ host: string, port: number }> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', err => reject(new LansyncError('TRANSPORT_LISTEN', `cannot open the pairing window on ${formatAddress(host, port)}: ${err.message}`, { cause: err })))
      this.server.listen({ host, port }, () => resolve())
    })
    const bound = this.server.address() as net.AddressInfo
    this.address = { host: bound.address, port: bound.port }
    return this.address
  }

  /** Settles when the window closes: the paired device, or PAIR_EXPIRED / PAIR_RATE_LIMITED / PAIR_CANCELLED. */
  async result (): Promise<PairedDevice> { return await this.done }

  get isOpen (): boolean { return this.ended === undefined }

  /** Closes the window without pairing (the person gave up). Idempotent. */
  close (): void {
    this.end('cancelled', undefined, new LansyncError('PAIR_CANCELLED', 'the pairing window was closed before a device paired'))
  }

  private expire (): void {
    if (this.isCommitting) return // a device proved the code just in time; let it finish
    this.end('expired', undefined, new LansyncError('PAIR_EXPIRED', 'the pairing window expired before another device entered the code; run `lansync pair` again for a new code'))
  }

  /** `keep`: the attempt's socket, still flushing its last message. */
  private end (reason: WindowEnd, device?: PairedDevice, error?: LansyncError, keep?: net.Socket): void {
    if (this.ended !== undefined) return
    this.ended = reason
    clearTimeout(this.expiryTimer)
    this.server.close()
    for (const socket of this.sockets) if (socket !== keep) socket.destroy()
    if (device !== undefined) this.settle.resolve(device)
    else this.settle.reject(error ?? new LansyncError('PAIR_CANCELLED', 'the pairing window closed'))
    this.emit('closed', { reason, device, error })
  }

  private accept (socket: net.Socket): void {
    if (this.ended !== undefined) { socket.destroy(); return }
    this.sockets.add(socket)
    socket.once('close', () => this.sockets.delete(socket))
    const channel = new PairingChannel(socket)
    const remoteAddress = formatAddress(unmapIpv4(socket.remoteAddress ?? '?'), socket.remotePort ?? 0)
    if (this.isBusy) {
      channel.finish({ type: 'pairFail', code: 'PAIR_BUSY', reason: 'another device is trying a code on this pairing window right now; try again in a few seconds' })
      return
    }
    this.isBusy = true
    void this.attempt(channel, remoteAddress).finally(() => { this.isBusy = false })
  }

  /** One attempt: start → share → confirm → (check, commit) → accept, or a fail with why. */
  private async attempt (channel: PairingChannel, remoteAddress: string): Promise<void> {
    try {
      const start = await channel.receive('pairStart', this.stepTimeoutMs)
      if (start.type !== 'pairStart') throw new LansyncError('PROTOCOL_UNEXPECTED', `expected pairStart, got ${start.type}`)
      const pake = new PairingPake({ role: 'responder', secret: this.code.secret, sid: start.sid, scalarBytes: this.scalarBytes() })
      pake.receiveShare(start.share)
      channel.send({ type: 'pairShare', share: pake.share })
      const confirm = await channel.receive('pairConfirm', this.stepTimeoutMs)
      if (confirm.type !== 'pairConfirm') throw new LansyncError('PROTOCOL_UNEXPECTED', `expected pairConfirm, got ${confirm.type}`)
      if (!isSameTag(pake.initiatorTag(confirm.info), confirm.tag)) {
        await this.wrongCode(channel, remoteAddress)
        return
      }
      const info = decodeDeviceInfo(confirm.info)
      if (Buffer.from(info.key).equals(Buffer.from(this.self.key))) throw new LansyncError('PAIR_REJECTED', 'the code was typed on this same device; type it on the other device')
      if (this.ended !== undefined) throw new LansyncError('PAIR_EXPIRED', 'the pairing window closed during the attempt')
      const device: PairedDevice = { deviceId: encodeDeviceId(info.key), info, remoteHost: unmapIpv4(channel.socket.remoteAddress ?? '') }
      this.isCommitting = true
      try {
        await this.commit(device)
      } catch (err) {
        const error = isLansyncError(err) ? err : new LansyncError('CONTROL_FAILED', `could not record the paired device: ${(err as Error).message}`, { cause: err })
        channel.finish({ type: 'pairFail', code: 'INTERNAL', reason: 'the other device could not record the pairing' })
        this.end('failed', undefined, error, channel.socket)
        return
      }
      channel.finish({ type: 'pairAccept', info: this.selfInfo, tag: pake.responderTag(confirm.info, confirm.tag, this.selfInfo) })
      this.end('paired', device, undefined, channel.socket)
    } catch (err) {
      const error = isLansyncError(err) ? err : new LansyncError('PROTOCOL_DECODE', (err as Error).message)
      channel.finish({ type: 'pairFail', code: /^[A-Z][A-Z0-9_]{0,63}$/.test(error.code) ? error.code : 'INTERNAL', reason: error.message.slice(0, 1000) })
      if (this.ended === undefined) this.emit('attempt-failed', { remoteAddress, reason: error.message })
    }
  }

  /** A wrong code: counted, answered only after a delay, and the last one closes the window. */
  private async wrongCode (channel: PairingChannel, remoteAddress: string): Promise<void> {
    this.wrongCodes += 1
    const attemptsLeft = Math.max(0, this.maxWrongCodes - this.wrongCodes)
    this.emit('wrong-code', { remoteAddress, attemptsLeft })
    if (attemptsLeft === 0) {
      channel.finish({ type: 'pairFail', code: 'PAIR_RATE_LIMITED', reason: `wrong pairing code; that was the last of ${this.maxWrongCodes} attempts and the pairing window is closed`, attemptsLeft })
      this.end('too-many-wrong-codes', undefined, new LansyncError('PAIR_RATE_LIMITED', `${this.maxWrongCodes} wrong pairing codes were tried, so the pairing window closed; run \`lansync pair\` again for a new code`), channel.socket)
      return
    }
    await new Promise(resolve => setTimeout(resolve, this.wrongCodeDelayMs))
    channel.finish({ type: 'pairFail', code: 'PAIR_REJECTED', reason: `wrong pairing code (${attemptsLeft} attempt${attemptsLeft === 1 ? '' : 's'} left)`, attemptsLeft })
  }

  private scalarBytes (): Uint8Array {
    // A zero scalar (after masking) has probability 2^-252; draw again rather than fail.
    for (;;) {
      const bytes = this.random(SCALAR_RANDOM_BYTES)
      if (bytes.some((b, i) => (i === 31 ? b & 0x0f : b) !== 0)) return bytes
    }
  }
}

/** `::ffff:10.0.0.2` → `10.0.0.2`, so that addresses stored for dialing look like what people type. */
export function unmapIpv4 (address: string): string {
  return address.startsWith('::ffff:') && net.isIPv4(address.slice(7)) ? address.slice(7) : address
}
