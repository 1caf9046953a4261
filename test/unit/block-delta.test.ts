import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import type { BlockRef } from '../../src/core/types.js'
import { applyDelta, deltaAgainst, pickDeltaBases, deltaLiteralBytes, DeltaError, DELTA_PIECE_BYTES, MAX_SIGNATURE_PIECES, signatureOf, weakChecksum, type DeltaOp } from '../../src/core/block-delta.js'

const KiB = 1024
const P = DELTA_PIECE_BYTES

function roundTrip (base: Uint8Array, target: Uint8Array): DeltaOp[] {
  const ops = deltaAgainst(target, signatureOf(base))
  if (ops === undefined) throw new Error('the search gave up')
  assert.equal(Buffer.from(applyDelta(base, P, ops, target.byteLength)), Buffer.from(target))
  return ops
}

const concat = (...parts: Uint8Array[]): Uint8Array => new Uint8Array(Buffer.concat(parts))

test('an unchanged block is one run of copied pieces and its short tail', () => {
  const base = randomBytes(64 * KiB + 100)
  const ops = roundTrip(base, base)
  assert.equal(ops.length, 2)
  assert.equal(ops[0], { from: 0, count: 32 })
  assert.is(deltaLiteralBytes(ops), 100)
})

test('100 bytes inserted at the start cost those bytes, not the block', () => {
  const base = randomBytes(200 * KiB)
  const ops = roundTrip(base, concat(randomBytes(100), base))
  assert.is(deltaLiteralBytes(ops), 100)
  assert.equal(ops[1], { from: 0, count: 100 })
})

test('4 KiB overwritten in the middle cost at most the pieces it touches', () => {
  const base = randomBytes(128 * KiB)
  const target = Buffer.from(base)
  randomBytes(4 * KiB).copy(target, 50_001)
  const ops = roundTrip(base, target)
  assert.ok(deltaLiteralBytes(ops) <= 4 * KiB + 2 * P, `literal ${deltaLiteralBytes(ops)}`)
  assert.ok(deltaLiteralBytes(ops) >= 4 * KiB)
})

test('pieces are found at any offset, moved and repeated', () => {
  const base = randomBytes(32 * KiB)
  const a = base.subarray(0, 10 * KiB)
  const b = base.subarray(10 * KiB)
  const target = concat(b, randomBytes(7), a, a)
  const ops = roundTrip(base, target)
  assert.ok(deltaLiteralBytes(ops) <= 7 + 3 * P, `literal ${deltaLiteralBytes(ops)}`)
})

test('unrelated content, a target shorter than a piece, and a base shorter than a piece are sent whole', () => {
  for (const [base, target] of [[randomBytes(64 * KiB), randomBytes(64 * KiB)], [randomBytes(64 * KiB), randomBytes(100)], [randomBytes(P - 1), randomBytes(20 * KiB)]]) {
    const ops = roundTrip(base, target)
    assert.is(ops.length, 1)
    assert.is(deltaLiteralBytes(ops), target.byteLength)
  }
})

test('repetitive content (every piece the same) still rebuilds exactly', () => {
  const base = new Uint8Array(40 * KiB).fill(7)
  const target = concat(new Uint8Array(33 * KiB).fill(7), Uint8Array.of(1, 2, 3), new Uint8Array(9 * KiB).fill(7))
  const ops = roundTrip(base, target)
  assert.ok(deltaLiteralBytes(ops) < 3 * P)
})

test('a signature covers at most MAX_SIGNATURE_PIECES whole pieces', () => {
  const sig = signatureOf(randomBytes(300 * KiB))
  assert.is(sig.weak.length, MAX_SIGNATURE_PIECES)
  assert.is(sig.strong.byteLength, MAX_SIGNATURE_PIECES * 8)
})

test('the rolled weak checksum equals the one computed afresh at every offset', () => {
  // Two pieces of the base planted at odd offsets are found only if rolling keeps the sums right.
  const base = randomBytes(8 * KiB)
  const target = concat(randomBytes(1237), base.subarray(2 * P, 3 * P), randomBytes(3001), base.subarray(0, P))
  const ops = deltaAgainst(target, signatureOf(base)) ?? []
  assert.equal(ops.filter(op => !(op instanceof Uint8Array)), [{ from: 2, count: 1 }, { from: 0, count: 1 }])
  assert.is(weakChecksum(new Uint8Array(0)), 0)
})

