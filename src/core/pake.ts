// The pairing PAKE (protocol.md section 8.3): CPace over ristretto255 with SHA-512 exactly as
// draft-irtf-cfrg-cpace (suite CPACE-RISTR255-SHA512, initiator-responder transcript), then an
// explicit key confirmation that binds each device's static key, name and offers to the shared
// key. Pure: the session id and the ephemeral scalars' random bytes are passed in.
import { ristretto255, ristretto255_hasher } from '@noble/curves/ed25519.js'
import { sha256, sha512 } from '@noble/hashes/sha2.js'
import { hmac } from '@noble/hashes/hmac.js'
import { hkdf } from '@noble/hashes/hkdf.js'
import { LansyncError } from '../errors.js'

type Point = InstanceType<typeof ristretto255.Point>

export const CPACE_DSI = 'CPaceRistretto255'
/** SHA-512's input block size: the generator string's zero padding fills its first block. */
const SHA512_BLOCK_BYTES = 128
const POINT_BYTES = 32
export const SID_BYTES = 16
export const SCALAR_RANDOM_BYTES = 32
export const TAG_BYTES = 32
/** Channel identifier: names this protocol and its version. */
export const PAIRING_CI = 'lansync-pair-1'
export const LABEL_INITIATOR_KEY = 'lansync-pair-1 initiator key'
export const LABEL_RESPONDER_KEY = 'lansync-pair-1 responder key'
export const LABEL_INITIATOR_TAG = 'lansync-pair-1 initiator tag'
export const LABEL_RESPONDER_TAG = 'lansync-pair-1 responder tag'

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

