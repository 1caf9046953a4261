import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { createHash } from 'node:crypto'
import { Chunker, chunkLengths, GEAR, MIN_BLOCK_BYTES, AVG_BLOCK_BYTES, MAX_BLOCK_BYTES } from '../../src/core/chunker.js'

/** Seeded xorshift32 bytes, written byte by byte so the data is the same on any endianness. */
function seededBytes (sizeBytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(sizeBytes)
  let x = seed >>> 0 || 1
  for (let i = 0; i < sizeBytes; i += 4) {
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5
    out[i] = x; out[i + 1] = x >>> 8; out[i + 2] = x >>> 16; out[i + 3] = x >>> 24
  }
  return out
}

function pushInPieces (bytes: Uint8Array, pieceBytes: number, opts?: ConstructorParameters<typeof Chunker>[0]): number[] {
  const chunker = new Chunker(opts)
  const lengths: number[] = []
  for (let o = 0; o < bytes.length; o += pieceBytes) lengths.push(...chunker.push(bytes.subarray(o, o + pieceBytes)))
  const last = chunker.finish()
  if (last > 0) lengths.push(last)
  return lengths
}

function blockHashes (bytes: Uint8Array): string[] {
  const out: string[] = []
  let offset = 0
  for (const len of chunkLengths(bytes)) {
    out.push(createHash('sha256').update(bytes.subarray(offset, offset + len)).digest('hex'))
    offset += len
  }
  return out
}

/** How many blocks of `after` are not blocks of `before`. */
function newBlocks (before: Uint8Array, after: Uint8Array): number {
  const known = new Set(blockHashes(before))
  return blockHashes(after).filter(h => !known.has(h)).length
}

function splice (bytes: Uint8Array, at: number, deleteBytes: number, insert: Uint8Array = new Uint8Array(0)): Uint8Array {
  const out = new Uint8Array(bytes.length - deleteBytes + insert.length)
  out.set(bytes.subarray(0, at), 0)
  out.set(insert, at)
  out.set(bytes.subarray(at + deleteBytes), at + insert.length)
  return out
}

const sum = (xs: number[]): number => xs.reduce((a, b) => a + b, 0)
const BIG = seededBytes(8 * 1024 * 1024, 42)

test('block size constants are the format\'s', () => {
  assert.is(MIN_BLOCK_BYTES, 16 * 1024)
  assert.is(AVG_BLOCK_BYTES, 64 * 1024)
  assert.is(MAX_BLOCK_BYTES, 256 * 1024)
})

test('gear table and boundaries are pinned: every device cuts the same blocks forever', () => {
  const le = new Uint8Array(256 * 4)
  const view = new DataView(le.buffer)
  GEAR.forEach((g, i) => view.setInt32(i * 4, g, true))
  assert.is(createHash('sha256').update(le).digest('hex'), '382968a1fe199d22af9bad7f1ef3f040e7b209f08f57547ae52acf8b580ad1a2')
  assert.equal(chunkLengths(seededBytes(1 << 20, 1)),
    [68772, 88270, 76012, 80186, 43479, 30639, 25476, 80317, 80321, 88730, 73554, 67391, 118767, 76372, 24536, 25754])
})

test('empty input gives no chunks', () => {
  const chunker = new Chunker()
  assert.equal(chunker.push(new Uint8Array(0)), [])
  assert.is(chunker.finish(), 0)
  assert.equal(chunkLengths(new Uint8Array(0)), [])
})

test('input shorter than the minimum is one chunk', () => {
  assert.equal(chunkLengths(new Uint8Array(1)), [1])
  assert.equal(chunkLengths(BIG.subarray(0, MIN_BLOCK_BYTES)), [MIN_BLOCK_BYTES])
})

test('min and max are respected and lengths sum to the input', () => {
  const lengths = chunkLengths(BIG)
  assert.is(sum(lengths), BIG.length)
  for (const len of lengths.slice(0, -1)) assert.ok(len >= MIN_BLOCK_BYTES && len <= MAX_BLOCK_BYTES, `length ${len}`)
  assert.ok(lengths[lengths.length - 1] <= MAX_BLOCK_BYTES)
  const meanBytes = BIG.length / lengths.length
  assert.ok(meanBytes > AVG_BLOCK_BYTES * 0.75 && meanBytes < AVG_BLOCK_BYTES * 1.5, `mean ${meanBytes}`)
})

test('content without cut points is cut at the maximum', () => {
  const zeros = new Uint8Array(MAX_BLOCK_BYTES * 3 + 5)
  assert.equal(chunkLengths(zeros), [MAX_BLOCK_BYTES, MAX_BLOCK_BYTES, MAX_BLOCK_BYTES, 5])
})

test('custom sizes are honoured', () => {
  const opts = { minBytes: 64, avgBytes: 256, maxBytes: 1024 }
  const lengths = chunkLengths(BIG.subarray(0, 1 << 20), opts)
  for (const len of lengths.slice(0, -1)) assert.ok(len >= 64 && len <= 1024, `length ${len}`)
  const meanBytes = (1 << 20) / lengths.length
  assert.ok(meanBytes > 192 && meanBytes < 384, `mean ${meanBytes}`)
})

