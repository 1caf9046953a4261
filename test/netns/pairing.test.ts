// Pairing as people do it on a LAN: `lansync pair` in one terminal shows a code, `lansync pair
// CODE` in another terminal on another machine finds that pairing window by mDNS (no address
// typed) and completes it. Three devices paired this way converge a folder; a wrong code fails
// and the right one still works; an expired code fails with a clear message. Every agent and
// every joining CLI runs inside a namespace of a virtual LAN: no multicast in the root namespace.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createLan, netnsAvailable, ownNamespaces, type Lan } from '../helpers/netns.js'
import { lanTest, startNsAgent, type NsAgent } from '../helpers/netns-agent.js'
import { ROOT, cleanupAll, cli, tempDir, waitFor } from '../helpers/cli.js'
import { waitConverged } from '../helpers/cluster.js'
import { spawnCli, wrongCodeFor, type Running } from '../helpers/pairing.js'

const availability = await netnsAvailable()
if (!availability.ok) console.log(`SKIP test/netns/pairing.test.ts: ${availability.reason}`)
const it = lanTest(availability.ok, () => Object.values(devs).map(d => `--- ${d.name} ---\n${d.agent?.output() ?? '(not running)'}`).join('\n'))

interface Dev { name: string, home: string, folder: string, id: string, host: number, agent?: NsAgent }

let lan: Lan
const devs: Record<'a' | 'b' | 'c', Dev> = {} as any

test.before(async () => {
  if (!availability.ok) return
  const root = tempDir('lansync-netns-pairing-')
  for (const [host, name] of (['a', 'b', 'c'] as const).entries()) {
    const home = join(root, name, 'home')
    const init = await cli(home, ['init', '--name', name, '--json'])
    devs[name] = { name, home, folder: join(root, name, 'docs'), id: init.json.deviceId, host }
  }
  // Only a has the folder at first; b and c get it by accepting what pairing offers them.
  mkdirSync(devs.a.folder)
  writeFileSync(join(devs.a.folder, 'from-a.txt'), 'a')
  await cli(devs.a.home, ['folder', 'add', devs.a.folder, '--id', 'docs', '--label', 'docs'])
  lan = await createLan({ hosts: 3 })
})

test.after(async () => {
  try {
    if (availability.ok) {
      for (const d of Object.values(devs)) await d.agent?.stop()
      await lan?.destroy()
      assert.equal(await ownNamespaces(), [], 'every namespace of this run is deleted')
    }
  } finally {
    await cleanupAll()
  }
})

async function start (d: Dev): Promise<NsAgent> {
  d.agent = await startNsAgent(lan, d.host, d.name, d.home)
  return d.agent
}

/** `lansync pair ARGS` on `d`, from the root namespace (it only talks to the agent's control socket). */
async function openWindow (d: Dev, args: string[] = []): Promise<Running & { code: string }> {
  const running = spawnCli(d.home, ['pair', ...args])
  // A person reads the code and the command to type on the other device: no address in it.
  const line = await waitFor(() => /^ {2}lansync pair (\S+)$/m.exec(running.output()), { timeoutMs: 20_000, what: `the pairing code on ${d.name}:\n${running.output()}${running.stderr()}` })
  assert.match(running.output(), /or, where multicast does not reach it:\n {2}lansync pair \S+ --addr \S+/)
  return { ...running, code: line[1] }
}

/** `lansync pair CODE ...` typed on `d`, inside its namespace (it dials the window on the LAN). */
async function typeCode (d: Dev, code: string, args: string[] = []): Promise<{ code: number, stdout: string, stderr: string }> {
  const child = lan.spawn(d.host, process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), '--home', d.home, 'pair', code, ...args], { cwd: ROOT })
  let stdout = ''
  let stderr = ''
  child.stdout?.on('data', x => { stdout += String(x) })
  child.stderr?.on('data', x => { stderr += String(x) })
  const exit = await new Promise<number>(resolve => child.on('close', c => resolve(c ?? -1)))
  return { code: exit, stdout, stderr }
}

function deviceIds (d: Dev): string[] {
  return JSON.parse(readFileSync(join(d.home, 'config.json'), 'utf8')).devices.map((x: { id: string }) => x.id)
}

