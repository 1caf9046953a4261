import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { planContentReads } from '../../src/core/content-reads.js'
import type { BlockRef } from '../../src/core/types.js'

const block = (id: number, sizeBytes = 10): BlockRef => ({ hash: Uint8Array.of(id), sizeBytes })
const ids = (blocks: BlockRef[]): number[] => blocks.map(b => b.hash[0])

test('blocks the old file holds in a row become one read of it; the others come from the store in order', () => {
  const held = [block(1), block(2), block(3), block(4)]
  const wanted = [block(1), block(2), block(9), block(3), block(4), block(8), block(7)]
  const { reads, fileBytes } = planContentReads(wanted, held, 1024)
  assert.equal(reads.map(r => r.from === 'file' ? ['file', r.offset, r.sizeBytes] : ['store', ids(r.blocks)]), [
    ['file', 0, 20], ['store', [9]], ['file', 20, 20], ['store', [8, 7]]
  ])
  assert.is(fileBytes, 40)
})

test('a block moved within the file is read where the old file has it; a repeated block from its first place', () => {
  const held = [block(1), block(2, 5), block(3), block(2, 5)]
  const { reads } = planContentReads([block(3), block(2, 5), block(1)], held, 1024)
  assert.equal(reads, [{ from: 'file', offset: 15, sizeBytes: 10 }, { from: 'file', offset: 10, sizeBytes: 5 }, { from: 'file', offset: 0, sizeBytes: 10 }])
})

test('reads stop at the size limit; a block bigger than the limit is a read of its own', () => {
  const held = [block(1), block(2), block(3), block(4, 50), block(5)]
  const { reads } = planContentReads(held, held, 25)
  assert.equal(reads.map(r => r.from === 'file' && [r.offset, r.sizeBytes]), [[0, 20], [20, 10], [30, 50], [80, 10]])
})

test('nothing in common, or nothing held: every block from the store, in one run', () => {
  const { reads, fileBytes } = planContentReads([block(1), block(2)], [], 100)
  assert.equal(reads.map(r => r.from === 'store' && ids(r.blocks)), [[1, 2]])
  assert.is(fileBytes, 0)
  assert.equal(planContentReads([], [block(1)], 100), { reads: [], fileBytes: 0 })
})

test('a read size that is not a positive integer is refused', () => {
  for (const bad of [0, -1, 1.5, Number.NaN]) assert.throws(() => planContentReads([], [], bad), /maxReadBytes must be a positive integer/)
})

test.run()
