import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mapInOrder } from '../../src/fs/in-order.js'

/** A task that finishes when the test says so, recording how many run at once. */
function gate () {
  let running = 0
  let peak = 0
  const waiting = new Map<number, () => void>()
  const work = async (n: number): Promise<number> => {
    running += 1
    peak = Math.max(peak, running)
    await new Promise<void>(resolve => waiting.set(n, resolve))
    running -= 1
    return n * 10
  }
  return { work, waiting, peak: () => peak, running: () => running }
}

const tick = async (): Promise<void> => await new Promise(resolve => setImmediate(resolve))

test('results come in input order, whatever order the work finishes in', async () => {
  const g = gate()
  const out: Array<[number, number]> = []
  const done = (async () => { for await (const r of mapInOrder([1, 2, 3, 4, 5], g.work, { limit: 3 })) out.push(r) })()
  await tick()
  assert.is(g.running(), 3, 'three start at once')
  g.waiting.get(3)?.(); g.waiting.get(2)?.(); await tick()
  assert.equal(out, [], 'nothing is yielded before the first item is done')
  g.waiting.get(1)?.(); await tick(); await tick()
  for (const n of [5, 4]) { for (let i = 0; i < 5 && !g.waiting.has(n); i++) await tick(); g.waiting.get(n)?.() }
  await done
  assert.equal(out, [[1, 10], [2, 20], [3, 30], [4, 40], [5, 50]])
  assert.is(g.peak(), 3)
})

test('weights bound what runs at once, and one heavy item still runs alone', async () => {
  let running = 0
  let peak = 0
  const seen: number[][] = []
  const active = new Set<number>()
  const work = async (w: number): Promise<number> => {
    running += 1; active.add(w); peak = Math.max(peak, running); seen.push([...active])
    await tick(); await tick()
    running -= 1; active.delete(w)
    return w
  }
  const items = [1, 1, 1, 100, 1, 1]
  const out: number[] = []
  for await (const [, r] of mapInOrder(items, work, { limit: 8, weight: w => w, maxWeight: 3 })) out.push(r)
  assert.equal(out, items)
  assert.is(peak, 3)
  assert.ok(seen.every(s => !s.includes(100) || s.length === 1), 'the heavy item ran alone')
})

test('a rejection surfaces at its turn; the rest in flight are awaited, none left unhandled', async () => {
  let settled = 0
  const work = async (n: number): Promise<number> => {
    await tick()
    settled += 1
    if (n === 2) throw new Error('two failed')
    return n
  }
  const out: number[] = []
  try {
    for await (const [, r] of mapInOrder([1, 2, 3, 4], work, { limit: 4 })) out.push(r)
    assert.unreachable('should throw')
  } catch (err) {
    assert.is((err as Error).message, 'two failed')
  }
  assert.equal(out, [1])
  assert.is(settled, 4, 'the items still in flight finished before the error came out')
  try { for await (const _ of mapInOrder([1], work, { limit: 0 })) { /* never */ } assert.unreachable() } catch (err) { assert.instance(err, TypeError) }
})

test.run()
