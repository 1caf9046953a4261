// WAN mode: real agents with mDNS off and no addresses find each other through a hyperdht testnet
// on 127.0.0.1 (never the public DHT: every agent gets --bootstrap of the testnet, and
// LANSYNC_FORBID_PUBLIC_DHT=1 makes an agent without one refuse to join), converge folders, refuse
// a stranger on the real topic, keep one connection when LAN and WAN both work, and turn WAN mode
// on and off at run time.
import { test } from 'uvu'
import { setTimeout as sleep } from 'node:timers/promises'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import createTestnet, { type Testnet } from 'hyperdht/testnet'
import Hyperswarm from 'hyperswarm'
import { cleanupAll, cli, onCleanup, runCli, tempDir, waitFor } from '../helpers/cli.js'
import { makeCluster, waitConverged, type Device } from '../helpers/cluster.js'
import { deriveWanTopic } from '../../src/core/wan-topic.js'
import { decodeDeviceId } from '../../src/core/device-id.js'

// Inherited by every agent and CLI process this file starts.
process.env.LANSYNC_FORBID_PUBLIC_DHT = '1'

let testnet: Testnet
let bootstrap: string

test.before(async () => {
  testnet = await createTestnet(3, { host: '127.0.0.1' })
  bootstrap = `${testnet.bootstrap[0].host}:${testnet.bootstrap[0].port}`
  assert.match(bootstrap, /^127\.0\.0\.1:\d+$/)
})

let testStartedMs = 0
test.before.each(() => { testStartedMs = Date.now() })
test.after.each(() => { console.log(`test took ${Date.now() - testStartedMs} ms`) })

const wanArgs = (): string[] => ['--wan', '--bootstrap', bootstrap]

/** Runs `work`; if it fails, the agents' logs (their last lines) go with the error. */
async function explained<T> (devices: Device[], work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (err) {
    const logs = devices.map(d => `--- ${d.name}:\n${(d.agent?.output() ?? '(not running)').slice(-4000)}`).join('\n')
    throw new Error(`${(err as Error).message}\n${logs}`)
  }
}

/** Waits until `device` holds a session with every one of `others`, over `via`. */
async function waitConnected (device: Device, others: Device[], via: 'lan' | 'wan', timeoutMs = 30_000): Promise<any> {
  return await waitFor(async () => {
    const s = await device.status()
    return others.every(o => s.peers.some((p: any) => p.deviceId === o.id && p.isConnected && p.via === via)) ? s : undefined
  }, { timeoutMs, intervalMs: 200, what: `${device.name} to connect to ${others.map(o => o.name).join(', ')} over ${via}` })
}

test('two agents with mDNS off and no addresses find each other through the DHT and converge', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isWithoutAddresses: true, isSetUpInProcess: true })
  writeFileSync(join(a.folder, 'from-a.txt'), 'hello over the WAN')
  await a.start({ args: wanArgs() }); await b.start({ args: wanArgs() })
  writeFileSync(join(b.folder, 'from-b.bin'), randomBytes(500_000))
  const startedMs = Date.now()
  await waitConverged([a, b], { timeoutMs: 40_000 })
  console.log(`converged over the DHT testnet in ${Date.now() - startedMs} ms`)
  assert.is(readFileSync(join(b.folder, 'from-a.txt'), 'utf8'), 'hello over the WAN')

  const s = await waitConnected(a, [b], 'wan')
  assert.is(s.wan.isEnabled, true)
  assert.is(s.wan.isRunning, true)
  assert.is(s.wan.isBootstrapped, true)
  assert.ok(s.wan.dhtNodes > 0, 'the testnet answered')
  assert.is(s.wan.topics, 1)
  assert.is(s.wan.wanPeers, 1)
  assert.equal(s.wan.bootstrap, [bootstrap])
  assert.match(s.peers[0].address, /^127\.0\.0\.1:\d+$/)

  const human = await cli(b.home, ['status'])
  assert.match(human.stdout, /WAN: on, in the DHT \(\d+ nodes/)
  assert.match(human.stdout, /connected 127\.0\.0\.1:\d+ \(wan\)/)
  const wan = await cli(b.home, ['wan', '--json'])
  assert.is(wan.json.topics, 1)
  assert.is(wan.json.isEnabled, true)
  // The agents never listened for TCP from each other: the session is the swarm's.
  assert.ok(a.agent?.output().includes('(WAN)'))
  await a.stop(); await b.stop()
})

