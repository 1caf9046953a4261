import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { compareVectors, mergeVectors, bumpVector } from '../../src/core/clock.js'

const cases: Array<[Record<string, number>, Record<string, number>, string]> = [
  [{}, {}, 'equal'],
  [{ a: 1 }, { a: 1 }, 'equal'],
  [{ a: 1, b: 0 }, { a: 1 }, 'equal'],
  [{ a: 1 }, { a: 2 }, 'before'],
  [{}, { a: 1 }, 'before'],
  [{ a: 2 }, { a: 1 }, 'after'],
  [{ a: 1, b: 1 }, { a: 1 }, 'after'],
  [{ a: 2 }, { b: 1 }, 'concurrent'],
  [{ a: 2, b: 1 }, { a: 1, b: 2 }, 'concurrent']
]
for (const [a, b, expected] of cases) {
  test(`compare ${JSON.stringify(a)} ${JSON.stringify(b)} is ${expected}`, () => {
    assert.is(compareVectors(a, b), expected)
  })
}

test('merge dominates both and bump makes the result strictly newer', () => {
  // A small bounded property check over random vectors.
  let seed = 7
  const rand = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % 4 }
  for (let i = 0; i < 500; i++) {
    const a: Record<string, number> = {}; const b: Record<string, number> = {}
    for (const k of ['x', 'y', 'z']) { if (rand()) a[k] = rand(); if (rand()) b[k] = rand() }
    const m = mergeVectors(a, b)
    assert.ok(['after', 'equal'].includes(compareVectors(m, a)))
    assert.ok(['after', 'equal'].includes(compareVectors(m, b)))
    const bumped = bumpVector(m, 'x')
    assert.is(compareVectors(bumped, a), 'after')
    assert.is(compareVectors(bumped, b), 'after')
  }
})

test.run()
