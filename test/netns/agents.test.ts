// Whole agents on a virtual LAN: each device is a real `lansync start` process in its own network
// namespace, paired by device ID alone (no addresses), so every connection starts from an mDNS
// sighting. Also what a sighting must never buy: an unpaired device is listed but refused, and a
// spoofed announcement of a paired device's ID leads to a refused handshake and no data.
// Nothing here sends multicast in the root namespace: the CLI runs there, the agents do not.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createLan, netnsAvailable, ownNamespaces, type Lan } from '../helpers/netns.js'
import { AGENT_PORT, lanTest, startNsAgent, type NsAgent } from '../helpers/netns-agent.js'
import { cleanupAll, cli, runCli, tempDir, waitFor } from '../helpers/cli.js'
import { snapshotTree, waitConverged } from '../helpers/cluster.js'
import type { LanPeer, LanPeersResult } from '../../src/sync/lan-discovery.js'

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))
const availability = await netnsAvailable()
if (!availability.ok) console.log(`SKIP test/netns/agents.test.ts: ${availability.reason}`)
const it = lanTest(availability.ok, () => started.map(x => `--- ${x.name} (host ${x.host}) ---\n${x.output()}`).join('\n'))

const HOSTS = { a: 0, b: 1, c: 2, stranger: 3, attacker: 4, spare: 5 }

interface Dev { name: string, home: string, folder: string, id: string, agent?: NsAgent }

let lan: Lan
const devs: Record<'a' | 'b' | 'c' | 'stranger', Dev> = {} as any

async function makeDevice (root: string, name: string): Promise<Dev> {
  const home = join(root, name, 'home')
  const folder = join(root, name, 'docs')
  mkdirSync(folder, { recursive: true })
  const init = await cli(home, ['init', '--name', name, '--json'])
  await cli(home, ['folder', 'add', folder, '--id', 'docs', '--label', 'docs'])
  return { name, home, folder, id: init.json.deviceId }
}

/** `x` pairs `y` by ID only (no address) and shares the folder with it. */
async function pair (x: Dev, y: Dev): Promise<void> {
  await cli(x.home, ['device', 'add', y.id, '--name', y.name])
  await cli(x.home, ['folder', 'share', 'docs', y.id])
}

const started: NsAgent[] = []

async function start (dev: Dev, host: number, args: string[] = []): Promise<NsAgent> {
  dev.agent = await startNsAgent(lan, host, dev.name, dev.home, { args })
  started.push(dev.agent)
  return dev.agent
}

function agentOf (dev: Dev): NsAgent {
  if (dev.agent === undefined) throw new Error(`${dev.name} is not running`)
  return dev.agent
}

async function lanPeers (dev: Dev): Promise<LanPeer[]> {
  return ((await agentOf(dev).call('peers')) as LanPeersResult).peers
}