test('three agents converge through the DHT, each on one topic per paired device', async () => {
  const devices = await makeCluster(['a', 'b', 'c'], { isWithoutAddresses: true, isSetUpInProcess: true })
  const [a, b, c] = devices
  for (const d of devices) await d.start({ args: wanArgs() })
  writeFileSync(join(a.folder, 'from-a.txt'), 'a')
  writeFileSync(join(c.folder, 'from-c.bin'), randomBytes(200_000))
  await waitConverged(devices, { timeoutMs: 45_000 })
  writeFileSync(join(b.folder, 'from-a.txt'), 'changed on b')
  const tree = await waitConverged(devices, { timeoutMs: 30_000 })
  assert.equal(Object.keys(tree).sort(), ['from-a.txt', 'from-c.bin'])
  for (const d of devices) {
    const s = await waitConnected(d, devices.filter(o => o !== d), 'wan')
    assert.is(s.wan.topics, 2)
  }
  assert.is(readFileSync(join(c.folder, 'from-a.txt'), 'utf8'), 'changed on b')
  for (const d of devices) await d.stop()
})

test('a stranger that joins the real topic (it cannot compute it) is refused by the firewall, and so is a device unpaired at run time', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isWithoutAddresses: true, isSetUpInProcess: true })
  await a.start({ args: wanArgs() }); await b.start({ args: wanArgs() })
  await waitConnected(a, [b], 'wan')

  // Given the topic from a's secret key (a real stranger could not compute it), and a's device key.
  const identity = JSON.parse(readFileSync(join(a.home, 'identity.json'), 'utf8'))
  const aKeys = { publicKey: Buffer.from(identity.publicKey, 'hex'), secretKey: Buffer.from(identity.secretKey, 'hex') }
  const topic = deriveWanTopic(aKeys, decodeDeviceId(b.id))
  const stranger = new Hyperswarm({ dht: testnet.createNode() })
  onCleanup(async () => { await stranger.destroy() })
  let strangerConnections = 0
  stranger.on('connection', conn => { strangerConnections += 1; conn.on('error', () => {}) })
  stranger.join(topic, { server: true, client: true })
  await stranger.flush()

  // A direct dial of a's key (its device ID is no secret) is refused as well.
  const direct = stranger.dht.connect(aKeys.publicKey) as any
  const outcome = await new Promise<string>(resolve => {
    const timer = setTimeout(() => { direct.destroy(); resolve('no answer in 15 s') }, 15_000)
    direct.on('close', () => clearTimeout(timer))
    direct.on('open', () => resolve('open'))
    direct.on('error', (err: Error) => resolve(`error: ${err.message}`))
    direct.on('close', () => resolve('closed'))
  })
  assert.not.equal(outcome, 'open', 'the direct dial was refused')

  const s = await waitFor(async () => {
    const st = await a.status()
    return st.wan.refused >= 1 ? st : undefined
  }, { timeoutMs: 20_000, what: 'a to refuse the stranger' })
  assert.ok(s.wan.refused >= 1)
  assert.is(strangerConnections, 0, 'no connection ever opened for the stranger')
  assert.ok(a.agent?.output().includes('WAN: refused a connection from an unpaired device'))
  // The paired session is untouched.
  await waitConnected(a, [b], 'wan', 5_000)
  await stranger.destroy()

  // Unpaired at run time: b closes the session and leaves the topic. (A redial of a that still
  // reaches b is refused by the firewall, as the stranger's was above; whether a finds b again at
  // all after b left the topic is up to the DHT, so it is not waited for.)
  await cli(b.home, ['device', 'remove', a.id])
  await waitFor(async () => (await a.status()).peers.every((p: any) => !p.isConnected), { timeoutMs: 15_000, what: 'a to lose b' })
  const sb = await waitFor(async () => {
    const st = await b.status()
    return st.wan.topics === 0 && st.peers.length === 0 ? st : undefined
  }, { timeoutMs: 15_000, what: 'b to leave the topic of a, now unpaired' })
  assert.is(sb.wan.topics, 0)
  await sleep(3_000) // a's first lookup again
  assert.is((await a.status()).peers[0].isConnected, false, 'a gets no session with b again')
  await a.stop(); await b.stop()
})

test('a device reachable over the LAN and the WAN keeps one connection, the LAN one', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true }) // static loopback addresses, and the DHT too
  await a.start({ args: wanArgs() }); await b.start({ args: wanArgs() })
  // Whichever came first, the LAN connection ends up kept on both ends (a WAN session that came
  // first is replaced; a WAN connection that comes later is closed as a duplicate).
  await waitConnected(a, [b], 'lan')
  await waitConnected(b, [a], 'lan')
  const disconnects = (d: Device): number => (d.agent?.output() ?? '').split('\n').filter(l => l.includes('disconnected from')).length
  const before = [disconnects(a), disconnects(b)]
  writeFileSync(join(a.folder, 'x.txt'), 'x')
  await waitConverged([a, b])
  // Both swarms keep finding each other on their topic meanwhile (hyperswarm retries after 1 and 5 s).
  await new Promise(resolve => setTimeout(resolve, 6_000))
  for (const d of [a, b]) {
    const s = await d.status()
    assert.is(s.peers.length, 1)
    assert.is(s.peers[0].via, 'lan', `${d.name} kept the LAN connection`)
    assert.is(s.wan.topics, 1)
  }
  assert.equal([disconnects(a), disconnects(b)], before, 'the LAN session was never dropped')
  await a.stop(); await b.stop()
})

