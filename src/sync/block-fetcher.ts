// Requests blocks from one peer, many at a time under a byte window, and checks each answer
// against the hash it was asked for before anyone can use it.
import { createHash } from 'node:crypto'
import { LansyncError } from '../errors.js'
import { applyDelta, deltaLiteralBytes, DeltaError, type BlockSignature, type DeltaOp } from '../core/block-delta.js'

export interface BlockRequest { folder: string, path: string, hash: Uint8Array, sizeBytes: number }

/** A block this device holds that the wanted one may be an edit of: the peer may answer with a delta against it. */
export interface DeltaBase { bytes: Uint8Array, signature: BlockSignature }

/** A base to offer, its size known before it is read (it counts against the window). */
export interface BaseOffer { sizeBytes: number, load: () => Promise<DeltaBase | undefined> }

interface Pending { request: BlockRequest, base?: DeltaBase, windowBytes: number, resolve: (bytes: Uint8Array) => void, reject: (err: Error) => void, consume?: (bytes: Uint8Array) => Promise<void> }

export interface BlockFetcherOptions {
  /** Sends one request message; the fetcher picks its id. */
  send: (message: { type: 'request', id: number, base?: BlockSignature } & BlockRequest) => void
  /** Bytes that may be requested and not yet answered. */
  windowBytes?: number
  /**
   * Waits until a block of this size may be requested under the receive limits (the peer sends
   * only what was asked, so pacing requests paces what arrives); rejects if the connection went.
   */
  throttle?: (sizeBytes: number) => Promise<void>
}

/**
 * Block bytes requested and not yet stored, by default. The protocol allows 16 MiB; 8 MiB still
 * covers a 100 ms round trip at 80 MB/s, and on loopback W2 (4 × 256 MiB) was no slower with it
 * (19.4–19.9 s against 20.8 s) while the receiver held up to 8 MiB less.
 */
const DEFAULT_WINDOW_BYTES = 8 * 1024 * 1024

export class BlockFetcher {
  private readonly send: BlockFetcherOptions['send']
  private readonly windowBytes: number
  private readonly throttle: BlockFetcherOptions['throttle']
  private readonly pending = new Map<number, Pending>()
  /** Fetches waiting for room in the window, first come first served. */
  private readonly waiting: Array<{ sizeBytes: number, admit: () => void }> = []
  private nextId = 1
  private inFlightBytes = 0
  private closedWith: Error | undefined
  /** Bumped by close(), which empties the window: a block still being consumed then frees nothing. */
  private generation = 0
  /** Block payload bytes received and verified (of a delta, the block's own bytes it carried). */
  bytesReceived = 0

  constructor ({ send, windowBytes = DEFAULT_WINDOW_BYTES, throttle }: BlockFetcherOptions) {
    this.send = send
    this.throttle = throttle
    this.windowBytes = windowBytes
  }

  /**
   * Fetches one block; resolves with bytes whose SHA-256 equals `request.hash`, once `consume`
   * (if given) has finished with them. The block counts against the window until then: received
   * blocks waiting for a slow disk hold back requests, instead of piling up in memory.
   */
  async fetch (request: BlockRequest, consume?: (bytes: Uint8Array) => Promise<void>, offer?: BaseOffer): Promise<Uint8Array> {
    if (this.closedWith !== undefined) throw this.closedWith
    // A base offered for a delta is held in memory until the answer: it counts against the window too.
    const windowBytes = request.sizeBytes + (offer?.sizeBytes ?? 0)
    if (this.waiting.length > 0 || !this.fits(windowBytes)) {
      // Wait in line; release() admits (and counts) us once the window has room. Waking only the
      // head keeps thousands of queued fetches from all waking on every response.
      await new Promise<void>(resolve => this.waiting.push({ sizeBytes: windowBytes, admit: resolve }))
      if (this.closedWith !== undefined) throw this.closedWith
    } else {
      this.inFlightBytes += windowBytes
    }
    if (this.throttle !== undefined) {
      try {
        await this.throttle(request.sizeBytes)
      } catch (err) {
        if (this.closedWith !== undefined) throw this.closedWith
        this.release(windowBytes)
        throw err
      }
      if (this.closedWith !== undefined) throw this.closedWith
    }
    // The base is read only now, with the block's room in the window taken: bases read for every
    // queued request at once would hold a large edited file's changed blocks in memory.
    let base: DeltaBase | undefined
    try {
      base = await offer?.load()
    } catch {} // no base: the block is asked for whole
    if (this.closedWith !== undefined) throw this.closedWith
    return await new Promise<Uint8Array>((resolve, reject) => {
      this.ask({ request, base, windowBytes, resolve, reject, consume })
    })
  }

