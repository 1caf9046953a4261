// The pairing PAKE: CPace over ristretto255 against draft-irtf-cfrg-cpace's test vectors, then the
// lansync key confirmation: same code → same keys and verifying tags; a wrong code, a tampered
// transcript or a reflected tag → a failing tag.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { ristretto255 } from '@noble/curves/ed25519.js'
import {
  PairingPake, calculateGenerator, generatorString, intermediateKey, isSameTag, prefixFreeCat, prependLength,
  scalarFromBytes, scalarMult, scalarMultVerify
} from '../../src/core/pake.js'
import { isLansyncError } from '../../src/errors.js'

const hex = (text: string): Uint8Array => Uint8Array.from(Buffer.from(text.replace(/\s+/g, ''), 'hex'))
const toHex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex')
const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

// draft-irtf-cfrg-cpace, "Test vector for CPace using group ristretto255 and hash SHA-512".
const TV = {
  prs: utf8('Password'),
  ci: hex('0a41696e69746961746f720a42726573706f6e646572'),
  sid: hex('7e4b4791d6a8ef019b936c79fb7f2c57'),
  generatorString: hex(`11435061636552697374726574746f3235350850617373776f726464
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000000000000000000000000000
    00000000000000000000000000000000160a41696e69746961746f72
    0a42726573706f6e646572107e4b4791d6a8ef019b936c79fb7f2c57`),
  g: hex('9c5712178570957204d89ac11acbef789dd076992ba361429acb2bc38c71d14c'),
  ya: hex('1433dd19359992d4e06d740d3993d429af6338ffb4531ce175d22449853a790b'),
  Ya: hex('a8fc42c4d57b3c7346661011122a00563d0995fd72b62123ae244400e86d7b1a'),
  yb: hex('0e6566d32d80a5a1135f99c27f2d637aa24da23027c3fa76b9d1cfd9742fdc00'),
  Yb: hex('fc8e84ae4ab725909af05a56ef9714db6930e4a5589b3fee6cdd266236676d63'),
  K: hex('3efef1706f42efa354020b087b37fbd9f81cf72a16f4947e4a042a7f1aaa2b6f'),
  iskIR: hex(`0e33c5822bd495dea94ba7af161501f1b2d6a16d464b5d6e1a53dcbf
    b9244b9ba66c09c430fffdfe4fb4e99b4ea46f991a272de0431c132c
    2c79fd6de1a7e5e4`)
}

test('prepend_len and prefix_free_cat match the draft', () => {
  assert.is(toHex(prependLength(new Uint8Array(0))), '00')
  assert.is(toHex(prependLength(utf8('1234'))), '0431323334')
  assert.is(toHex(prependLength(Uint8Array.from({ length: 128 }, (_, i) => i))).slice(0, 6), '800100')
  assert.is(toHex(prefixFreeCat(utf8('1234'), utf8('5'), new Uint8Array(0), utf8('6789'))), '04313233340135000436373839')
})

test('generator string and its SHA-512 match the draft; the generator is RFC 9496 element derivation of it', () => {
  assert.is(toHex(generatorString(TV.prs, TV.ci, TV.sid)), toHex(TV.generatorString))
  // The draft prints g = 9c5712…, which is not the one-way map of its own printed hash; RFC 9496's
  // element derivation (noble here, curve25519-dalek's from_uniform_bytes in the pake-cpace crate)
  // gives 5e2541…. Everything after g in the draft (Ya, Yb, K, ISK) is consistent with its g, and
  // is checked below from it.
  assert.is(toHex(calculateGenerator(TV.prs, TV.ci, TV.sid).toBytes()), '5e25411ca1ad7c9debfd0b33ad987a95cefef2d3f15dcc8bd26415a5dfe2e15a')
})

test('shares, K and ISK (initiator-responder) match the draft from its generator', () => {
  const g = ristretto255.Point.fromBytes(TV.g)
  const ya = scalarFromBytes(TV.ya)
  const yb = scalarFromBytes(TV.yb)
  assert.is(toHex(scalarMult(ya, g)), toHex(TV.Ya))
  assert.is(toHex(scalarMult(yb, g)), toHex(TV.Yb))
  assert.is(toHex(scalarMultVerify(ya, TV.Yb) as Uint8Array), toHex(TV.K))
  assert.is(toHex(scalarMultVerify(yb, TV.Ya) as Uint8Array), toHex(TV.K))
  const msgA = prefixFreeCat(TV.Ya, utf8('ADa'))
  const msgB = prefixFreeCat(TV.Yb, utf8('ADb'))
  assert.is(toHex(intermediateKey(TV.sid, TV.K, msgA, msgB)), toHex(TV.iskIR))
})

