// A walk over raw msgpack bytes that proves a payload is one well-formed value within our limits
// before msgpackr builds any object from it: no declared length beyond the bytes present (so no
// huge allocations), bounded nesting, no extension types, valid UTF-8, string map keys, no
// repeated or prototype-polluting keys, no trailing bytes. protocol.md section 3.
import { isUtf8 } from 'node:buffer'
import { LansyncError } from '../errors.js'

const FORBIDDEN_KEYS = new Set(['__proto__', 'constructor', 'prototype'])
/** Maps with up to this many entries check keys for repeats in an array, bigger ones in a Set. */
const SMALL_MAP_ENTRIES = 32
/** Strings up to this many bytes are checked for ASCII in a loop before isUtf8 is called. */
const SHORT_STRING_BYTES = 64
/** Each 7-bit byte's one-character string. */
const ASCII = Array.from({ length: 128 }, (_, byte) => String.fromCharCode(byte))

export interface ShapeLimits {
  maxDepth: number
}

/** Throws PROTOCOL_DECODE (malformed) or PROTOCOL_INVALID_MESSAGE (forbidden key) unless valid. */
export function checkMsgpackShape (bytes: Uint8Array, { maxDepth }: ShapeLimits): void {
  const walker = new Walker(bytes, maxDepth)
  walker.value(1)
  if (walker.pos !== bytes.byteLength) {
    throw malformed(`${bytes.byteLength - walker.pos} bytes after the message`)
  }
}

class Walker {
  pos = 0
  private readonly view: DataView
  constructor (private readonly bytes: Uint8Array, private readonly maxDepth: number) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  }

  /** Skips one value at `depth` (1 = top level). */
  value (depth: number): void {
    const token = this.u8()
    if (token <= 0x7f || token >= 0xe0 || token === 0xc0 || token === 0xc2 || token === 0xc3) return
    if (token <= 0x8f) return this.map(token & 0x0f, depth)
    if (token <= 0x9f) return this.array(token & 0x0f, depth)
    if (token <= 0xbf) { this.string(token & 0x1f); return }
    switch (token) {
      case 0xc4: return this.skip(this.u8(), 'bin')
      case 0xc5: return this.skip(this.u16(), 'bin')
      case 0xc6: return this.skip(this.u32(), 'bin')
      case 0xca: return this.skip(4, 'float')
      case 0xcb: return this.skip(8, 'float')
      case 0xcc: case 0xd0: return this.skip(1, 'integer')
      case 0xcd: case 0xd1: return this.skip(2, 'integer')
      case 0xce: case 0xd2: return this.skip(4, 'integer')
      case 0xcf: case 0xd3: return this.skip(8, 'integer')
      case 0xd9: this.string(this.u8()); return
      case 0xda: this.string(this.u16()); return
      case 0xdb: this.string(this.u32()); return
      case 0xdc: return this.array(this.u16(), depth)
      case 0xdd: return this.array(this.u32(), depth)
      case 0xde: return this.map(this.u16(), depth)
      case 0xdf: return this.map(this.u32(), depth)
    }
    if (token === 0xc1) throw malformed(`byte 0xc1 (never used in msgpack) at offset ${this.pos - 1}`)
    throw malformed(`an extension type (0x${token.toString(16)}) at offset ${this.pos - 1}; this protocol uses none`)
  }

  private array (length: number, depth: number): void {
    this.enter(depth)
    // Every element takes at least one byte: a longer announcement is a lie, not a big array.
    if (length > this.remaining()) throw malformed(`truncated: an array of ${length} elements with ${this.remaining()} bytes left`)
    for (let i = 0; i < length; i++) this.value(depth + 1)
  }

  private map (length: number, depth: number): void {
    this.enter(depth)
    if (length * 2 > this.remaining()) throw malformed(`truncated: a map of ${length} entries with ${this.remaining()} bytes left`)
    // A record is a map of a dozen keys and a manifest carries a thousand records: an array
    // searched in place finds a repeat faster than a Set costs to build, up to a few dozen keys.
    const keys: string[] | Set<string> = length <= SMALL_MAP_ENTRIES ? [] : new Set<string>()
    for (let i = 0; i < length; i++) {
      const key = this.key()
      if (FORBIDDEN_KEYS.has(key)) throw new LansyncError('PROTOCOL_INVALID_MESSAGE', `a map has the key "${key}", which no message uses`)
      if (Array.isArray(keys) ? keys.includes(key) : keys.has(key)) throw malformed(`a map repeats the key ${JSON.stringify(key.slice(0, 64))}`)
      if (Array.isArray(keys)) keys.push(key); else keys.add(key)
      this.value(depth + 1)
    }
  }

  private key (): string {
    const token = this.u8()
    let length: number
    if (token >= 0xa0 && token <= 0xbf) length = token & 0x1f
    else if (token === 0xd9) length = this.u8()
    else if (token === 0xda) length = this.u16()
    else if (token === 0xdb) length = this.u32()
    else throw malformed(`a map key at offset ${this.pos - 1} that is not a string`)
    const start = this.pos
    // Keys are short ASCII (a record's are one letter): read here, without a call into node.
    if (this.string(length)) {
      let key = ''
      for (let i = start; i < start + length; i++) key += ASCII[this.bytes[i]]
      return key
    }
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, length).toString('utf8')
  }

  /** Skips a string of `length` bytes, proving it valid UTF-8; true if it is a few ASCII bytes. */
  private string (length: number): boolean {
    const start = this.pos
    this.skip(length, 'string')
    if (this.isShortAscii(start, length)) return true
    if (!isUtf8(this.bytes.subarray(start, start + length))) throw malformed(`a string at offset ${start} that is not valid UTF-8`)
    return false
  }

  /** Whether the bytes are a few and all ASCII (so valid UTF-8): a loop beats isUtf8's call for a few bytes. */
  private isShortAscii (start: number, length: number): boolean {
    if (length > SHORT_STRING_BYTES) return false
    for (let i = start; i < start + length; i++) if (this.bytes[i] > 0x7f) return false
    return true
  }

  private enter (depth: number): void {
    if (depth > this.maxDepth) throw malformed(`values nested deeper than ${this.maxDepth} levels`)
  }

  private remaining (): number { return this.bytes.byteLength - this.pos }

  private skip (length: number, what: string): void {
    if (length > this.remaining()) throw malformed(`truncated: a ${what} of ${length} bytes with ${this.remaining()} left`)
    this.pos += length
  }

  private u8 (): number {
    if (this.remaining() < 1) throw malformed('truncated: the message ends inside a value')
    return this.bytes[this.pos++]
  }

  private u16 (): number {
    if (this.remaining() < 2) throw malformed('truncated: the message ends inside a length')
    const n = this.view.getUint16(this.pos)
    this.pos += 2
    return n
  }

  private u32 (): number {
    if (this.remaining() < 4) throw malformed('truncated: the message ends inside a length')
    const n = this.view.getUint32(this.pos)
    this.pos += 4
    return n
  }
}

function malformed (problem: string): LansyncError {
  return new LansyncError('PROTOCOL_DECODE', `malformed msgpack: ${problem}`)
}
