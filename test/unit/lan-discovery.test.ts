// The agent's side of LAN discovery that needs no network: which TXT device IDs count, which
// listen addresses are worth announcing, and the rows `lansync peers` shows.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { isCanonicalDeviceId, isLanReachable, lanPeerRows, pairingWindowAddresses } from '../../src/sync/lan-discovery.js'
import { formatPeers } from '../../src/cli/peers.js'
import { encodeDeviceId } from '../../src/core/device-id.js'
import type { Sighting } from '../../src/net/discovery.js'

const ID_A = encodeDeviceId(new Uint8Array(32).fill(1))
const ID_B = encodeDeviceId(new Uint8Array(32).fill(2))

function sighting (deviceId: string, over: Partial<Sighting> = {}): Sighting {
  return {
    deviceId,
    name: 'host',
    protocolVersion: 1,
    port: 22100,
    extra: {},
    addresses: [
      { address: '10.0.0.5', family: 'IPv4', port: 22100, lastSeenMs: 5000 },
      { address: 'fd00::5', family: 'IPv6', port: 22100, lastSeenMs: 5000 }
    ],
    firstSeenMs: 1000,
    lastSeenMs: 5000,
    ...over
  }
}

test('isCanonicalDeviceId: only the printed form of a valid ID', () => {
  assert.ok(isCanonicalDeviceId(ID_A))
  assert.not.ok(isCanonicalDeviceId(ID_A.toLowerCase()), 'lower case is another spelling')
  assert.not.ok(isCanonicalDeviceId(ID_A.replace(/-/g, '')), 'without dashes is another spelling')
  const typo = ID_A.slice(0, 3) + (ID_A[3] === 'A' ? 'B' : 'A') + ID_A.slice(4)
  assert.not.ok(isCanonicalDeviceId(typo), 'a wrong check character')
  assert.not.ok(isCanonicalDeviceId('AAAAAAA-AAAAAAA-AAAAAAA'))
  assert.not.ok(isCanonicalDeviceId(''))
})

test('pairingWindowAddresses: the record\'s addresses at the `pp` port; nothing for a missing or malformed port', () => {
  assert.equal(pairingWindowAddresses(sighting(ID_A, { extra: { pp: '40123' } })), ['10.0.0.5:40123', '[fd00::5]:40123'])
  for (const pp of [undefined, '', '0', '65536', '0123', '-1', '40123x', '1e3', ' 1']) {
    const extra: Record<string, string> = pp === undefined ? {} : { pp }
    assert.equal(pairingWindowAddresses(sighting(ID_A, { extra })), [], String(pp))
  }
  const rows = lanPeerRows([sighting(ID_A, { extra: { pp: '9' } }), sighting(ID_B)], { devices: [] }, [])
  assert.equal(rows[0].pairingAddresses, ['10.0.0.5:9', '[fd00::5]:9'])
  assert.not.ok('pairingAddresses' in rows[1], 'no window, no field')
})

test('isLanReachable: loopback listeners are not announced', () => {
  for (const host of ['127.0.0.1', '127.1.2.3', '::1', '::ffff:127.0.0.1', 'localhost']) assert.not.ok(isLanReachable(host), host)
  for (const host of ['0.0.0.0', '::', '10.0.0.5', 'fd00::5']) assert.ok(isLanReachable(host), host)
})

test('lanPeerRows joins sightings with pairing and sessions', () => {
  const rows = lanPeerRows([sighting(ID_A), sighting(ID_B, { name: 'stranger' })],
    { devices: [{ id: ID_A, name: 'desk', addresses: [] }] },
    [{ deviceId: ID_A, isConnected: true, address: '10.0.0.5:41000' }, { deviceId: ID_B, isConnected: false }])
  assert.equal(rows, [
    { deviceId: ID_A, name: 'host', pairedName: 'desk', isPaired: true, isConnected: true, connectedAddress: '10.0.0.5:41000', addresses: ['10.0.0.5:22100', '[fd00::5]:22100'], protocolVersion: 1, firstSeenMs: 1000, lastSeenMs: 5000 },
    { deviceId: ID_B, name: 'stranger', isPaired: false, isConnected: false, addresses: ['10.0.0.5:22100', '[fd00::5]:22100'], protocolVersion: 1, firstSeenMs: 1000, lastSeenMs: 5000 }
  ])
  const text = formatPeers({ isDiscoveryEnabled: true, peers: rows }, 12_000)
  assert.match(text, /PAIRED/)
  assert.match(text, /yes \(desk\)/)
  const stranger = text.split('\n').find(l => l.startsWith('stranger')) ?? ''
  assert.equal(stranger.split(/\s{2,}/).slice(-3), ['no', 'no', '7 s ago'])
  assert.match(formatPeers({ isDiscoveryEnabled: false, reason: 'mDNS discovery is off', peers: [] }, 0), /discovery is off/)
  assert.match(formatPeers({ isDiscoveryEnabled: true, peers: [] }, 0), /No lansync devices/)
})

test.run()
