// Device IDs: the printable form of a device's 32-byte ed25519 public key, built like Syncthing's
// (base32, a Luhn mod 32 check character per 13-character chunk, 8 groups of 7), and the short
// forms used inside version vectors and for people. Spec: protocol.md, section 1.
import { LansyncError } from '../errors.js'
import type { DeviceShort } from './types.js'

export const PUBLIC_KEY_BYTES = 32
const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
const DATA_CHARS = 52 // ceil(32 * 8 / 5)
const CHUNK_CHARS = 13
const ID_CHARS = 56 // 4 chunks of 13 + 4 check characters
const GROUP_CHARS = 7

/** The device ID of a 32-byte public key, e.g. `MFRGGZD-...` (8 groups of 7, 63 chars with dashes). */
export function encodeDeviceId (publicKey: Uint8Array): string {
  assertKey(publicKey)
  const data = base32Encode(publicKey)
  let withChecks = ''
  for (let i = 0; i < DATA_CHARS; i += CHUNK_CHARS) {
    const chunk = data.slice(i, i + CHUNK_CHARS)
    withChecks += chunk + luhnBase32(chunk)
  }
  const groups: string[] = []
  for (let i = 0; i < ID_CHARS; i += GROUP_CHARS) groups.push(withChecks.slice(i, i + GROUP_CHARS))
  return groups.join('-')
}

/**
 * The public key a device ID names. Accepts lower case and missing or extra dashes and spaces;
 * throws DEVICE_ID_INVALID saying what is wrong (length, a bad character, a check character).
 */
export function decodeDeviceId (text: string): Uint8Array {
  if (typeof text !== 'string') throw new TypeError('device ID must be a string')
  const compact = text.replace(/[\s-]+/g, '').toUpperCase()
  if (compact.length !== ID_CHARS) {
    throw new LansyncError('DEVICE_ID_INVALID', `device ID "${text}" has ${compact.length} characters without dashes and spaces; a device ID has ${ID_CHARS}`)
  }
  for (let i = 0; i < compact.length; i++) {
    const ch = compact[i]
    if (!ALPHABET.includes(ch)) {
      const hint = TYPO_HINTS[ch] !== undefined ? ` (did you mean '${TYPO_HINTS[ch]}'?)` : ''
      throw new LansyncError('DEVICE_ID_INVALID', `device ID "${text}" has '${ch}' at character ${i + 1}, which is not one of A-Z and 2-7${hint}`)
    }
  }
  let data = ''
  for (let c = 0; c < 4; c++) {
    const start = c * (CHUNK_CHARS + 1)
    const chunk = compact.slice(start, start + CHUNK_CHARS)
    const check = compact[start + CHUNK_CHARS]
    const expected = luhnBase32(chunk)
    if (check !== expected) {
      throw new LansyncError('DEVICE_ID_INVALID', `device ID "${text}" is mistyped: check character ${c + 1} of 4 (character ${start + CHUNK_CHARS + 1}) is '${check}', expected '${expected}'`)
    }
    data += chunk
  }
  const key = base32Decode(data)
  if (key === undefined) {
    throw new LansyncError('DEVICE_ID_INVALID', `device ID "${text}" is mistyped: its last data character '${data[DATA_CHARS - 1]}' has bits set that no key has`)
  }
  return key
}

/** Hex of the first 8 bytes of the public key: the device's name inside version vectors. */
export function deviceShort (publicKey: Uint8Array): DeviceShort {
  assertKey(publicKey)
  return Buffer.from(publicKey.buffer, publicKey.byteOffset, 8).toString('hex')
}

/** First group of the canonical device ID (7 characters), for people and conflict file names. */
export function shortDeviceLabel (deviceId: string): string {
  return encodeDeviceId(decodeDeviceId(deviceId)).slice(0, GROUP_CHARS)
}

/** Characters people type for base32 ones that look alike. */
const TYPO_HINTS: Record<string, string> = { 0: 'O', 1: 'I', 8: 'B', 9: 'G' }

function assertKey (publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.byteLength !== PUBLIC_KEY_BYTES) {
    throw new TypeError(`a device public key is ${PUBLIC_KEY_BYTES} bytes`)
  }
}

/**
 * Syncthing's Luhn mod 32 (lib/protocol/luhn.go), including its left-to-right factor order, so that
 * its published device IDs serve as test vectors.
 */
function luhnBase32 (chunk: string): string {
  let factor = 1
  let sum = 0
  for (const ch of chunk) {
    const addend = factor * ALPHABET.indexOf(ch)
    factor = factor === 2 ? 1 : 2
    sum += Math.floor(addend / 32) + (addend % 32)
  }
  return ALPHABET[(32 - (sum % 32)) % 32]
}

/** RFC 4648 base32 without padding. */
function base32Encode (bytes: Uint8Array): string {
  let out = ''
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = (buffer << 8) | byte
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += ALPHABET[(buffer >>> bits) & 31]
    }
    buffer &= (1 << bits) - 1
  }
  if (bits > 0) out += ALPHABET[(buffer << (5 - bits)) & 31]
  return out
}

/** Inverse of base32Encode for 52 characters; undefined if the padding bits are not zero. */
function base32Decode (text: string): Uint8Array | undefined {
  const out = new Uint8Array(PUBLIC_KEY_BYTES)
  let buffer = 0
  let bits = 0
  let n = 0
  for (const ch of text) {
    buffer = (buffer << 5) | ALPHABET.indexOf(ch)
    bits += 5
    if (bits >= 8) {
      bits -= 8
      if (n < PUBLIC_KEY_BYTES) out[n++] = (buffer >>> bits) & 0xff
    }
    buffer &= (1 << bits) - 1
  }
  return buffer === 0 ? out : undefined
}