it('a wrong code fails, the right one then pairs, found on the LAN by mDNS alone', async () => {
  const { a, b } = devs
  await Promise.all([start(a), start(b)])
  const window = await openWindow(a, ['--folder', 'docs'])
  const wrong = await typeCode(b, wrongCodeFor(window.code))
  assert.is.not(wrong.code, 0)
  assert.match(wrong.stdout, /Looking for the other device's pairing window on the LAN/)
  assert.match(wrong.stdout, new RegExp(`Connecting to "a" at ${lan.hosts[a.host].address.replace(/\./g, '\\.')}:\\d+`))
  assert.match(wrong.stderr, /wrong pairing code: check it against the code the other device shows and try again \(4 attempts left/)
  await waitFor(() => /A wrong code was tried from .*; 4 attempts left\. Waiting/.test(window.output()), { what: `a to report the wrong code\n${window.output()}` })
  assert.not.ok(deviceIds(b).includes(a.id), 'a wrong code adds nothing')

  const right = await typeCode(b, window.code.toLowerCase().replace(/-/g, ' '))
  assert.is(right.code, 0, right.stderr)
  assert.match(right.stdout, new RegExp(`Paired with "a" \\(${a.id}\\)`))
  assert.match(right.stdout, /"a" offers folder "docs" \(docs\): accept it with `lansync folder accept docs PATH`/)
  assert.is(await window.exited, 0, window.stderr())
  assert.match(window.output(), new RegExp(`Paired with "b" \\(${b.id}\\)`))
  assert.ok(deviceIds(a).includes(b.id) && deviceIds(b).includes(a.id), 'each lists the other')
  await cli(b.home, ['folder', 'accept', 'docs', b.folder])
  const tree = await waitConverged([a, b], { what: 'a and b to share docs', timeoutMs: 45_000 })
  assert.equal(Object.keys(tree), ['from-a.txt'])
})

it('a third device pairs with both (once with no agent running) and all three converge', async () => {
  const { a, b, c } = devs
  // c's agent is not running: `pair CODE` looks on the LAN by itself (browsing only).
  const fromA = await openWindow(a, ['--folder', 'docs'])
  const first = await typeCode(c, fromA.code)
  assert.is(first.code, 0, first.stderr)
  assert.match(first.stdout, /Paired with "a"/)
  assert.match(first.stdout, /The agent is not running here/)
  assert.is(await fromA.exited, 0, fromA.stderr())
  await cli(c.home, ['folder', 'accept', 'docs', c.folder])
  await start(c)
  // Now through c's running agent, which has been watching the LAN.
  const fromB = await openWindow(b, ['--folder', 'docs'])
  const second = await typeCode(c, fromB.code)
  assert.is(second.code, 0, second.stderr)
  assert.match(second.stdout, new RegExp(`"b" offers folder "docs" \\(docs\\), which this device has too: link them with \`lansync folder share docs ${b.id}\``))
  assert.is(await fromB.exited, 0, fromB.stderr())
  await cli(c.home, ['folder', 'share', 'docs', b.id])
  writeFileSync(join(b.folder, 'from-b.txt'), 'b')
  writeFileSync(join(c.folder, 'from-c.txt'), 'c')
  const tree = await waitConverged([a, b, c], { what: 'three folders to converge', timeoutMs: 45_000 })
  assert.equal(Object.keys(tree).sort(), ['from-a.txt', 'from-b.txt', 'from-c.txt'])
  for (const x of [a, b, c]) {
    await waitFor(async () => {
      const peers = (await x.agent?.call('status')).peers
      return [a, b, c].every(y => y === x || peers.some((p: any) => p.deviceId === y.id && p.isConnected === true))
    }, { timeoutMs: 20_000, what: `${x.name} to be connected to the other two` })
  }
})

it('an expired code fails with a clear message on both devices', async () => {
  const { a, c } = devs
  const window = await openWindow(a, ['--timeout', '5'])
  assert.is.not(await window.exited, 0)
  assert.match(window.stderr(), /the pairing window expired before another device entered the code; run `lansync pair` again for a new code/)
  const late = await typeCode(c, window.code, ['--wait', '3'])
  assert.is.not(late.code, 0)
  assert.match(late.stderr, /no pairing window was announced on the LAN within 3 s: the code may have expired or been used/)
  assert.equal(deviceIds(c).sort(), [devs.a.id, devs.b.id].sort(), 'nothing changed')
})

test.run()
