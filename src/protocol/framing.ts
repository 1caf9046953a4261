// Frames on the secret stream: a 4-byte big-endian payload length, then the payload
// (protocol.md section 3). The decoder checks each announced length before buffering its payload.
import { LansyncError } from '../errors.js'
import { MAX_FRAME_BYTES } from './messages.js'

export const FRAME_HEADER_BYTES = 4

/** Length prefix + payload. Throws PROTOCOL_FRAME_TOO_LARGE rather than emit what a peer must refuse. */
export function encodeFrame (payload: Uint8Array, maxFrameBytes = MAX_FRAME_BYTES): Buffer {
  return Buffer.concat(encodeFrameParts([payload], maxFrameBytes))
}

/**
 * encodeFrame for a payload given as pieces (see encodeMessageParts): the length prefix, then the
 * pieces themselves, uncopied. Their concatenation is encodeFrame's bytes.
 */
export function encodeFrameParts (payload: Uint8Array[], maxFrameBytes = MAX_FRAME_BYTES): Uint8Array[] {
  let length = 0
  for (const part of payload) length += part.byteLength
  if (length === 0) throw new LansyncError('PROTOCOL_DECODE', 'refusing to send an empty frame')
  if (length > maxFrameBytes) {
    throw new LansyncError('PROTOCOL_FRAME_TOO_LARGE', `message of ${length} bytes exceeds the frame limit of ${maxFrameBytes}`)
  }
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES)
  header.writeUInt32BE(length, 0)
  return [header, ...payload]
}

export interface FrameDecoderOptions {
  maxFrameBytes?: number
}

/**
 * Splits a byte stream into frame payloads. Chunks may split frames anywhere. A payload that lies
 * within one pushed chunk is returned as a view into it (callers must not modify chunks after
 * pushing them); one spread over several chunks is copied into a buffer allocated once its header
 * has been checked, so a peer sending tiny chunks cannot make the decoder hold many objects.
 * After an error the decoder stays failed: the connection is to be closed.
 */
export class FrameDecoder {
  private readonly maxFrameBytes: number
  private readonly header = new Uint8Array(FRAME_HEADER_BYTES)
  private headerFilled = 0
  /** The payload being assembled across chunks, and how much of it has arrived. */
  private payload: Uint8Array | undefined
  private payloadFilled = 0
  private failure: LansyncError | undefined

  constructor ({ maxFrameBytes = MAX_FRAME_BYTES }: FrameDecoderOptions = {}) {
    this.maxFrameBytes = maxFrameBytes
  }

  /** Bytes received that are not yet part of a returned payload. */
  get pendingBytes (): number { return this.headerFilled + this.payloadFilled }

  /** Adds bytes; returns the payloads they complete, in order. Throws on a bad header. */
  push (chunk: Uint8Array): Uint8Array[] {
    if (this.failure !== undefined) throw this.failure
    const payloads: Uint8Array[] = []
    let pos = 0
    while (pos < chunk.byteLength) {
      if (this.payload === undefined) {
        let length: number
        if (this.headerFilled === 0 && chunk.byteLength - pos >= FRAME_HEADER_BYTES) {
          length = readUint32(chunk, pos)
          pos += FRAME_HEADER_BYTES
        } else {
          const count = Math.min(FRAME_HEADER_BYTES - this.headerFilled, chunk.byteLength - pos)
          this.header.set(chunk.subarray(pos, pos + count), this.headerFilled)
          this.headerFilled += count
          pos += count
          if (this.headerFilled < FRAME_HEADER_BYTES) break
          this.headerFilled = 0
          length = readUint32(this.header, 0)
        }
        this.check(length)
        if (chunk.byteLength - pos >= length) {
          payloads.push(chunk.subarray(pos, pos + length))
          pos += length
          continue
        }
        this.payload = Buffer.allocUnsafe(length)
        this.payloadFilled = 0
      }
      const count = Math.min(this.payload.byteLength - this.payloadFilled, chunk.byteLength - pos)
      this.payload.set(chunk.subarray(pos, pos + count), this.payloadFilled)
      this.payloadFilled += count
      pos += count
      if (this.payloadFilled === this.payload.byteLength) {
        payloads.push(this.payload)
        this.payload = undefined
        this.payloadFilled = 0
      }
    }
    return payloads
  }

  private check (length: number): void {
    let err: LansyncError | undefined
    if (length === 0) err = new LansyncError('PROTOCOL_DECODE', 'a frame announced an empty payload')
    else if (length > this.maxFrameBytes) err = new LansyncError('PROTOCOL_FRAME_TOO_LARGE', `a frame announced ${length} bytes, more than the limit of ${this.maxFrameBytes}`)
    if (err === undefined) return
    this.failure = err
    throw err
  }
}

function readUint32 (bytes: Uint8Array, offset: number): number {
  return ((bytes[offset] << 24) >>> 0) + (bytes[offset + 1] << 16) + (bytes[offset + 2] << 8) + bytes[offset + 3]
}
