// The parts of discovery that need no network: validating announcements and the sighting table
// (expiry, goodbyes, LRU bound, per-device bound). Nothing here starts mDNS.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Discovery, MAX_ADDRESSES_PER_DEVICE, MAX_EXTRA_TXT_KEYS, boundName, isExtraTxt, MAX_NAME_CHARS, SightingTable, parseService, type Observation } from '../../src/net/discovery.js'

const ID_A = 'AAAAAAA-AAAAAAA-AAAAAAA'
const ID_B = 'BBBBBBB-BBBBBBB-BBBBBBB'
const ID_C = 'CCCCCCC-CCCCCCC-CCCCCCC'

function service (over: Record<string, unknown> = {}): any {
  return {
    fqdn: 'lansync-A._lansync._tcp.local',
    port: 4000,
    txt: { id: ID_A, v: '1', n: 'laptop' },
    addresses: ['192.168.1.5', 'fe80::1', 'fd00::5'],
    referer: { address: '192.168.1.5', family: 'IPv4', port: 5353, size: 100 },
    ...over
  }
}

function obs (deviceId: string, addresses: string[], source = `${deviceId}._lansync._tcp.local`, port = 4000): Observation {
  return { deviceId, name: 'n', protocolVersion: 1, port, source: source.toLowerCase(), addresses: addresses.map(address => ({ address, family: address.includes(':') ? 'IPv6' : 'IPv4' })) }
}

test('parseService keeps the fields of a good announcement and drops link-local IPv6', () => {
  const o = parseService(service())
  assert.equal(o, {
    deviceId: ID_A,
    name: 'laptop',
    protocolVersion: 1,
    port: 4000,
    addresses: [{ address: '192.168.1.5', family: 'IPv4' }, { address: 'fd00::5', family: 'IPv6' }],
    extra: {},
    source: 'lansync-a._lansync._tcp.local'
  })
})

test('parseService falls back to the packet source when the record lists no address', () => {
  const o = parseService(service({ addresses: [] }))
  assert.ok(typeof o !== 'string')
  assert.equal(o.addresses, [{ address: '192.168.1.5', family: 'IPv4' }])
})

test('parseService strips control characters from names and bounds their length', () => {
  const o = parseService(service({ txt: { id: ID_A, v: '2', n: 'evil\nname\u0007' + 'x'.repeat(200) } }))
  assert.ok(typeof o !== 'string')
  assert.ok(!/[\n\u0007]/.test(o.name))
  assert.is(o.name.length, MAX_NAME_CHARS)
  assert.ok(o.name.startsWith('evilname'))
  assert.ok(Buffer.byteLength(boundName('\u{1F600}'.repeat(64))) <= 240, 'fits a TXT string')
  const unnamed = parseService(service({ txt: { id: ID_A, v: '2' } }))
  assert.ok(typeof unnamed !== 'string' && unnamed.name === '')
})

const rejections: Array<[string, Record<string, unknown>]> = [
  ['no TXT', { txt: undefined }],
  ['TXT not an object', { txt: 'id=x' }],
  ['missing id', { txt: { v: '1' } }],
  ['empty id', { txt: { id: '', v: '1' } }],
  ['id with spaces', { txt: { id: 'AAAA AAAA BBBB', v: '1' } }],
  ['id too long', { txt: { id: 'A'.repeat(129), v: '1' } }],
  ['missing version', { txt: { id: ID_A } }],
  ['version not a number', { txt: { id: ID_A, v: '1x' } }],
  ['version out of range', { txt: { id: ID_A, v: '65536' } }],
  ['name not a string', { txt: { id: ID_A, v: '1', n: 5 } }],
  ['port 0', { port: 0 }],
  ['port too large', { port: 70000 }],
  ['port not an integer', { port: 1.5 }],
  ['no service name', { fqdn: undefined }],
  ['no usable address', { addresses: ['fe80::1', '224.0.0.251', 'not an ip'], referer: undefined }]
]
for (const [label, over] of rejections) {
  test(`parseService rejects: ${label}`, () => {
    assert.type(parseService(service(over)), 'string')
  })
}

test('parseService uses the injected device ID check', () => {
  assert.type(parseService(service(), id => id.startsWith('Z')), 'string')
  assert.type(parseService(service(), id => id.startsWith('A')), 'object')
})