  /** Sends the request of `entry` under a new id. */
  private ask (entry: Pending): void {
    const id = this.nextId
    this.nextId = this.nextId >= 0xffffffff ? 1 : this.nextId + 1
    this.pending.set(id, entry)
    this.send({ type: 'request', id, ...entry.request, ...(entry.base === undefined ? {} : { base: entry.base.signature }) })
  }

  /**
   * Handles a `response`: the block's bytes, a delta against the base the request named, or an
   * error. Throws PROTOCOL_UNEXPECTED for an id we never asked for or a delta we did not ask for.
   */
  onResponse (id: number, data: Uint8Array | undefined, error: string | undefined, delta?: DeltaOp[]): void {
    const entry = this.pending.get(id)
    if (entry === undefined) throw new LansyncError('PROTOCOL_UNEXPECTED', `response ${id} answers no request`)
    this.pending.delete(id)
    let wireBytes = data?.byteLength ?? 0
    if (delta !== undefined) {
      const base = entry.base
      if (base === undefined) {
        this.release(entry.windowBytes)
        const err = new LansyncError('PROTOCOL_UNEXPECTED', `response ${id} is a delta to a request that named no base`)
        entry.reject(err)
        throw err
      }
      try {
        data = applyDelta(base.bytes, base.signature.pieceBytes, delta, entry.request.sizeBytes)
      } catch (err) {
        if (!(err instanceof DeltaError)) throw err
        this.release(entry.windowBytes)
        const failure = new LansyncError('PROTOCOL_BLOCK_HASH', `peer sent a delta for a block of ${entry.request.path} that does not fit its base: ${err.message}`)
        entry.reject(failure)
        throw failure
      }
      wireBytes = deltaLiteralBytes(delta)
    }
    if (data === undefined) {
      this.release(entry.windowBytes)
      entry.reject(new LansyncError('PEER_BLOCK_UNAVAILABLE', `peer cannot serve a block of ${entry.request.path}: ${error ?? 'no reason'}`))
      return
    }
    const actual = createHash('sha256').update(data).digest()
    if (data.byteLength !== entry.request.sizeBytes || !actual.equals(Buffer.from(entry.request.hash))) {
      if (delta !== undefined) {
        // Pieces that only looked alike (a weak checksum and 8 bytes of SHA-256 both alike, or a
        // base changed on the peer's side of the math): asked for again, whole. Still in the window.
        this.ask({ ...entry, base: undefined })
        return
      }
      this.release(entry.windowBytes)
      // A wrong block is the peer's fault: the connection is closed by the caller.
      const err = new LansyncError('PROTOCOL_BLOCK_HASH', `peer sent a block of ${entry.request.path} that does not match its hash`)
      entry.reject(err)
      throw err
    }
    this.bytesReceived += wireBytes
    if (entry.consume === undefined) {
      this.release(entry.windowBytes)
      entry.resolve(data)
      return
    }
    const generation = this.generation
    entry.consume(data).then(() => entry.resolve(data), entry.reject).finally(() => {
      if (generation === this.generation) this.release(entry.windowBytes) // close() emptied the window already
    })
  }

  get inFlight (): number { return this.pending.size }

  /** Fails every pending and future request (the connection is gone). */
  close (err: Error): void {
    this.closedWith ??= err
    this.generation += 1
    for (const entry of this.pending.values()) entry.reject(err)
    this.pending.clear()
    this.inFlightBytes = 0
    for (const waiter of this.waiting.splice(0)) waiter.admit()
  }

  /** A block always fits an empty window, however large. */
  private fits (sizeBytes: number): boolean {
    return this.inFlightBytes === 0 || this.inFlightBytes + sizeBytes <= this.windowBytes
  }

  private release (sizeBytes: number): void {
    this.inFlightBytes -= sizeBytes
    while (this.waiting.length > 0 && this.fits(this.waiting[0].sizeBytes)) {
      const next = this.waiting.shift() as { sizeBytes: number, admit: () => void }
      this.inFlightBytes += next.sizeBytes
      next.admit()
    }
  }
}