test('scalar_mult_vfy refuses an invalid encoding and the identity (the draft\'s invalid points)', () => {
  const s = scalarFromBytes(hex('7cd0e075fa7955ba52c02759a6c90dbbfc10e6d40aea8d283e407d88cf538a05'))
  assert.is(toHex(scalarMultVerify(s, hex('021ca069484e890c9e494d8ed6bb0f66cbd9a8f0ef67168f36c51e0efeb8f347')) as Uint8Array),
    '62aaa018755dc881902097c2a993c0b7c0a4fe33bce2c0182b46a44c40b95119')
  assert.is(scalarMultVerify(s, hex('011ca069484e890c9e494d8ed6bb0f66cbd9a8f0ef67168f36c51e0efeb8f347')), undefined)
  assert.is(scalarMultVerify(s, new Uint8Array(32)), undefined)
  assert.is(scalarMultVerify(s, new Uint8Array(31)), undefined)
})

function pair (secretA: string, secretB: string): { a: PairingPake, b: PairingPake } {
  const sid = randomBytes(16)
  const a = new PairingPake({ role: 'initiator', secret: secretA, sid, scalarBytes: randomBytes(32) })
  const b = new PairingPake({ role: 'responder', secret: secretB, sid, scalarBytes: randomBytes(32) })
  a.receiveShare(b.share)
  b.receiveShare(a.share)
  return { a, b }
}

test('the same code: each side verifies the other\'s tag', () => {
  const { a, b } = pair('K7QF9M2D', 'K7QF9M2D')
  const infoA = utf8('initiator info')
  const infoB = utf8('responder info')
  const tagA = a.initiatorTag(infoA)
  assert.ok(isSameTag(b.initiatorTag(infoA), tagA))
  const tagB = b.responderTag(infoA, tagA, infoB)
  assert.ok(isSameTag(a.responderTag(infoA, tagA, infoB), tagB))
})

test('a wrong code (even one character) fails the initiator\'s tag', () => {
  const { a, b } = pair('K7QF9M2D', 'K7QF9M2E')
  const info = utf8('initiator info')
  assert.not.ok(isSameTag(b.initiatorTag(info), a.initiatorTag(info)))
})

test('tampering with anything covered fails the tag: info, the other tag, a share, the session id', () => {
  const { a, b } = pair('K7QF9M2D', 'K7QF9M2D')
  const infoA = utf8('key A, name A')
  const infoB = utf8('key B, name B')
  const tagA = a.initiatorTag(infoA)
  assert.not.ok(isSameTag(b.initiatorTag(utf8('key M, name A')), tagA), 'initiator info swapped')
  const tagB = b.responderTag(infoA, tagA, infoB)
  assert.not.ok(isSameTag(a.responderTag(infoA, tagA, utf8('key M, name B')), tagB), 'responder info swapped')
  assert.not.ok(isSameTag(a.responderTag(utf8('key M, name A'), tagA, infoB), tagB), 'initiator info swapped under the responder tag')
  // A relay that substitutes its own share on either leg, or another session id, gets other keys.
  const sid = randomBytes(16)
  const i = new PairingPake({ role: 'initiator', secret: 'K7QF9M2D', sid, scalarBytes: randomBytes(32) })
  const r = new PairingPake({ role: 'responder', secret: 'K7QF9M2D', sid, scalarBytes: randomBytes(32) })
  const m = new PairingPake({ role: 'responder', secret: 'K7QF9M2D', sid: randomBytes(16), scalarBytes: randomBytes(32) })
  i.receiveShare(m.share)
  r.receiveShare(i.share)
  assert.not.ok(isSameTag(r.initiatorTag(infoA), i.initiatorTag(infoA)), 'share from another session')
})

test('a tag cannot be reflected: the responder\'s tag over the same bytes differs from the initiator\'s', () => {
  const { a, b } = pair('K7QF9M2D', 'K7QF9M2D')
  const info = utf8('info')
  const tagA = a.initiatorTag(info)
  assert.not.ok(isSameTag(b.responderTag(info, tagA, info), tagA))
})

test('a bad share from the peer is refused with PAIR_REJECTED', () => {
  const a = new PairingPake({ role: 'initiator', secret: 'K7QF9M2D', sid: randomBytes(16), scalarBytes: randomBytes(32) })
  assert.throws(() => a.receiveShare(new Uint8Array(32)), (err: unknown) => isLansyncError(err, 'PAIR_REJECTED'))
  assert.throws(() => a.initiatorTag(utf8('x')), TypeError)
})

test('shares are fresh: two sides with the same code send different shares each time', () => {
  const sid = randomBytes(16)
  const x = new PairingPake({ role: 'initiator', secret: 'K7QF9M2D', sid, scalarBytes: randomBytes(32) })
  const y = new PairingPake({ role: 'initiator', secret: 'K7QF9M2D', sid, scalarBytes: randomBytes(32) })
  assert.is.not(toHex(x.share), toHex(y.share))
  assert.throws(() => scalarFromBytes(new Uint8Array(32)), TypeError)
})

test.run()