test('invalid options are programmer errors', () => {
  assert.throws(() => new Chunker({ minBytes: 0 }), (e: unknown) => e instanceof TypeError)
  assert.throws(() => new Chunker({ minBytes: 1000, avgBytes: 500 }), (e: unknown) => e instanceof TypeError)
  assert.throws(() => new Chunker({ avgBytes: 1.5 }), (e: unknown) => e instanceof TypeError)
  assert.throws(() => new Chunker({ maxBytes: 1000 }), (e: unknown) => e instanceof TypeError)
})

test('boundaries do not depend on push sizes (1 byte, 4097 bytes, whole)', () => {
  const data = BIG.subarray(0, 2 * 1024 * 1024)
  const whole = chunkLengths(data)
  assert.ok(whole.length > 10)
  assert.equal(pushInPieces(data, 4097), whole)
  assert.equal(pushInPieces(data, 1), whole)
  assert.equal(pushInPieces(data, MAX_BLOCK_BYTES + 1), whole)
})

test('property: split points do not depend on how the stream is pushed', () => {
  const opts = { minBytes: 256, avgBytes: 1024, maxBytes: 4096 }
  fc.assert(fc.property(
    fc.integer({ min: 0, max: 200_000 }), fc.integer({ min: 1, max: 0xffffffff }),
    fc.array(fc.integer({ min: 0, max: 9000 }), { minLength: 1, maxLength: 40 }).filter(ps => ps.some(p => p > 0)),
    (sizeBytes, seed, pieces) => {
      const data = seededBytes(sizeBytes, seed)
      const expected = chunkLengths(data, opts)
      const chunker = new Chunker(opts)
      const got: number[] = []
      let offset = 0
      for (let k = 0; offset < data.length; k++) {
        const take = pieces[k % pieces.length]
        got.push(...chunker.push(data.subarray(offset, offset + take)))
        offset += take
      }
      const last = chunker.finish()
      if (last > 0) got.push(last)
      assert.equal(got, expected)
      // finish() reset the chunker: a second stream cuts like a fresh one.
      assert.equal([...chunker.push(data), chunker.finish()].filter(x => x > 0), expected)
    }
  ), { numRuns: 50, seed: 20240601 })
})

test('inserting 100 bytes at the start or in the middle changes at most two blocks', () => {
  const insert = seededBytes(100, 7)
  const total = blockHashes(BIG).length
  assert.ok(total > 80)
  assert.ok(newBlocks(BIG, splice(BIG, 0, 0, insert)) <= 2)
  assert.ok(newBlocks(BIG, splice(BIG, BIG.length >> 1, 0, insert)) <= 2)
  assert.ok(newBlocks(BIG, splice(BIG, 12345, 0, new Uint8Array([1]))) <= 2)
})

test('deleting bytes changes at most two blocks, and later boundaries only shift', () => {
  const at = (BIG.length >> 1) + 777
  const after = splice(BIG, at, 100)
  assert.ok(newBlocks(BIG, after) <= 2)
  // Every boundary well past the edit is the old one moved by exactly -100.
  const cutsOf = (b: Uint8Array): number[] => { let o = 0; return chunkLengths(b).map(l => (o += l)) }
  const oldLater = cutsOf(BIG).filter(c => c > at + 2 * MAX_BLOCK_BYTES).map(c => c - 100)
  const newCuts = new Set(cutsOf(after))
  assert.ok(oldLater.length > 10)
  for (const c of oldLater) assert.ok(newCuts.has(c), `boundary ${c} moved`)
})

test('property: an edit keeps every earlier boundary, and once realigned every later one', () => {
  const opts = { minBytes: 256, avgBytes: 1024, maxBytes: 4096 }
  const data = seededBytes(256 * 1024, 99)
  const cutsOf = (b: Uint8Array): number[] => { let o = 0; return chunkLengths(b, opts).map(l => (o += l)) }
  const oldCuts = cutsOf(data)
  const freshCounts: number[] = []
  fc.assert(fc.property(
    fc.integer({ min: 0, max: data.length }), fc.integer({ min: 0, max: 64 }), fc.uint8Array({ maxLength: 64 }),
    (at, deleteWanted, insert) => {
      const deleteBytes = Math.min(deleteWanted, data.length - at)
      const shift = insert.length - deleteBytes
      const newCuts = cutsOf(splice(data, at, deleteBytes, insert))
      // A cut depends only on the bytes before it: nothing up to the edit moves.
      assert.equal(newCuts.filter(c => c <= at), oldCuts.filter(c => c <= at))
      // After the edit the chunker restarts at each cut, so the first shared cut locks in all later ones.
      const shifted = oldCuts.filter(c => c >= at + deleteBytes).map(c => c + shift)
      const later = newCuts.filter(c => c > at)
      const firstShared = later.findIndex(c => shifted.includes(c))
      if (firstShared >= 0) {
        const rest = later.slice(firstShared)
        assert.equal(rest, shifted.slice(shifted.indexOf(rest[0])))
        freshCounts.push(firstShared + 1)
      }
    }
  ), { numRuns: 50, seed: 7 })
  // Resynchronisation is quick: usually the edited block only, rarely the one after it too.
  freshCounts.sort((a, b) => a - b)
  assert.ok(freshCounts.length >= 45)
  assert.ok(freshCounts[freshCounts.length >> 1] <= 2, `median ${freshCounts[freshCounts.length >> 1]}`)
})

test.run()
