// Bootstrap node parsing (config and flags) and where the DHT socket binds.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { parseBootstrapNode } from '../../src/config.js'
import { dhtBindHost } from '../../src/net/wan.js'
import { isLansyncError } from '../../src/errors.js'

const GOOD: Array<[string, { host: string, port: number }]> = [
  ['127.0.0.1:49737', { host: '127.0.0.1', port: 49737 }],
  ['203.0.113.7:1', { host: '203.0.113.7', port: 1 }],
  ['dht.example.org:65535', { host: 'dht.example.org', port: 65535 }],
  ['localhost:5000', { host: 'localhost', port: 5000 }]
]
for (const [text, expected] of GOOD) {
  test(`accepts ${text}`, () => { assert.equal(parseBootstrapNode(text), expected) })
}

const BAD: Array<[unknown, RegExp]> = [
  ['nonsense', /expected HOST:PORT/],
  ['127.0.0.1', /expected HOST:PORT/],
  [':49737', /expected HOST:PORT/],
  ['127.0.0.1:', /expected HOST:PORT/],
  ['127.0.0.1:0', /port must be 1 to 65535/],
  ['127.0.0.1:65536', /port must be 1 to 65535/],
  ['127.0.0.1:123456', /expected HOST:PORT/],
  ['[::1]:49737', /IPv6 is not supported/],
  ['::1:49737', /IPv6 is not supported/],
  ['300.1.2.3:49737', /not an IPv4 address/],
  ['1.2.3:49737', /not an IPv4 address/],
  ['bad_host!:5', /not a host name/],
  ['-dash.example:5', /not a host name/],
  ['a b:5', /expected HOST:PORT/],
  [49737, /not a string/]
]
for (const [text, message] of BAD) {
  test(`refuses ${JSON.stringify(text)} with ARG_INVALID`, () => {
    try {
      parseBootstrapNode(text)
      assert.unreachable('accepted')
    } catch (err) {
      assert.ok(isLansyncError(err, 'ARG_INVALID'), String(err))
      assert.match((err as Error).message, message)
    }
  })
}

test('the DHT binds loopback only when every bootstrap node is on loopback', () => {
  assert.is(dhtBindHost([{ host: '127.0.0.1' }, { host: '127.0.0.2' }]), '127.0.0.1')
  assert.is(dhtBindHost([{ host: '127.0.0.1' }, { host: '203.0.113.7' }]), '0.0.0.0')
  assert.is(dhtBindHost([{ host: 'localhost' }]), '0.0.0.0')
  assert.is(dhtBindHost([]), '0.0.0.0')
  assert.is(dhtBindHost(undefined), '0.0.0.0')
})

test.run()
