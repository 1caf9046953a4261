// mDNS discovery on a real virtual LAN: each device runs in its own network namespace behind a
// bridge, so every announcement, goodbye and address change crosses real interfaces. Nothing here
// sends multicast in the root namespace.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomInt } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import { createLan, netnsAvailable, ownNamespaces, type Lan } from '../helpers/netns.js'
import type { Sighting } from '../../src/net/discovery.js'

const FIXTURES = fileURLToPath(new URL('./fixtures/', import.meta.url))
const TTL_MS = 6_000
const BAD_ANNOUNCEMENTS = 8 // services published by fixtures/bad-announcer.ts

const availability = await netnsAvailable()
if (!availability.ok) console.log(`SKIP test/netns/discovery.test.ts: ${availability.reason}`)
const it = availability.ok ? test : test.skip

interface Message { event: string, [key: string]: any }

/** A fixture process in a namespace, read as JSON lines; waits see past and future messages. */
class Fixture {
  readonly messages: Message[] = []
  private readonly waiters = new Set<() => void>()
  private stderr = ''
  readonly exited: Promise<number | null>

  constructor (readonly label: string, readonly child: ChildProcess) {
    let buffered = ''
    child.stdout?.setEncoding('utf8')
    child.stdout?.on('data', (chunk: string) => {
      buffered += chunk
      let nl
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        try { this.messages.push(JSON.parse(line)) } catch { this.stderr += `(not JSON) ${line}\n` }
      }
      for (const w of this.waiters) w()
    })
    child.stderr?.on('data', d => { this.stderr += String(d) })
    this.exited = new Promise(resolve => child.once('exit', code => { for (const w of this.waiters) w(); resolve(code) }))
  }

  get isRunning (): boolean { return this.child.exitCode === null && this.child.signalCode === null }

  send (command: string): void { this.child.stdin?.write(command + '\n') }

  /** Resolves with the first message (from index `from` on) that matches, or fails at the deadline. */
  async waitFor (what: string, isMatch: (m: Message) => boolean, { timeoutMs = 10_000, from = 0 } = {}): Promise<Message> {
    return await new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.messages.slice(from).find(isMatch)
        if (found !== undefined) { done(); resolve(found); return }
        if (!this.isRunning) { done(); reject(new Error(`${this.label} exited while waiting for ${what}\n${this.dump()}`)) }
      }
      const timer = setTimeout(() => { done(); reject(new Error(`${this.label}: no ${what} within ${timeoutMs} ms\n${this.dump()}`)) }, timeoutMs)
      const done = (): void => { clearTimeout(timer); this.waiters.delete(check) }
      this.waiters.add(check)
      check()
    })
  }

  async table (): Promise<Sighting[]> {
    const from = this.messages.length
    this.send('table')
    return (await this.waitFor('table', m => m.event === 'table', { from, timeoutMs: 5_000 })).table
  }

  dump (): string {
    return `  messages: ${this.messages.map(m => JSON.stringify(m)).join('\n            ')}\n  stderr: ${this.stderr}`
  }
}

/** A device ID in the real format (eight groups of seven base32 characters). */
function randomDeviceId (): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  return Array.from({ length: 8 }, () => Array.from({ length: 7 }, () => alphabet[randomInt(32)]).join('')).join('-')
}

let lan: Lan
const nodes: Fixture[] = []
const ids = [randomDeviceId(), randomDeviceId(), randomDeviceId()]

function startNode (i: number): Fixture {
  const options = { deviceId: ids[i], deviceName: `host-${i}`, port: 40_000 + i, protocolVersion: 1, ttlMs: TTL_MS, interfaceCheckMs: 250 }
  const child = lan.spawn(i, process.execPath, ['--import', 'tsx', FIXTURES + 'discovery-node.ts', JSON.stringify(options)])
  return new Fixture(`host ${i}`, child)
}

const isPeer = (deviceId: string, check: (s: Sighting) => boolean = () => true) =>
  (m: Message): boolean => m.event === 'peer' && m.sighting.deviceId === deviceId && check(m.sighting)

test.before(async () => {
  if (!availability.ok) return
  lan = await createLan({ hosts: 4 })
  for (let i = 0; i < 3; i++) nodes.push(startNode(i))
  await Promise.all(nodes.map(n => n.waitFor('ready', m => m.event === 'ready', { timeoutMs: 15_000 })))
})

test.after(async () => {
  if (!availability.ok) return
  await lan?.destroy()
  assert.equal(await ownNamespaces(), [], 'every namespace of this run is deleted')
})