test('WAN mode turns on and off at run time (`lansync wan on|off`) and the agent follows', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isWithoutAddresses: true, isSetUpInProcess: true })
  await explained([a, b], async () => {
    await a.start(); await b.start()
    const before = await a.status()
    assert.is(before.wan.isEnabled, false)
    assert.is(before.wan.isRunning, false)
    assert.match((await cli(a.home, ['status'])).stdout, /WAN: off/)

    const on = await cli(a.home, ['wan', 'on', '--bootstrap', bootstrap, '--json'])
    assert.is(on.json.isEnabled, true)
    assert.is(on.json.isRunning, true)
    await cli(b.home, ['wan', 'on', '--bootstrap', bootstrap])
    assert.is(JSON.parse(readFileSync(join(a.home, 'config.json'), 'utf8')).isWanEnabled, true)
    writeFileSync(join(a.folder, 'one.txt'), 'one')
    await waitConverged([a, b], { timeoutMs: 40_000 })
    await waitConnected(b, [a], 'wan')

    const off = await cli(a.home, ['wan', 'off', '--json'])
    assert.is(off.json.isEnabled, false)
    assert.is(off.json.isRunning, false)
    await waitFor(async () => (await b.status()).peers.every((p: any) => !p.isConnected), { timeoutMs: 20_000, what: 'b to lose a' })
    assert.ok(a.agent?.output().includes('WAN: off'))

    writeFileSync(join(b.folder, 'while-off.txt'), 'written while a was off the DHT')
    await cli(a.home, ['wan', 'on'])
    await waitConverged([a, b], { timeoutMs: 40_000, what: 'the file written while off to arrive' })
    assert.is(readFileSync(join(a.folder, 'while-off.txt'), 'utf8'), 'written while a was off the DHT')

    // The setting persists: a restart without flags joins the DHT again.
    await a.stop()
    await a.start()
    await waitConnected(a, [b], 'wan')
    await a.stop(); await b.stop()
  })
})

test('bad WAN inputs fail with clear errors', async () => {
  const home = join(tempDir(), 'home')
  await cli(home, ['init', '--name', 'x'])
  const cases: Array<[string[], RegExp]> = [
    [['start', '--no-mdns', '--wan', '--bootstrap', 'nonsense'], /bootstrap node must be HOST:PORT.*"nonsense": expected HOST:PORT/],
    [['start', '--no-mdns', '--wan', '--bootstrap', '127.0.0.1:0'], /the port must be 1 to 65535/],
    [['wan', 'on', '--bootstrap', '[::1]:4000'], /IPv6 is not supported/],
    [['wan', 'on', '--bootstrap', '300.1.2.3:49737'], /not an IPv4 address/],
    [['wan', 'bootstrap', 'bad_host!:5'], /not a host name/]
  ]
  for (const [args, message] of cases) {
    const r = await runCli(home, args)
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.match(r.stderr, message)
    assert.not.match(r.stderr, /internal error/)
  }
  const usage = await runCli(home, ['wan', 'bootstrap'])
  assert.is(usage.code, 2)
  assert.match(usage.stderr, /name bootstrap nodes HOST:PORT, or --public/)
  assert.is(JSON.parse(readFileSync(join(home, 'config.json'), 'utf8')).isWanEnabled, false, 'nothing was saved')

  // No bootstrap anywhere: the public DHT, which this environment forbids (and tests must never reach).
  const publicDht = await runCli(home, ['start', '--no-mdns', '--listen', '127.0.0.1:0', '--wan'])
  assert.is(publicDht.code, 1)
  assert.match(publicDht.stderr, /WAN mode needs --bootstrap HOST:PORT here/)

  // A hand-edited config is checked on load.
  const configFile = join(home, 'config.json')
  const config = JSON.parse(readFileSync(configFile, 'utf8'))
  writeFileSync(configFile, JSON.stringify({ ...config, wanBootstrap: ['10.0.0.1'] }))
  const bad = await runCli(home, ['status'])
  assert.is(bad.code, 1)
  assert.match(bad.stderr, /wanBootstrap: a bootstrap node must be HOST:PORT/)
  writeFileSync(configFile, JSON.stringify({ ...config, isWanEnabled: 'yes' }))
  assert.match((await runCli(home, ['status'])).stderr, /isWanEnabled must be true or false/)
})

test.after(async () => {
  await cleanupAll()
  await testnet?.destroy()
})
test.run()