test('a delta that reaches outside its base or makes the wrong size is refused', () => {
  const base = randomBytes(8 * KiB) // 4 pieces
  assert.throws(() => applyDelta(base, P, [{ from: 3, count: 2 }], 4 * P), (e: unknown) => e instanceof DeltaError && /pieces 3–4 of a base of 4/.test(e.message))
  const isDeltaError = (e: unknown): boolean => e instanceof DeltaError
  assert.throws(() => applyDelta(base, P, [{ from: 0, count: 0 }], 0), isDeltaError)
  assert.throws(() => applyDelta(base, P, [{ from: 0, count: 1 }], P - 1), isDeltaError)
  assert.throws(() => applyDelta(base, P, [Uint8Array.of(1)], 2), isDeltaError)
})

const ref = (n: number, sizeBytes: number): BlockRef => ({ hash: new Uint8Array(32).fill(n), sizeBytes })

test('bases: each missing block gets the held blocks that covered its bytes', () => {
  const held = [ref(1, 64 * KiB), ref(2, 32 * KiB), ref(3, 100 * KiB), ref(4, 100 * KiB), ref(5, 240 * KiB)]
  // An insert at the start grew block 0; block 2 was rewritten in place; the rest is unchanged.
  const wanted = [ref(11, 64 * KiB + 100), ref(2, 32 * KiB), ref(13, 100 * KiB), ref(4, 100 * KiB), ref(5, 240 * KiB)]
  const bases = pickDeltaBases(wanted, [0, 2], held)
  assert.equal([...bases.keys()], [0, 2])
  assert.equal(bases.get(0)?.map(b => b.hash[0]), [1], 'its last 100 bytes, in held block 2, are less than a piece')
  assert.equal(bases.get(2)?.map(b => b.hash[0]), [3], 'bytes 96 KiB + 100 to 196 KiB + 100: held block 3, and 100 bytes of block 4')
  // Cuts moved: the new block's 100 KiB lie over held blocks 3 (from 96 KiB) and 4 (from 196 KiB).
  const moved = pickDeltaBases([ref(1, 64 * KiB), ref(2, 32 * KiB), ref(13, 110 * KiB), ref(14, 90 * KiB), ref(5, 240 * KiB)], [2, 3], held)
  assert.equal(moved.get(2)?.map(b => b.hash[0]), [3, 4])
  assert.equal(moved.get(3)?.map(b => b.hash[0]), [4])
  // Two cuts lost to an edit: the new block covers three held ones, up to a signature's 256 KiB.
  const merged = pickDeltaBases([ref(20, 300 * KiB), ref(4, 240 * KiB), ref(5, 240 * KiB)], [0], [ref(1, 100 * KiB), ref(2, 100 * KiB), ref(3, 100 * KiB), ref(4, 240 * KiB), ref(5, 240 * KiB)])
  assert.equal(merged.get(0)?.map(b => b.hash[0]), [1, 2], 'a third would make 300 KiB')
})

test('bases: none for a rewrite (over half missing), for no held blocks, for a base smaller than a piece', () => {
  const held = [ref(1, 64 * KiB), ref(2, 64 * KiB)]
  assert.is(pickDeltaBases([ref(11, 64 * KiB), ref(12, 64 * KiB + 1)], [0, 1], held).size, 0)
  assert.is(pickDeltaBases([ref(11, 64 * KiB), ref(2, 64 * KiB)], [0], []).size, 0)
  assert.is(pickDeltaBases([ref(11, 1000), ref(2, 64 * KiB), ref(3, 64 * KiB)], [0], [ref(1, 1000), ref(2, 64 * KiB), ref(3, 64 * KiB)]).size, 0)
})

test('a signature whose weak checksums match everywhere and strong hashes nowhere makes the search give up', () => {
  const zeros = new Uint8Array(256 * KiB)
  const sig = { pieceBytes: P, weak: Uint32Array.of(weakChecksum(zeros.subarray(0, P))), strong: new Uint8Array(8).fill(1) }
  assert.is(deltaAgainst(zeros, sig), undefined)
  // The same content with its true strong hash is one run of copies.
  assert.ok(deltaAgainst(zeros, signatureOf(zeros.subarray(0, P)))?.every(op => !(op instanceof Uint8Array)))
})

test.run()
