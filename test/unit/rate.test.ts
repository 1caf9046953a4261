import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { MIN_RATE_BPS, formatRate, isRateLimit, parseRate } from '../../src/core/rate.js'
import { LansyncError } from '../../src/errors.js'

test('rates in bytes, binary and decimal, with or without /s', () => {
  const cases: Array<[string, number]> = [
    ['2048', 2048], ['2048B', 2048], ['2048 B/s', 2048], ['2048/s', 2048],
    ['500K', 500 * 1024], ['500KiB', 500 * 1024], ['500KIB/s', 500 * 1024], ['500k', 500 * 1024],
    ['1MiB/s', 1024 ** 2], ['1M', 1024 ** 2], ['1.5MiB', 1.5 * 1024 ** 2], ['2G', 2 * 1024 ** 3],
    ['500kB', 500_000], ['500KB', 500_000], ['2MB/s', 2_000_000], ['2MBps', 2_000_000], ['1GB', 1e9],
    ['  3 MiB/s ', 3 * 1024 ** 2], ['.5MiB', 512 * 1024]
  ]
  for (const [text, bps] of cases) assert.is(parseRate(text), bps, text)
})

test('rates in bits are divided by 8', () => {
  const cases: Array<[string, number]> = [
    ['10Mbit', 1_250_000], ['10Mbit/s', 1_250_000], ['10Mbps', 1_250_000], ['10mbit', 1_250_000], ['10MBit', 1_250_000],
    ['800kbit', 100_000], ['1Gbit', 125_000_000], ['8Kibit', 1024], ['64000bit', 8000], ['64000bps', 8000]
  ]
  for (const [text, bps] of cases) assert.is(parseRate(text), bps, text)
})

test('0, off, none and unlimited mean no limit', () => {
  for (const text of ['0', 'off', 'OFF', 'none', 'unlimited', '0MiB', '0 kbit/s']) assert.is(parseRate(text), 0, text)
  assert.is(parseRate(0), 0)
})

test('bad rates are ARG_INVALID, naming the option and why', () => {
  const bad: Array<[unknown, RegExp]> = [
    ['', /expected a number/], ['fast', /expected a number/], ['-1MiB', /expected a number/], ['1e6', /expected a number/], ['1Kib/s', /ambiguous: write KiB for bytes or Kibit for bits/], ['100b', /ambiguous/],
    ['10Mb', /ambiguous: write MB for bytes or Mbit for bits/], ['10kb', /ambiguous/], ['1Kib', /ambiguous/],
    ['1 MiB per second', /expected a number/], ['5XB', /unknown unit "XB"/], ['5MiBit/s/s', /expected a number/],
    ['10Mbps/s', /"\/s" after "ps"/], ['100', /below the smallest limit/], ['0.5KiB', /below the smallest limit/],
    ['2000TiB', /too large/], ['Infinity', /expected a number/], [null, /not a string/], [{}, /not a string/]
  ]
  for (const [text, why] of bad) {
    try {
      parseRate(text, '--max-recv')
      assert.unreachable(`${String(text)} was accepted`)
    } catch (err) {
      assert.instance(err, LansyncError)
      assert.is((err as LansyncError).code, 'ARG_INVALID')
      assert.match((err as Error).message, /^--max-recv must be a rate such as 500KiB/)
      assert.match((err as Error).message, why, String(text))
    }
  }
})

test('formatRate speaks binary units; isRateLimit accepts what parseRate makes', () => {
  assert.is(formatRate(0), 'unlimited')
  assert.is(formatRate(1000), '1000 B/s')
  assert.is(formatRate(1024 ** 2), '1 MiB/s')
  assert.is(formatRate(1.5 * 1024 ** 2), '1.5 MiB/s')
  assert.is(formatRate(500 * 1024), '500 KiB/s')
  for (const text of ['0', '1MiB', '10Mbit', '1000']) assert.ok(isRateLimit(parseRate(text)), text)
  for (const value of [-1, 1.5, MIN_RATE_BPS - 1, 2 ** 41, NaN, '1MiB', null]) assert.not.ok(isRateLimit(value), String(value))
})

test.run()
