// One pairing connection as a sequence of framed messages (protocol.md section 8.4): the sync
// protocol's framing with a 64 KiB bound checked before buffering, a deadline on every wait, and
// no more than one unread message held (the exchange is strictly turn by turn).
import type net from 'node:net'
import { LansyncError, isLansyncError } from '../errors.js'
import { FrameDecoder, encodeFrame } from '../protocol/framing.js'
import { MAX_PAIRING_FRAME_BYTES, decodePairingMessage, encodePairingMessage, type PairingMessage } from '../protocol/pairing.js'

export class PairingChannel {
  readonly socket: net.Socket
  private readonly decoder = new FrameDecoder({ maxFrameBytes: MAX_PAIRING_FRAME_BYTES })
  private readonly inbox: Array<PairingMessage | LansyncError> = []
  private waiter: (() => void) | undefined
  private isEnded = false

  constructor (socket: net.Socket) {
    this.socket = socket
    socket.setNoDelay(true)
    socket.on('data', (chunk: Buffer) => this.onData(chunk))
    socket.on('error', () => {})
    socket.on('close', () => { this.isEnded = true; this.wake() })
  }

  send (message: PairingMessage): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(encodePairingMessage(message), MAX_PAIRING_FRAME_BYTES))
  }

  /** Sends a last message and ends the connection once it is flushed. */
  finish (message: PairingMessage): void {
    if (this.socket.destroyed) return
    this.socket.end(encodeFrame(encodePairingMessage(message), MAX_PAIRING_FRAME_BYTES))
    // A peer that never reads must not keep the socket open.
    setTimeout(() => this.socket.destroy(), 2000).unref()
  }

  destroy (): void {
    this.socket.destroy()
  }

  /**
   * The next message. Throws TRANSPORT_TIMEOUT after `timeoutMs` (naming `what` was awaited),
   * TRANSPORT_CLOSED if the other end closed, or the decoding error of a bad frame.
   */
  async receive (what: string, timeoutMs: number): Promise<PairingMessage> {
    const deadline = Date.now() + timeoutMs
    while (this.inbox.length === 0) {
      if (this.isEnded) throw new LansyncError('TRANSPORT_CLOSED', `the other device closed the connection while this one waited for ${what}`)
      const leftMs = deadline - Date.now()
      if (leftMs <= 0) throw new LansyncError('TRANSPORT_TIMEOUT', `no ${what} within ${Math.round(timeoutMs / 1000)} s`)
      await new Promise<void>(resolve => {
        const timer = setTimeout(() => { this.waiter = undefined; resolve() }, leftMs)
        this.waiter = () => { clearTimeout(timer); this.waiter = undefined; resolve() }
      })
    }
    const next = this.inbox.shift() as PairingMessage | LansyncError
    if (next instanceof LansyncError) throw next
    return next
  }

  private onData (chunk: Buffer): void {
    try {
      for (const payload of this.decoder.push(chunk)) {
        this.inbox.push(decodePairingMessage(payload))
        // Turn by turn: a peer that sends ahead of its turn is not speaking this protocol.
        if (this.inbox.length > 1) throw new LansyncError('PROTOCOL_UNEXPECTED', 'the other device sent more than one message in its turn')
      }
    } catch (err) {
      this.inbox.length = 0
      this.inbox.push(isLansyncError(err) ? err : new LansyncError('PROTOCOL_DECODE', (err as Error).message))
      this.socket.pause()
      this.socket.removeAllListeners('data')
    }
    this.wake()
  }

  private wake (): void {
    this.waiter?.()
  }
}
