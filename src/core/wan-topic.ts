// The hyperswarm DHT topic two paired devices meet on (protocol.md section 8, WAN mode). Only the
// two devices can compute it: it hashes an X25519 secret of their static keys, not their public
// keys alone (device IDs are shared, so a hash of them is no secret). Pure: no I/O, no randomness.
import { ed25519, x25519 } from '@noble/curves/ed25519.js'
import { blake2b } from '@noble/hashes/blake2.js'
import { LansyncError } from '../errors.js'

/** Domain separation: names the purpose and version, so the secret is never reused elsewhere. */
export const WAN_TOPIC_DOMAIN = 'lansync wan topic v1'
export const WAN_TOPIC_BYTES = 32
const KEY_BYTES = 32

/** Bytewise comparison of two equal-length keys, as the sort in protocol.md specifies. */
function compareBytes (a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.byteLength; i++) if (a[i] !== b[i]) return a[i] - b[i]
  return 0
}

/**
 * The X25519 shared secret of our ed25519 key pair and the peer's ed25519 public key, both mapped
 * to curve25519 exactly as libsodium's `crypto_sign_ed25519_{sk,pk}_to_curve25519` do. Both devices
 * get the same 32 bytes. Throws DEVICE_ID_INVALID for a peer key that is not a usable point.
 */
export function wanSharedSecret (self: { publicKey: Uint8Array, secretKey: Uint8Array }, peerPublicKey: Uint8Array): Uint8Array {
  if (self.secretKey.byteLength !== 64 || self.publicKey.byteLength !== KEY_BYTES || peerPublicKey.byteLength !== KEY_BYTES) {
    throw new TypeError('expected an ed25519 key pair (32 + 64 bytes) and a 32-byte peer key')
  }
  try {
    // An ed25519 secret key is seed || public key; the curve25519 scalar comes from the seed.
    const scalar = ed25519.utils.toMontgomerySecret(self.secretKey.subarray(0, KEY_BYTES))
    const point = ed25519.utils.toMontgomery(peerPublicKey)
    // noble refuses an all-zero result (a low-order peer point), as libsodium's crypto_scalarmult does.
    return x25519.getSharedSecret(scalar, point)
  } catch (err) {
    throw new LansyncError('DEVICE_ID_INVALID', `the device key ${Buffer.from(peerPublicKey).toString('hex')} cannot be used for a WAN topic: ${(err as Error).message}`, { cause: err })
  }
}

/**
 * topic = BLAKE2b-256(key = X25519 secret, message = domain || lower key || higher key).
 * The same on both devices; 32 bytes, as hyperswarm's `join` takes.
 */
export function deriveWanTopic (self: { publicKey: Uint8Array, secretKey: Uint8Array }, peerPublicKey: Uint8Array): Uint8Array {
  const secret = wanSharedSecret(self, peerPublicKey)
  const [low, high] = compareBytes(self.publicKey, peerPublicKey) <= 0 ? [self.publicKey, peerPublicKey] : [peerPublicKey, self.publicKey]
  const domain = new TextEncoder().encode(WAN_TOPIC_DOMAIN)
  const message = new Uint8Array(domain.byteLength + 2 * KEY_BYTES)
  message.set(domain, 0)
  message.set(low, domain.byteLength)
  message.set(high, domain.byteLength + KEY_BYTES)
  return blake2b(message, { key: secret, dkLen: WAN_TOPIC_BYTES })
}