it('three devices each find the other two with their addresses and device IDs', async () => {
  await Promise.all(nodes.flatMap((node, i) => nodes.map(async (_, j) => {
    if (i === j) return
    const host = lan.hosts[j]
    const found = await node.waitFor(`host ${j} at ${host.address}`, isPeer(ids[j], s => s.addresses.some(a => a.address === host.address)))
    const s: Sighting = found.sighting
    assert.is(s.name, `host-${j}`)
    assert.is(s.port, 40_000 + j)
    assert.is(s.protocolVersion, 1)
    assert.ok(s.addresses.some(a => a.address === host.address6 && a.family === 'IPv6'), `IPv6 ${host.address6} in ${JSON.stringify(s.addresses)}`)
    assert.ok(s.addresses.every(a => !a.address.startsWith('fe80')), 'link-local IPv6 is not a usable hint')
  })))
  for (const [i, node] of nodes.entries()) {
    const table = await node.table()
    assert.equal(table.map(s => s.deviceId).sort(), ids.filter((_, j) => j !== i).sort(), `host ${i} sees exactly the others, never itself`)
  }
})

it('malformed announcements are rejected without a crash', async () => {
  const marks = nodes.map(n => n.messages.length)
  const bad = new Fixture('bad announcer', lan.spawn(3, process.execPath, ['--import', 'tsx', FIXTURES + 'bad-announcer.ts']))
  await bad.waitFor('published', m => m.event === 'published', { timeoutMs: 15_000 })
  const badAddress = lan.hosts[3].address
  // Each node must have heard and refused every garbage record: fewer would mean some went unseen.
  await Promise.all(nodes.map(async (node, i) => {
    await node.waitFor(`${BAD_ANNOUNCEMENTS} rejections`, () => {
      const seen = node.messages.slice(marks[i]).filter(m => m.event === 'rejected' && m.from === badAddress)
      return new Set(seen.map(m => m.reason)).size === 2 && seen.length >= BAD_ANNOUNCEMENTS
    })
  }))
  for (const [i, node] of nodes.entries()) {
    assert.ok(node.isRunning, `host ${i} still runs`)
    assert.equal((await node.table()).map(s => s.deviceId).sort(), ids.filter((_, j) => j !== i).sort())
    assert.not.ok(node.messages.slice(marks[i]).some(m => m.event === 'peer' && m.sighting.addresses.some((a: any) => a.address === badAddress)))
  }
  bad.child.kill('SIGTERM')
  await bad.exited
})

it('a device that leaves and comes back with a new address is found there', async () => {
  const oldAddress = lan.hosts[2].address
  const marks = nodes.map(n => n.messages.length)
  const newAddress = await lan.readdress(2)
  assert.is.not(newAddress, oldAddress)
  for (const i of [0, 1]) {
    // Host 2 re-announces when it sees its new address (a goodbye, then the record). If it looks
    // while its link is still down, both are lost and the next periodic query brings the new
    // address instead: either way the new address soon leads and the old one is gone, which is
    // what a dialer needs.
    await nodes[i].waitFor(`host 2 at ${newAddress}`, isPeer(ids[2], s => s.addresses[0]?.address === newAddress && !s.addresses.some(a => a.address === oldAddress)), { from: marks[i], timeoutMs: 20_000 })
    const s = (await nodes[i].table()).find(x => x.deviceId === ids[2])
    assert.ok(s !== undefined)
    assert.is(s.addresses[0].address, newAddress, 'the new address is the first candidate')
    assert.ok(s.addresses.some(a => a.address === lan.hosts[2].address6), 'the IPv6 address is still listed')
    assert.not.ok(s.addresses.some(a => a.address === oldAddress), 'the old address is gone')
  }
})

it('a device that vanishes without a goodbye expires after the TTL', async () => {
  const marks = nodes.map(n => n.messages.length)
  const startedMs = Date.now()
  nodes[2].child.kill('SIGKILL')
  await nodes[2].exited
  for (const i of [0, 1]) {
    const m = await nodes[i].waitFor('host 2 expiry', x => x.event === 'expired' && x.deviceId === ids[2], { from: marks[i], timeoutMs: TTL_MS + 5_000 })
    assert.is(m.reason, 'ttl')
  }
  assert.ok(Date.now() - startedMs >= TTL_MS - 2_500, 'not expired long before the TTL')
})

it('a device that stops sends a goodbye the others act on at once', async () => {
  const mark = nodes[0].messages.length
  const startedMs = Date.now()
  nodes[1].send('stop')
  await nodes[1].waitFor('stopped', m => m.event === 'stopped')
  const m = await nodes[0].waitFor('host 1 goodbye', x => x.event === 'expired' && x.deviceId === ids[1], { from: mark, timeoutMs: 3_000 })
  assert.is(m.reason, 'goodbye')
  assert.ok(Date.now() - startedMs < TTL_MS / 2, 'the goodbye, not the TTL, removed it')
  assert.is(await nodes[1].exited, 0)
  assert.equal(await nodes[0].table(), [])
})

test.run()
