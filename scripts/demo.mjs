#!/usr/bin/env node
// The main demo: two devices on this machine (loopback only, no mDNS) keep a folder identical,
// then resolve a conflict made while one was offline, and restore a version from history.
// Uses the built CLI (bin/lansync.js), exactly as a user would run it.
import { spawn, execFileSync } from 'node:child_process'
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, readdirSync, rmSync, renameSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'

const root = new URL('..', import.meta.url).pathname
const bin = join(root, 'bin/lansync.js')
const work = mkdtempSync(join(tmpdir(), 'lansync-demo-'))
const keep = process.argv.includes('--keep')
const agents = []

const step = text => console.log(`\n\x1b[1m== ${text}\x1b[0m`)
function lansync (home, ...args) {
  console.log(`$ lansync ${args.join(' ')}   [${home === homeA ? 'A' : 'B'}]`)
  const out = execFileSync(bin, ['--home', home, ...args], { encoding: 'utf8' })
  if (out.trim() !== '' && !args.includes('--json')) console.log(out.trimEnd().split('\n').map(l => '  ' + l).join('\n'))
  return out
}
async function freePort () {
  return await new Promise(resolve => { const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)) }) })
}
function startAgent (home, port, name) {
  const child = spawn(bin, ['--home', home, 'start', '--listen', `127.0.0.1:${port}`], { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  const onData = d => { output += d; for (const line of d.toString().split('\n')) if (line.trim() !== '') console.log(`  [agent ${name}] ${line.replace(/^\S+ /, '')}`) }
  child.stdout.on('data', onData)
  child.stderr.on('data', onData)
  const agent = { child, stop: async () => { if (child.exitCode === null) { child.kill('SIGTERM'); await new Promise(r => child.once('close', r)) } } }
  agents.push(agent)
  return waitFor(() => output.includes(' ready'), `agent ${name} to start`, 20_000).then(() => agent)
}
async function waitFor (check, what, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    try { if (check()) return } catch {}
    await new Promise(r => setTimeout(r, 50))
  }
  throw new Error(`timed out waiting for ${what}`)
}
const read = p => existsSync(p) ? readFileSync(p, 'utf8') : undefined

const homeA = join(work, 'A', 'home'); const homeB = join(work, 'B', 'home')
const docsA = join(work, 'A', 'Documents'); const docsB = join(work, 'B', 'Documents')
let isOk = false
try {
  mkdirSync(docsA, { recursive: true }); mkdirSync(docsB, { recursive: true })
  const [portA, portB] = [await freePort(), await freePort()]

  step('Create two devices (their homes and folders are under ' + work + ')')
  const idA = JSON.parse(lansync(homeA, 'init', '--name', 'laptop', '--json')).deviceId
  const idB = JSON.parse(lansync(homeB, 'init', '--name', 'desktop', '--json')).deviceId
  console.log(`  laptop  (A): ${idA}\n  desktop (B): ${idB}`)
  for (const home of [homeA, homeB]) {
    const file = join(home, 'config.json')
    const config = JSON.parse(readFileSync(file, 'utf8'))
    config.isMdnsEnabled = false // the demo stays on loopback: no multicast
    writeFileSync(file, JSON.stringify(config, null, 2))
  }

  step('Pair them by device ID, with static loopback addresses, and share one folder')
  lansync(homeA, 'device', 'add', idB, '--addr', `127.0.0.1:${portB}`, '--name', 'desktop')
  lansync(homeB, 'device', 'add', idA, '--addr', `127.0.0.1:${portA}`, '--name', 'laptop')
  writeFileSync(join(docsA, 'hello.txt'), 'hello from the laptop\n')
  lansync(homeA, 'folder', 'add', docsA, '--id', 'docs', '--label', 'Documents')
  lansync(homeB, 'folder', 'add', docsB, '--id', 'docs', '--label', 'Documents')
  lansync(homeA, 'folder', 'share', 'docs', idB)
  lansync(homeB, 'folder', 'share', 'docs', idA)

  step('Start both agents')
  const agentA = await startAgent(homeA, portA, 'A')
  let agentB = await startAgent(homeB, portB, 'B')
  await waitFor(() => read(join(docsB, 'hello.txt')) === 'hello from the laptop\n', 'hello.txt on B')
  console.log('  B now has hello.txt:', JSON.stringify(read(join(docsB, 'hello.txt'))))

  step('Edit on B, add a directory on A, rename on A: both sides converge')
  writeFileSync(join(docsB, 'hello.txt'), 'hello from the laptop\nand the desktop\n')
  mkdirSync(join(docsA, 'photos'))
  writeFileSync(join(docsA, 'photos', 'cat.jpg'), Buffer.alloc(3 * 1024 * 1024, 7))
  await waitFor(() => read(join(docsA, 'hello.txt')) === 'hello from the laptop\nand the desktop\n', 'the edit on A')
  await waitFor(() => existsSync(join(docsB, 'photos', 'cat.jpg')), 'photos/cat.jpg on B')
  renameSync(join(docsA, 'photos', 'cat.jpg'), join(docsA, 'photos', 'kitten.jpg'))
  await waitFor(() => existsSync(join(docsB, 'photos', 'kitten.jpg')) && !existsSync(join(docsB, 'photos', 'cat.jpg')), 'the rename on B')
  console.log('  B:', readdirSync(join(docsB, 'photos')))
  const status = JSON.parse(lansync(homeA, 'status', '--json'))
  const peer = status.peers.find(p => p.deviceId === idB)
  console.log(`  A sent ${peer.blockBytesSent} bytes of block data in all; the rename cost none of them.`)

  step('A conflict: B goes offline, both edit plan.txt, B comes back')
  writeFileSync(join(docsA, 'plan.txt'), 'v1\n')
  await waitFor(() => read(join(docsB, 'plan.txt')) === 'v1\n', 'plan.txt on B')
  await agentB.stop()
  writeFileSync(join(docsA, 'plan.txt'), 'laptop says v2\n')
  await new Promise(r => setTimeout(r, 1100))
  writeFileSync(join(docsB, 'plan.txt'), 'desktop says v2 (later)\n')
  agentB = await startAgent(homeB, portB, 'B')
  const conflictCopy = dir => readdirSync(dir).find(n => n.startsWith('plan.sync-conflict-'))
  await waitFor(() => conflictCopy(docsA) !== undefined && conflictCopy(docsB) !== undefined && read(join(docsA, 'plan.txt')) === read(join(docsB, 'plan.txt')), 'the conflict to settle')
  console.log(`  both devices: plan.txt = ${JSON.stringify(read(join(docsA, 'plan.txt')))}`)
  console.log(`  both devices: ${conflictCopy(docsA)} = ${JSON.stringify(read(join(docsA, conflictCopy(docsA))))}`)

  step('History: every version is kept, and any can be restored')
  lansync(homeA, 'history', join(docsA, 'plan.txt'))
  lansync(homeA, 'restore', join(docsA, 'plan.txt'), '--version', '1', '--to', join(work, 'plan-v1.txt'))
  console.log('  restored version 1:', JSON.stringify(read(join(work, 'plan-v1.txt'))))

  await agentA.stop(); await agentB.stop()
  step('Done: the two folders are identical.')
  isOk = true
} catch (err) {
  console.error(`\ndemo failed: ${err.message}`)
} finally {
  for (const a of agents) await a.stop()
  if (!keep) rmSync(work, { recursive: true, force: true })
  else console.log(`kept ${work}`)
}
process.exit(isOk ? 0 : 1)
