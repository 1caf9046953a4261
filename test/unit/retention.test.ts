import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { versionsToPrune, parseRetention } from '../../src/core/retention.js'
import { selectVersion, parseTime } from '../../src/core/history-select.js'

const H = 3600e3; const D = 24 * H
const now = 1000 * D

test('keep all drops nothing; last:N keeps the newest N', () => {
  const times = [1, 2, 3, 4, 5].map(i => now - i * H).reverse()
  assert.equal(versionsToPrune(times, { mode: 'all' }, now), [])
  assert.equal(versionsToPrune(times, { mode: 'last', count: 2 }, now), [0, 1, 2])
  assert.equal(versionsToPrune(times, { mode: 'last', count: 10 }, now), [])
  assert.equal(versionsToPrune([now], { mode: 'last', count: 1 }, now), [])
})

test('staggered keeps every version of the last day, one per day for a month, one per week after', () => {
  const times = [
    now - 100 * D, now - 100 * D + H, // same week, old: keep newest only
    now - 10 * D - 2 * H, now - 10 * D - H, // same day 10 days ago: keep newest only
    now - 5 * H, now - 4 * H, now - H // last day: keep all
  ].sort((a, b) => a - b)
  const drop = versionsToPrune(times, { mode: 'staggered' }, now)
  assert.equal(drop, [0, 2])
})

test('the newest version is never pruned', () => {
  assert.equal(versionsToPrune([now - 400 * D], { mode: 'staggered' }, now), [])
  assert.equal(versionsToPrune([now - 400 * D, now - 399 * D], { mode: 'last', count: 1 }, now), [0])
})

test('parseRetention accepts all, staggered, last:N and rejects the rest', () => {
  assert.equal(parseRetention('last:3'), { mode: 'last', count: 3 })
  assert.equal(parseRetention('all'), { mode: 'all' })
  for (const bad of ['last', 'last:0', 'last:x', 'weekly', '']) assert.throws(() => parseRetention(bad))
})

test('selectVersion by number, time and default', () => {
  const versions = [{ recordedMs: 10, isDeleted: false }, { recordedMs: 20, isDeleted: false }, { recordedMs: 30, isDeleted: true }]
  assert.is(selectVersion(versions, {}), 1, 'default: newest with content')
  assert.is(selectVersion(versions, { number: 1 }), 0)
  assert.is(selectVersion(versions, { atMs: 25 }), 1)
  for (const [choice, code] of [[{ number: 4 }, 'VERSION_NOT_FOUND'], [{ number: 3 }, 'VERSION_NOT_FOUND'], [{ atMs: 5 }, 'VERSION_NOT_FOUND'], [{ atMs: 35 }, 'VERSION_NOT_FOUND']] as const) {
    try { selectVersion(versions, choice as any); assert.unreachable() } catch (err: any) { assert.is(err.code, code) }
  }
})

test('parseTime reads ISO, relative and epoch ms; rejects nonsense', () => {
  assert.is(parseTime('2026-01-01T00:00:00Z', now), Date.UTC(2026, 0, 1))
  assert.is(parseTime('-2h', now), now - 2 * H)
  assert.is(parseTime('1700000000000', now), 1700000000000)
  try { parseTime('yesterday-ish', now); assert.unreachable() } catch (err: any) { assert.is(err.code, 'ARG_INVALID') }
})

test.run()