/** Waits until `dev` lists `other` on the LAN with a row that passes `check`. */
async function waitSeen (dev: Dev, other: Dev, check: (p: LanPeer) => boolean, what: string, timeoutMs = 20_000): Promise<LanPeer> {
  let last: LanPeer[] = []
  try {
    return await waitFor(async () => {
      last = await lanPeers(dev)
      return last.find(p => p.deviceId === other.id && check(p))
    }, { timeoutMs, intervalMs: 200, what: `${dev.name} to see ${other.name} ${what}` })
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${dev.name} sees: ${JSON.stringify(last, null, 1)}\n--- ${dev.name} output ---\n${dev.agent?.output() ?? ''}\n--- ${other.name} output ---\n${other.agent?.output() ?? '(not running)'}`)
  }
}

function isConnectedTo (status: any, dev: Dev): boolean {
  return status.peers.some((p: any) => p.deviceId === dev.id && p.isConnected === true)
}

test.before(async () => {
  if (!availability.ok) return
  const root = tempDir('lansync-netns-agents-')
  const names = ['a', 'b', 'c', 'stranger'] as const
  const made = await Promise.all(names.map(async name => await makeDevice(root, name)))
  names.forEach((name, i) => { devs[name] = made[i] })
  const { a, b, c, stranger } = devs
  // Each device's own CLI calls in order, devices in parallel. The stranger pairs everyone on its
  // side; nobody pairs it back.
  const knows: Array<[Dev, Dev[]]> = [[a, [b, c]], [b, [a, c]], [c, [a, b]], [stranger, [a, b, c]]]
  await Promise.all(knows.map(async ([x, ys]) => { for (const y of ys) await pair(x, y) }))
  lan = await createLan({ hosts: 6 })
})

let testStartedMs = 0
test.before.each(() => { testStartedMs = Date.now() })
test.after.each(() => { console.log(`  (${((Date.now() - testStartedMs) / 1000).toFixed(1)} s)`) })

test.after(async () => {
  try {
    if (availability.ok) {
      await lan?.destroy()
      if (process.env.TEST_VERBOSE !== undefined) for (const x of started) console.log(`--- ${x.name} (host ${x.host}) ---\n${x.output()}`)
      assert.equal(await ownNamespaces(), [], 'every namespace of this run is deleted')
    }
  } finally {
    await cleanupAll()
  }
})

test('`lansync peers` without a running agent says so', async () => {
  const home = join(tempDir(), 'home')
  await cli(home, ['init', '--name', 'idle'])
  const r = await runCli(home, ['peers'])
  assert.is(r.code, 1)
  assert.match(r.stderr, /no agent is running/)
})

it('three devices paired by ID alone find each other by mDNS and converge', async () => {
  const { a, b, c } = devs
  writeFileSync(join(a.folder, 'from-a.txt'), 'a')
  writeFileSync(join(b.folder, 'from-b.txt'), 'b')
  mkdirSync(join(c.folder, 'sub'))
  writeFileSync(join(c.folder, 'sub', 'from-c.txt'), 'c')
  await Promise.all([start(a, HOSTS.a), start(b, HOSTS.b), start(c, HOSTS.c)])
  const tree = await waitConverged([a, b, c], { what: 'three folders to converge', timeoutMs: 45_000 })
  assert.equal(Object.keys(tree).sort(), ['from-a.txt', 'from-b.txt', 'sub', 'sub/from-c.txt'])
  for (const x of [a, b, c]) {
    await waitFor(async () => {
      const status = await agentOf(x).call('status')
      return [a, b, c].every(y => y === x || isConnectedTo(status, y))
    }, { timeoutMs: 15_000, what: `${x.name} to be connected to the other two\n${agentOf(x).output()}` })
    assert.ok(JSON.parse(readFileSync(join(x.home, 'config.json'), 'utf8')).devices.every((d: any) => d.addresses.length === 0), 'discovery writes no address into the config')
    assert.match(agentOf(x).output(), /mDNS: found /)
  }
  const seen = await waitSeen(a, b, p => p.isConnected, 'connected')
  assert.is(seen.name, 'b')
  assert.ok(seen.isPaired)
  assert.ok(seen.addresses.includes(`${lan.hosts[HOSTS.b].address}:${AGENT_PORT}`), JSON.stringify(seen.addresses))
  // The CLI itself, from the root namespace, through the control socket.
  const human = await cli(a.home, ['peers'])
  assert.match(human.stdout, /NAME\s+DEVICE ID\s+ADDRESSES\s+PAIRED\s+CONNECTED\s+LAST SEEN/)
  assert.ok(human.stdout.includes(c.id))
  const json = await cli(a.home, ['peers', '--json'])
  assert.ok(json.json.isDiscoveryEnabled)
  assert.equal(json.json.peers.map((p: LanPeer) => p.deviceId).sort(), [b.id, c.id].sort())
})

it('a device whose address changes is found at the new one and keeps syncing', async () => {
  const { a, b, c } = devs
  const oldAddress = lan.hosts[HOSTS.c].address
  const marks = [a, b].map(d => agentOf(d).output().length)
  const startedMs = Date.now()
  const newAddress = await lan.readdress(HOSTS.c)
  assert.is.not(newAddress, oldAddress)
  for (const x of [a, b]) {
    await waitSeen(x, c, p => p.addresses[0] === `${newAddress}:${AGENT_PORT}` && !p.addresses.some(s => s.startsWith(`${oldAddress}:`)), `at ${newAddress} only`)
  }
  writeFileSync(join(a.folder, 'after-move-a.txt'), 'a2')
  writeFileSync(join(c.folder, 'after-move-c.txt'), 'c2')
  const tree = await waitConverged([a, b, c], { what: 'folders to converge after the move', timeoutMs: 60_000 })
  assert.ok('after-move-a.txt' in tree && 'after-move-c.txt' in tree)
  // The files may have travelled through the other device: each must also talk to c directly.
  for (const [i, x] of [a, b].entries()) {
    await waitFor(async () => {
      const peer = (await agentOf(x).call('status')).peers.find((p: any) => p.deviceId === c.id)
      return peer?.isConnected === true && peer.address.startsWith(`${newAddress}:`)
    }, { timeoutMs: 20_000, what: `${x.name} to talk to c at its new address` })
    assert.match(agentOf(x).output().slice(marks[i]), new RegExp(`connected to c at ${newAddress.replace(/\./g, '\\.')}:`))
  }
  console.log(`  (moved device back in sync after ${((Date.now() - startedMs) / 1000).toFixed(1)} s)`)
})

it('a device restarted in another namespace is found there and syncs', async () => {
  const { a, b, c } = devs
  const mark = agentOf(a).output().length
  await agentOf(c).stop()
  await agentOf(a).waitForOutput(/disconnected from c: /, { from: mark })
  await start(c, HOSTS.spare)
  const spareAddress = lan.hosts[HOSTS.spare].address
  await waitSeen(a, c, p => p.isConnected && p.addresses[0] === `${spareAddress}:${AGENT_PORT}`, `connected at ${spareAddress}`)
  writeFileSync(join(b.folder, 'after-restart-b.txt'), 'b3')
  const tree = await waitConverged([a, b, c], { what: 'folders to converge after the restart', timeoutMs: 30_000 })
  assert.ok('after-restart-b.txt' in tree)
})

it('an unpaired device is listed by `peers` but can neither read nor write', async () => {
  const { a, b, c, stranger } = devs
  writeFileSync(join(stranger.folder, 'stranger-secret.txt'), 'not for you')
  const strangerBefore = snapshotTree(stranger.folder)
  const marks = [a, b, c].map(d => agentOf(d).output().length)
  await start(stranger, HOSTS.stranger)
  const strangerAddress = lan.hosts[HOSTS.stranger].address
  for (const x of [a, b, c]) {
    const row = await waitSeen(x, stranger, p => p.addresses.includes(`${strangerAddress}:${AGENT_PORT}`), 'on the LAN')
    assert.is(row.isPaired, false)
    assert.is(row.isConnected, false)
    assert.is(row.name, 'stranger')
  }
  const human = await cli(a.home, ['peers'])
  const line = human.stdout.split('\n').find(l => l.includes(stranger.id)) ?? ''
  assert.match(line, /^stranger\s/)
  // It knows everyone and dials them; each refuses its key before reading a message, twice over.
  const refusal = new RegExp(`refused a connection from ${strangerAddress.replace(/\./g, '\\.')}:\\d+: the remote device key is not paired`, 'g')
  for (const [i, x] of [a, b, c].entries()) {
    await waitFor(() => (agentOf(x).output().slice(marks[i]).match(refusal)?.length ?? 0) >= 2, { timeoutMs: 20_000, what: `${x.name} to refuse the stranger twice\n${agentOf(x).output()}` })
    assert.not.ok(agentOf(x).output().includes(`connected to ${stranger.id.slice(0, 7)}`), `${x.name} never had a session with the stranger`)
  }
  await agentOf(stranger).waitForOutput(/cannot connect to a at .* \(found on the LAN\)/)
  writeFileSync(join(a.folder, 'written-later.txt'), 'a4')
  const tree = await waitConverged([a, b, c], { what: 'paired devices to sync a new file', timeoutMs: 30_000 })
  assert.not.ok(Object.keys(tree).some(p => p.includes('stranger')), 'nothing of the stranger reached the paired devices')
  assert.equal(snapshotTree(stranger.folder), strangerBefore, 'nothing reached the stranger')
  assert.not.match(agentOf(stranger).output(), /\bconnected to /)
  await agentOf(stranger).stop()
})

it('`start --no-mdns` neither announces nor looks', async () => {
  const { a, b, c, stranger } = devs
  await start(stranger, HOSTS.stranger, ['--no-mdns'])
  assert.match(agentOf(stranger).output(), /mDNS discovery is off/)
  const r = await cli(stranger.home, ['peers', '--json'])
  assert.equal(r.json, { isDiscoveryEnabled: false, reason: 'mDNS discovery is off', peers: [] })
  // A fresh listener's first query is answered by every announcing device; once it has heard a,
  // b and c, a silent stranger would have been heard too if it announced.
  const probeId = 'PROBEPR-OBEPROB-EPROBEP-ROBEPRO-BEPROBE-PROBEPR-OBEPROB-EPROBEP'
  const probe = lan.spawn(HOSTS.attacker, process.execPath, ['--import', 'tsx', join(FIXTURES, 'discovery-node.ts'), JSON.stringify({ deviceId: probeId, deviceName: 'probe', port: 9, protocolVersion: 1 })], { cwd: fileURLToPath(new URL('../..', import.meta.url)) })
  let probeText = ''
  probe.stdout?.on('data', d => { probeText += String(d) })
  const heard = (): string[] => probeText.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).filter(m => m.event === 'peer').map(m => m.sighting.deviceId)
  await waitFor(() => [a, b, c].every(x => heard().includes(x.id)), { timeoutMs: 15_000, what: `the probe to hear a, b and c\n${probeText}` })
  probe.stdin?.write('table\n')
  await waitFor(() => probeText.includes('"event":"table"'), { timeoutMs: 5_000, what: 'the probe\'s table' })
  assert.not.ok(heard().includes(stranger.id), 'the stranger is not announced')
  assert.not.ok(probeText.includes(stranger.id), 'nor in the probe\'s table')
  probe.kill('SIGTERM')
  await agentOf(stranger).stop()
})

it('a spoofed announcement of a paired device leads to a refused handshake and no data', async () => {
  const { a, b, c } = devs
  // b goes away (and says goodbye), so a and c dial wherever b is announced next.
  const mark = agentOf(a).output().length
  await agentOf(b).stop()
  await agentOf(a).waitForOutput(/b \([A-Z2-7]{7}\) is no longer announced \(goodbye\)/, { from: mark })
  const aBefore = snapshotTree(a.folder)
  const attackerAddress = lan.hosts[HOSTS.attacker].address
  const spoof = lan.spawn(HOSTS.attacker, process.execPath, ['--import', 'tsx', join(FIXTURES, 'spoof-peer.ts'), JSON.stringify({ deviceId: b.id, port: AGENT_PORT, name: 'b' })], { cwd: fileURLToPath(new URL('../..', import.meta.url)) })
  let events: any[] = []
  let spoofText = ''
  spoof.stdout?.on('data', d => {
    spoofText += String(d)
    events = spoofText.split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l))
  })
  spoof.stderr?.on('data', d => { spoofText += String(d) })
  const aAddress = lan.hosts[HOSTS.a].address
  await waitFor(() => events.some(e => e.event === 'published'), { timeoutMs: 15_000, what: `the spoof to publish\n${spoofText}` })
  const row = await waitSeen(a, b, p => p.addresses.includes(`${attackerAddress}:${AGENT_PORT}`), `announced at the attacker's ${attackerAddress}`)
  assert.ok(row.isPaired, 'the record claims a paired device')
  await agentOf(a).waitForOutput(new RegExp(`cannot connect to b at ${attackerAddress.replace(/\./g, '\\.')}:${AGENT_PORT} \\(found on the LAN\\)`), { from: mark })
  await waitFor(() => events.some(e => e.event === 'connection' && e.from === aAddress) && events.some(e => e.event === 'closed' && e.from === aAddress),
    { timeoutMs: 15_000, what: `a's dial to reach the spoof and end\n${spoofText}` })
  assert.not.ok(events.some(e => e.event === 'handshake' || e.event === 'data'), `the spoof completed no handshake and got no data: ${spoofText}`)
  for (const x of [a, c]) assert.not.ok(isConnectedTo(await agentOf(x).call('status'), b), `${x.name} is not connected to "b"`)
  assert.equal(snapshotTree(a.folder), aBefore)
  // The real b comes back while the spoof keeps announcing: the hint that proves the key wins.
  writeFileSync(join(b.folder, 'b-is-back.txt'), 'b5')
  await start(b, HOSTS.b)
  const tree = await waitConverged([a, b, c], { what: 'folders to converge with the real b back', timeoutMs: 30_000 })
  assert.ok('b-is-back.txt' in tree)
  for (const x of [a, c]) {
    await waitFor(async () => isConnectedTo(await agentOf(x).call('status'), b), { timeoutMs: 15_000, what: `${x.name} to connect to the real b\n--- ${x.name} ---\n${agentOf(x).output()}\n--- b ---\n${agentOf(b).output()}` })
  }
  assert.not.ok(events.some(e => e.event === 'handshake' || e.event === 'data'), spoofText)
  spoof.kill('SIGTERM')
})

test.run()