test('table: a new device is a change; the same announcement again only refreshes it', () => {
  const t = new SightingTable(10_000, 10)
  assert.equal(t.observe(obs(ID_A, ['10.0.0.1']), 1000), { changed: [ID_A], expired: [] })
  assert.equal(t.observe(obs(ID_A, ['10.0.0.1']), 5000), { changed: [], expired: [] })
  const s = t.get(ID_A)
  assert.is(s?.firstSeenMs, 1000)
  assert.is(s?.lastSeenMs, 5000)
  assert.is(s?.addresses[0].lastSeenMs, 5000)
})

test('table: a new announcement from the same source replaces its old addresses', () => {
  const t = new SightingTable(10_000, 10)
  t.observe(obs(ID_A, ['10.0.0.1', 'fd00::1']), 1000)
  assert.equal(t.observe(obs(ID_A, ['10.0.0.9', 'fd00::1']), 2000).changed, [ID_A])
  assert.equal(t.get(ID_A)?.addresses.map(a => a.address), ['10.0.0.9', 'fd00::1'])
})

test('table: hints from two sources merge, newest first, IPv4 first among equals', () => {
  const t = new SightingTable(10_000, 10)
  t.observe(obs(ID_A, ['10.0.0.1'], 'one'), 1000)
  t.observe(obs(ID_A, ['fd00::2', '10.0.0.2'], 'two', 4001), 2000)
  assert.equal(t.get(ID_A)?.addresses.map(a => `${a.address}:${a.port}`), ['10.0.0.2:4001', 'fd00::2:4001', '10.0.0.1:4000'])
  // a goodbye from one source leaves the other's hints
  assert.equal(t.forget('TWO'), { changed: [ID_A], expired: [] })
  assert.equal(t.get(ID_A)?.addresses.map(a => a.address), ['10.0.0.1'])
  assert.equal(t.forget('one'), { changed: [], expired: [{ deviceId: ID_A, reason: 'goodbye' }] })
  assert.is(t.size, 0)
  assert.equal(t.forget('one'), { changed: [], expired: [] })
})

test('table: hints expire ttlMs after they were last seen, not before', () => {
  const t = new SightingTable(10_000, 10)
  t.observe(obs(ID_A, ['10.0.0.1']), 1000)
  t.observe(obs(ID_B, ['10.0.0.2'], 'b-one'), 1000)
  t.observe(obs(ID_B, ['10.0.0.3'], 'b-two'), 6000)
  assert.equal(t.sweep(10_999), { changed: [], expired: [] })
  assert.equal(t.sweep(11_000), { changed: [ID_B], expired: [{ deviceId: ID_A, reason: 'ttl' }] })
  assert.equal(t.get(ID_B)?.addresses.map(a => a.address), ['10.0.0.3'])
  assert.equal(t.sweep(16_000).expired, [{ deviceId: ID_B, reason: 'ttl' }])
  assert.equal(t.all(), [])
})

test('table: beyond maxEntries the least recently seen device is evicted', () => {
  const t = new SightingTable(10_000, 2)
  t.observe(obs(ID_A, ['10.0.0.1']), 1)
  t.observe(obs(ID_B, ['10.0.0.2']), 2)
  t.observe(obs(ID_A, ['10.0.0.1']), 3) // A is now the most recent
  assert.equal(t.observe(obs(ID_C, ['10.0.0.3']), 4).expired, [{ deviceId: ID_B, reason: 'evicted' }])
  assert.equal(t.all().map(s => s.deviceId), [ID_C, ID_A])
})

test('table: a device keeps at most MAX_ADDRESSES_PER_DEVICE hints, the newest', () => {
  const t = new SightingTable(10_000, 10)
  for (let i = 0; i < MAX_ADDRESSES_PER_DEVICE + 5; i++) t.observe(obs(ID_A, [`10.0.1.${i}`], `src-${i}`), 100 + i)
  const addresses = t.get(ID_A)?.addresses.map(a => a.address) ?? []
  assert.is(addresses.length, MAX_ADDRESSES_PER_DEVICE)
  assert.is(addresses[0], `10.0.1.${MAX_ADDRESSES_PER_DEVICE + 4}`)
  assert.not.ok(addresses.includes('10.0.1.0'))
})

