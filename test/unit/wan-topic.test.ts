// The WAN topic derivation: the vector printed in protocol.md, symmetry, a third key gets another
// topic, and an independent implementation (libsodium) computes the same bytes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import crypto from 'hypercore-crypto'
import sodium from 'sodium-universal'
import { deriveWanTopic, wanSharedSecret, WAN_TOPIC_DOMAIN } from '../../src/core/wan-topic.js'
import { isLansyncError } from '../../src/errors.js'
import { ROOT } from '../helpers/cli.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const A = crypto.keyPair(Buffer.alloc(32, 1))
const B = crypto.keyPair(Buffer.alloc(32, 2))
const VECTOR = {
  publicKeyA: '8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c',
  publicKeyB: '8139770ea87d175f56a35466c34c7ecccb8d8a91b4ee37a25df60f5b8fc9b394',
  secret: '4181d7302557342bdb6d061c4b1eebea828ecb625c3368b7111680793307220b',
  topic: '15f2f9f3b2ebd236719e181b2addd12e5625d08df198881528d5ef171559d5e9'
}

test('the vector of protocol.md (seeds 01…01 and 02…02)', () => {
  assert.is(hex(A.publicKey), VECTOR.publicKeyA)
  assert.is(hex(B.publicKey), VECTOR.publicKeyB)
  assert.is(hex(wanSharedSecret(A, B.publicKey)), VECTOR.secret)
  assert.is(hex(deriveWanTopic(A, B.publicKey)), VECTOR.topic)
  assert.is(hex(deriveWanTopic(B, A.publicKey)), VECTOR.topic)
  const spec = readFileSync(join(ROOT, 'protocol.md'), 'utf8')
  for (const value of Object.values(VECTOR)) assert.ok(spec.includes(value), `protocol.md prints ${value}`)
})

test('both devices of a pair get one topic; every other pair another', () => {
  const keys = Array.from({ length: 6 }, () => crypto.keyPair())
  const topics = new Set<string>()
  for (let i = 0; i < keys.length; i++) {
    for (let j = i + 1; j < keys.length; j++) {
      const t = hex(deriveWanTopic(keys[i], keys[j].publicKey))
      assert.is(hex(deriveWanTopic(keys[j], keys[i].publicKey)), t)
      topics.add(t)
    }
  }
  assert.is(topics.size, 15)
})

test('libsodium computes the same secret and topic (an independent implementation)', () => {
  for (let n = 0; n < 20; n++) {
    const self = crypto.keyPair()
    const peer = crypto.keyPair()
    const scalar = Buffer.alloc(32); const point = Buffer.alloc(32); const secret = Buffer.alloc(32); const topic = Buffer.alloc(32)
    sodium.crypto_sign_ed25519_sk_to_curve25519(scalar, self.secretKey)
    sodium.crypto_sign_ed25519_pk_to_curve25519(point, peer.publicKey)
    sodium.crypto_scalarmult(secret, scalar, point)
    const [low, high] = Buffer.compare(self.publicKey, peer.publicKey) <= 0 ? [self.publicKey, peer.publicKey] : [peer.publicKey, self.publicKey]
    sodium.crypto_generichash(topic, Buffer.concat([Buffer.from(WAN_TOPIC_DOMAIN), low, high]), secret)
    assert.is(hex(wanSharedSecret(self, peer.publicKey)), secret.toString('hex'))
    assert.is(hex(deriveWanTopic(self, peer.publicKey)), topic.toString('hex'))
  }
})

test('the topic is not a function of the public keys alone: a third device cannot compute it', () => {
  const C = crypto.keyPair(Buffer.alloc(32, 3))
  // C knows both device IDs but holds neither secret key: its own secret with either key differs.
  const target = hex(deriveWanTopic(A, B.publicKey))
  assert.not.equal(hex(deriveWanTopic(C, A.publicKey)), target)
  assert.not.equal(hex(deriveWanTopic(C, B.publicKey)), target)
})

test('a key that is no curve point, or of low order, is refused with DEVICE_ID_INVALID', () => {
  const notAPoint = Buffer.alloc(32, 0xff)
  const identityPoint = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]) // order 1: the secret would be zero
  for (const key of [notAPoint, identityPoint]) {
    try {
      deriveWanTopic(A, key)
      assert.unreachable(`${key.toString('hex')} was accepted`)
    } catch (err) {
      assert.ok(isLansyncError(err, 'DEVICE_ID_INVALID'), String(err))
    }
  }
  assert.throws(() => deriveWanTopic({ publicKey: A.publicKey, secretKey: A.secretKey.subarray(0, 32) }, B.publicKey), (e: unknown) => e instanceof TypeError)
})

test.run()
