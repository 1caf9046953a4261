import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { BURST_MS, MIN_BURST_BYTES, TokenBucket } from '../../src/core/token-bucket.js'
import { RateLimiter } from '../../src/sync/rate-limiter.js'
import { LansyncError } from '../../src/errors.js'

const MiB = 1024 * 1024

test('no limit: nothing ever waits', () => {
  const b = new TokenBucket(0, 0)
  assert.is(b.waitMs(1e12, 0), 0)
  b.take(1e12, 0)
  assert.is(b.waitMs(1e12, 0), 0)
})

test('a full bucket passes its burst at once, then the rate holds', () => {
  const b = new TokenBucket(MiB, 0)
  const burst = MiB * BURST_MS / 1000
  assert.is(b.waitMs(burst, 0), 0)
  b.take(burst, 0)
  assert.is(b.waitMs(64 * 1024, 0), 63) // 64 KiB at 1 MiB/s: 62.5 ms, rounded up
  assert.is(b.waitMs(64 * 1024, 63), 0)
})

test('sending 4 MiB at 1 MiB/s in 256 KiB blocks takes (4 MiB - burst) / rate', () => {
  const b = new TokenBucket(MiB, 0)
  let nowMs = 0
  for (let i = 0; i < 16; i++) {
    nowMs += b.waitMs(256 * 1024, nowMs)
    b.take(256 * 1024, nowMs)
  }
  // The last block goes once the bucket holds it: all but the burst was earned at the rate.
  const expected = (4 * MiB - MiB * BURST_MS / 1000) * 1000 / MiB
  assert.ok(Math.abs(nowMs - expected) <= 16, `${nowMs} vs ${expected}`)
})

test('a block bigger than the bucket waits for a full bucket and leaves a debt', () => {
  const b = new TokenBucket(1000, 0) // bucket: MIN_BURST_BYTES
  b.take(MIN_BURST_BYTES, 0)
  assert.is(b.waitMs(10 * MIN_BURST_BYTES, 0), Math.ceil(MIN_BURST_BYTES * 1000 / 1000))
  const full = MIN_BURST_BYTES
  b.take(10 * MIN_BURST_BYTES, full)
  // The debt of 9 buckets must be earned back before the next byte.
  assert.is(b.waitMs(1, full), Math.ceil((9 * MIN_BURST_BYTES + 1) * 1000 / 1000))
})

test('a rate change applies from then on; a limit set where there was none starts full', () => {
  const b = new TokenBucket(MiB, 0)
  b.take(MiB, 0) // half a MiB of debt
  assert.is(b.waitMs(1, 0), Math.ceil((MiB / 2 + 1) * 1000 / MiB))
  b.setRate(4 * MiB, 0)
  assert.is(b.waitMs(1, 0), Math.ceil((MiB / 2 + 1) * 1000 / (4 * MiB)))
  b.setRate(0, 10)
  assert.is(b.waitMs(100 * MiB, 10), 0)
  b.setRate(MiB, 20)
  assert.is(b.waitMs(MiB / 2, 20), 0)
  assert.throws(() => b.setRate(-1, 30), TypeError)
  assert.throws(() => b.setRate(NaN, 30), TypeError)
})

test('a clock going backwards earns nothing and breaks nothing', () => {
  const b = new TokenBucket(MiB, 1000)
  b.take(MiB, 1000)
  const wait = b.waitMs(1, 1000)
  assert.is(b.waitMs(1, 500), wait)
})

test('RateLimiter: first come first served; setRate(0) lets all waiting go; abort takes nothing', async () => {
  const keepAlive = setInterval(() => {}, 1000) // the limiter's timers do not hold the process
  let nowMs = 0
  const limiter = new RateLimiter(MIN_BURST_BYTES * 2, () => nowMs) // bucket: 16 KiB
  await limiter.acquire(MIN_BURST_BYTES) // from the full bucket
  const order: string[] = []
  const first = limiter.acquire(MIN_BURST_BYTES).then(() => order.push('first'))
  const aborter = new AbortController()
  const aborted = limiter.acquire(MIN_BURST_BYTES, aborter.signal).then(() => 'went', (err: unknown) => err)
  const third = limiter.acquire(MIN_BURST_BYTES).then(() => order.push('third'))
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(order, [], 'nothing goes while the clock stands still')
  aborter.abort()
  const err = await aborted
  assert.instance(err, LansyncError)
  assert.is((err as LansyncError).code, 'TRANSPORT_CLOSED')
  nowMs += 500 // one block's worth at the rate: the first goes (at its timer), not the third
  await first
  assert.equal(order, ['first'])
  limiter.setRate(0)
  await third
  assert.equal(order, ['first', 'third'])
  await limiter.acquire(100 * MiB)
  const gone = new AbortController(); gone.abort()
  try { await limiter.acquire(1, gone.signal); assert.unreachable('acquired on an aborted signal') } catch (e) { assert.is((e as LansyncError).code, 'TRANSPORT_CLOSED') }
  clearInterval(keepAlive)
})

test.run()
