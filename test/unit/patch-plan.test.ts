import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { planPatch } from '../../src/core/patch-plan.js'
import type { BlockRef } from '../../src/core/types.js'

const block = (id: number, sizeBytes = 10): BlockRef => ({ hash: Uint8Array.of(id), sizeBytes })
const ids = (blocks: BlockRef[]): number[] => blocks.map(b => b.hash[0])
const shape = (plan: ReturnType<typeof planPatch>): unknown => plan?.regions.map(r => [r.offset, r.sizeBytes, ids(r.blocks), ids(r.heldBlocks)])

test('the same blocks at the same offsets: nothing to write', () => {
  const held = [block(1), block(2), block(3)]
  assert.equal(planPatch(held, held), { regions: [], writeBytes: 0 })
  assert.equal(planPatch([], []), { regions: [], writeBytes: 0 })
})

test('a block changed in place is one region, with the old block beside it', () => {
  const plan = planPatch([block(1), block(9), block(3)], [block(1), block(2), block(3)])
  assert.equal(shape(plan), [[10, 10, [9], [2]]])
  assert.is(plan?.writeBytes, 10)
})

test('cut points that moved inside the edit: the region runs to the next boundary both versions share', () => {
  // Old: 10 | 15 | 10. New: 10 | 7 | 8 | 10 — the middle 15 bytes were cut differently.
  const plan = planPatch([block(1), block(7, 7), block(8, 8), block(4)], [block(1), block(2, 15), block(4)])
  assert.equal(shape(plan), [[10, 15, [7, 8], [2]]])
  // Cuts that only meet again further on: one region over all of it.
  const later = planPatch([block(7, 7), block(8, 13), block(4)], [block(2, 12), block(3, 8), block(4)])
  assert.equal(shape(later), [[0, 20, [7, 8], [2, 3]]])
})

test('differing blocks next to each other form one region; apart, one each; the last block too', () => {
  const held = [block(1), block(2), block(3), block(4), block(5)]
  assert.equal(shape(planPatch([block(1), block(8), block(9), block(4), block(5)], held)), [[10, 20, [8, 9], [2, 3]]])
  assert.equal(shape(planPatch([block(8), block(2), block(3), block(4), block(9)], held)), [[0, 10, [8], [1]], [40, 10, [9], [5]]])
})

test('a block that only moved is rewritten where it lands (a patch never moves bytes)', () => {
  assert.equal(shape(planPatch([block(2), block(1), block(3)], [block(1), block(2), block(3)])), [[0, 20, [2, 1], [1, 2]]])
})

test('versions of different sizes cannot be patched', () => {
  assert.is(planPatch([block(1), block(2, 11)], [block(1), block(2)]), undefined)
  assert.is(planPatch([block(1)], []), undefined)
})

test.run()