/** The length as LEB128, then the bytes (CPace's prepend_len). */
export function prependLength (bytes: Uint8Array): Uint8Array {
  const prefix: number[] = []
  let n = bytes.byteLength
  do {
    prefix.push(n < 128 ? n : (n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  } while (n > 0)
  return concat([Uint8Array.from(prefix), bytes])
}

/** CPace's prefix_free_cat: every part with its length prepended, so no two inputs collide. */
export function prefixFreeCat (...parts: Uint8Array[]): Uint8Array {
  return concat(parts.map(prependLength))
}

/** CPace's generator_string(DSI, PRS, CI, sid, s_in_bytes). */
export function generatorString (prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Uint8Array {
  const dsi = utf8(CPACE_DSI)
  const zeroPadBytes = Math.max(0, SHA512_BLOCK_BYTES - 1 - prependLength(prs).byteLength - prependLength(dsi).byteLength)
  return prefixFreeCat(dsi, prs, new Uint8Array(zeroPadBytes), ci, sid)
}

/** G.calculate_generator: ristretto255's one-way map of SHA-512(generator string). */
export function calculateGenerator (prs: Uint8Array, ci: Uint8Array, sid: Uint8Array): Point {
  const deriveToCurve = ristretto255_hasher.deriveToCurve
  if (deriveToCurve === undefined) throw new Error('@noble/curves lacks ristretto255 element derivation')
  return deriveToCurve(sha512(generatorString(prs, ci, sid)))
}

/** G.sample_scalar from 32 random bytes: little-endian, bits above 252 cleared (so below the group order). */
export function scalarFromBytes (bytes: Uint8Array): bigint {
  if (bytes.byteLength !== SCALAR_RANDOM_BYTES) throw new TypeError(`a scalar is made of ${SCALAR_RANDOM_BYTES} random bytes`)
  let value = 0n
  for (let i = bytes.byteLength - 1; i >= 0; i--) value = (value << 8n) | BigInt(bytes[i])
  value &= (1n << 252n) - 1n
  if (value === 0n) throw new TypeError('the scalar is zero; draw new random bytes')
  return value
}

/** G.scalar_mult: the encoded point generator^scalar. */
export function scalarMult (scalar: bigint, generator: Point): Uint8Array {
  return generator.multiply(scalar).toBytes()
}

/** G.scalar_mult_vfy: decode(X)^scalar, or undefined (G.I) if X is not a valid encoding or the result is the identity. */
export function scalarMultVerify (scalar: bigint, encoded: Uint8Array): Uint8Array | undefined {
  if (encoded.byteLength !== POINT_BYTES) return undefined
  let point: Point
  try { point = ristretto255.Point.fromBytes(encoded) } catch { return undefined }
  const product = point.multiply(scalar)
  return product.is0() ? undefined : product.toBytes()
}

/** ISK = SHA-512(prefix_free_cat(DSI || "_ISK", sid, K) || MSGa || MSGb), initiator's message first. */
export function intermediateKey (sid: Uint8Array, k: Uint8Array, msgA: Uint8Array, msgB: Uint8Array): Uint8Array {
  return sha512(concat([prefixFreeCat(utf8(CPACE_DSI + '_ISK'), sid, k), msgA, msgB]))
}

/** MSGa / MSGb: prefix_free_cat(Y, AD); lansync sends no associated data (AD is empty). */
export function cpaceMessage (share: Uint8Array): Uint8Array {
  return prefixFreeCat(share, new Uint8Array(0))
}

export type PakeRole = 'initiator' | 'responder'

/**
 * One side of one pairing attempt. The initiator (the device typing the code) picks the session id;
 * both compute their share from the code; after `receiveShare` both hold the same keys exactly when
 * both used the same code. Then the initiator proves it with `initiatorTag` (checked by the
 * responder), and the responder answers with `responderTag` over everything, the initiator's tag included.
 */
export class PairingPake {
  readonly role: PakeRole
  readonly sid: Uint8Array
  /** This side's share Y (32 bytes) to send. */
  readonly share: Uint8Array
  private readonly scalar: bigint
  private msgA: Uint8Array | undefined
  private msgB: Uint8Array | undefined
  private initiatorKey: Uint8Array | undefined
  private responderKey: Uint8Array | undefined

  /** `secret`: the code's secret characters (PairingCode.secret); `scalarBytes`: 32 fresh random bytes. */
  constructor ({ role, secret, sid, scalarBytes }: { role: PakeRole, secret: string, sid: Uint8Array, scalarBytes: Uint8Array }) {
    if (sid.byteLength !== SID_BYTES) throw new TypeError(`the session id is ${SID_BYTES} bytes`)
    this.role = role
    this.sid = Uint8Array.from(sid)
    this.scalar = scalarFromBytes(scalarBytes)
    this.share = scalarMult(this.scalar, calculateGenerator(utf8(secret), utf8(PAIRING_CI), this.sid))
  }

  /**
   * Takes the other side's share and derives the keys. Throws PAIR_REJECTED if the share is not a
   * valid ristretto255 encoding or leads to the identity (a malicious or broken peer).
   */
  receiveShare (peerShare: Uint8Array): void {
    if (this.initiatorKey !== undefined) throw new TypeError('the peer share was already received')
    const k = scalarMultVerify(this.scalar, peerShare)
    if (k === undefined) throw new LansyncError('PAIR_REJECTED', 'the other device sent an invalid key share')
    const [shareA, shareB] = this.role === 'initiator' ? [this.share, peerShare] : [peerShare, this.share]
    this.msgA = cpaceMessage(shareA)
    this.msgB = cpaceMessage(shareB)
    const isk = intermediateKey(this.sid, k, this.msgA, this.msgB)
    this.initiatorKey = hkdf(sha512, isk, undefined, utf8(LABEL_INITIATOR_KEY), 32)
    this.responderKey = hkdf(sha512, isk, undefined, utf8(LABEL_RESPONDER_KEY), 32)
  }

  /** The initiator's confirmation tag over the shares and its own info bytes. */
  initiatorTag (initiatorInfo: Uint8Array): Uint8Array {
    const { msgA, msgB, initiatorKey } = this.keys()
    return hmac(sha256, initiatorKey, prefixFreeCat(utf8(LABEL_INITIATOR_TAG), this.sid, msgA, msgB, initiatorInfo))
  }

  /** The responder's confirmation tag over everything: shares, the initiator's info and tag, its own info. */
  responderTag (initiatorInfo: Uint8Array, initiatorTag: Uint8Array, responderInfo: Uint8Array): Uint8Array {
    const { msgA, msgB, responderKey } = this.keys()
    return hmac(sha256, responderKey, prefixFreeCat(utf8(LABEL_RESPONDER_TAG), this.sid, msgA, msgB, initiatorInfo, initiatorTag, responderInfo))
  }

  private keys (): { msgA: Uint8Array, msgB: Uint8Array, initiatorKey: Uint8Array, responderKey: Uint8Array } {
    if (this.msgA === undefined || this.msgB === undefined || this.initiatorKey === undefined || this.responderKey === undefined) {
      throw new TypeError('receiveShare() must come first')
    }
    return { msgA: this.msgA, msgB: this.msgB, initiatorKey: this.initiatorKey, responderKey: this.responderKey }
  }
}

/** Compares two tags in time that does not depend on where they differ. */
export function isSameTag (a: Uint8Array, b: Uint8Array): boolean {
  if (a.byteLength !== b.byteLength) return false
  let diff = 0
  for (let i = 0; i < a.byteLength; i++) diff |= a[i] ^ b[i]
  return diff === 0
}

function concat (parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0))
  let offset = 0
  for (const p of parts) { out.set(p, offset); offset += p.byteLength }
  return out
}
