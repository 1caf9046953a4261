// Waits for a bandwidth limit: transfers queue first come first served and go when the token
// bucket has room. `Bandwidth` holds the limits of this device: one pair (send, receive) shared
// by all sessions, and one pair per paired device; a transfer waits for both.
import { TokenBucket } from '../core/token-bucket.js'
import { LansyncError } from '../errors.js'

interface Waiter { bytes: number, resolve: () => void, reject: (err: Error) => void, signal?: AbortSignal, onAbort?: () => void }

export class RateLimiter {
  private readonly bucket: TokenBucket
  private readonly now: () => number
  private readonly queue: Waiter[] = []
  private timer: NodeJS.Timeout | undefined

  constructor (rateBps = 0, now: () => number = Date.now) {
    this.now = now
    this.bucket = new TokenBucket(rateBps, now())
  }

  /** Bytes per second; 0: no limit. */
  get rateBps (): number { return this.bucket.rateBps }

  /** Applies at once, to the transfers already waiting too. */
  setRate (rateBps: number): void {
    if (rateBps === this.bucket.rateBps) return
    this.bucket.setRate(rateBps, this.now())
    this.pump()
  }

  /**
   * Resolves when `bytes` may be transferred under the limit; rejects with TRANSPORT_CLOSED when
   * `signal` aborts first (the connection went), and then takes nothing.
   */
  async acquire (bytes: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted === true) throw closedError()
    if (this.queue.length === 0 && this.bucket.waitMs(bytes, this.now()) === 0) {
      this.bucket.take(bytes, this.now())
      return
    }
    await new Promise<void>((resolve, reject) => {
      const waiter: Waiter = { bytes, resolve, reject, signal }
      if (signal !== undefined) {
        waiter.onAbort = () => {
          const i = this.queue.indexOf(waiter)
          if (i !== -1) this.queue.splice(i, 1)
          reject(closedError())
          this.pump()
        }
        signal.addEventListener('abort', waiter.onAbort, { once: true })
      }
      this.queue.push(waiter)
      this.pump()
    })
  }

  /** Lets waiting transfers go while the bucket has room; sets a timer for the next one. */
  private pump (): void {
    clearTimeout(this.timer)
    this.timer = undefined
    while (this.queue.length > 0) {
      const head = this.queue[0]
      const waitMs = this.bucket.waitMs(head.bytes, this.now())
      if (waitMs > 0) {
        this.timer = setTimeout(() => this.pump(), waitMs)
        this.timer.unref()
        return
      }
      this.queue.shift()
      this.bucket.take(head.bytes, this.now())
      if (head.onAbort !== undefined) head.signal?.removeEventListener('abort', head.onAbort)
      head.resolve()
    }
  }
}

function closedError (): LansyncError {
  return new LansyncError('TRANSPORT_CLOSED', 'the connection closed while waiting for the bandwidth limit')
}

export interface Limits { maxSendBps: number, maxRecvBps: number }

/** The limits of this device as the config (and `start` flags) set them. */
export interface BandwidthSettings extends Limits {
  devices: Array<{ id: string } & Limits>
}

export class Bandwidth {
  private readonly send = new RateLimiter()
  private readonly recv = new RateLimiter()
  private readonly perDevice = new Map<string, { send: RateLimiter, recv: RateLimiter }>()

  /** Applies new limits; transfers already waiting go by the new ones. */
  apply (settings: BandwidthSettings): void {
    this.send.setRate(settings.maxSendBps)
    this.recv.setRate(settings.maxRecvBps)
    for (const d of settings.devices) {
      const pair = this.of(d.id)
      pair.send.setRate(d.maxSendBps)
      pair.recv.setRate(d.maxRecvBps)
    }
  }

  /** The overall limits in force. */
  overall (): Limits { return { maxSendBps: this.send.rateBps, maxRecvBps: this.recv.rateBps } }

  /** Waits until `bytes` of block data may be sent to `deviceId`: its own limit first, then the shared one. */
  async acquireSend (deviceId: string, bytes: number, signal?: AbortSignal): Promise<void> {
    await this.of(deviceId).send.acquire(bytes, signal)
    await this.send.acquire(bytes, signal)
  }

  /** Waits until `bytes` of block data may be requested from `deviceId`. */
  async acquireRecv (deviceId: string, bytes: number, signal?: AbortSignal): Promise<void> {
    await this.of(deviceId).recv.acquire(bytes, signal)
    await this.recv.acquire(bytes, signal)
  }

  private of (deviceId: string): { send: RateLimiter, recv: RateLimiter } {
    let pair = this.perDevice.get(deviceId)
    if (pair === undefined) {
      pair = { send: new RateLimiter(), recv: new RateLimiter() }
      this.perDevice.set(deviceId, pair)
    }
    return pair
  }
}