test('table: a service that switches to another device ID takes its hints along', () => {
  const t = new SightingTable(10_000, 10)
  t.observe(obs(ID_A, ['10.0.0.1'], 'shared'), 1)
  const change = t.observe(obs(ID_B, ['10.0.0.1'], 'shared'), 2)
  assert.equal(change.expired, [{ deviceId: ID_A, reason: 'replaced' }])
  assert.equal(change.changed, [ID_B])
  assert.equal(t.all().map(s => s.deviceId), [ID_B])
})

test('Discovery rejects bad options as programmer errors, without touching the network', () => {
  const base = { deviceId: ID_A, deviceName: 'x', port: 4000, protocolVersion: 1 }
  assert.throws(() => new Discovery({ ...base, port: 0 }), (e: unknown) => e instanceof TypeError)
  assert.throws(() => new Discovery({ ...base, deviceId: 'no' }), (e: unknown) => e instanceof TypeError)
  assert.throws(() => new Discovery({ ...base, protocolVersion: -1 }), (e: unknown) => e instanceof TypeError)
  assert.throws(() => new Discovery({ ...base, maxEntries: 0 }), (e: unknown) => e instanceof TypeError)
  const d = new Discovery(base)
  assert.equal(d.table(), [])
  assert.equal(d.candidates(ID_B), [])
})

test('parseService keeps well-formed extension TXT keys and drops the rest', () => {
  const o = parseService(service({ txt: { id: ID_A, v: '1', n: 'x', pp: '40123', zz9: 'a-b_c', Bad: '1', toolongkey: '1', sp: 'has space', ctl: 'a\u0001' } }))
  assert.ok(typeof o !== 'string')
  assert.equal(o.extra, { pp: '40123', zz9: 'a-b_c' })
  const many = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${String(i).padStart(2, '0')}`, 'v']))
  const bounded = parseService(service({ txt: { id: ID_A, v: '1', ...many } }))
  assert.ok(typeof bounded !== 'string')
  assert.is(Object.keys(bounded.extra ?? {}).length, MAX_EXTRA_TXT_KEYS)
})

test('isExtraTxt: our own keys and malformed entries are not extensions', () => {
  assert.ok(isExtraTxt('pp', '1'))
  for (const [k, v] of [['id', 'x'], ['v', '1'], ['n', 'x'], ['', 'x'], ['1a', 'x'], ['pp', 'a b'], ['pp', 'x'.repeat(201)], ['pp', 5]] as Array<[string, unknown]>) {
    assert.not.ok(isExtraTxt(k, v), `${k}=${String(v)}`)
  }
})

test('table: a changed extension TXT is a change even at the same addresses', () => {
  const t = new SightingTable(10_000, 10)
  t.observe(obs(ID_A, ['10.0.0.1']), 1)
  assert.equal(t.observe({ ...obs(ID_A, ['10.0.0.1']), extra: { pp: '4000' } }, 2).changed, [ID_A])
  assert.equal(t.get(ID_A)?.extra, { pp: '4000' })
  assert.equal(t.observe({ ...obs(ID_A, ['10.0.0.1']), extra: { pp: '4000' } }, 3).changed, [])
  assert.equal(t.observe(obs(ID_A, ['10.0.0.1']), 4).changed, [ID_A], 'the window closed')
  assert.equal(t.get(ID_A)?.extra, {})
})

test('Discovery.setExtraTxt refuses malformed extensions as programmer errors, without touching the network', () => {
  const d = new Discovery({ deviceId: ID_A, deviceName: 'x', port: 4000, protocolVersion: 1, extraTxt: { pp: '1' } })
  d.setExtraTxt({ pp: '40123' }) // not started: nothing is sent
  d.setExtraTxt({})
  for (const bad of [{ id: 'x' }, { PP: '1' }, { pp: 'a b' }, Object.fromEntries(Array.from({ length: MAX_EXTRA_TXT_KEYS + 1 }, (_, i) => [`k${i}`, 'v']))]) {
    assert.throws(() => d.setExtraTxt(bad), (e: unknown) => e instanceof TypeError, JSON.stringify(bad))
  }
  assert.throws(() => new Discovery({ deviceId: ID_A, deviceName: 'x', port: 4000, protocolVersion: 1, extraTxt: { v: '2' } }), (e: unknown) => e instanceof TypeError)
})

test.run()
