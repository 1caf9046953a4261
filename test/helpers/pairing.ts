// Devices for the pairing tests: real agents on 127.0.0.1 (mDNS off), the window's `lansync pair`
// as a long-running CLI process whose screen a test reads like a person would.
import * as assert from 'uvu/assert'
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { ROOT, cli, onCleanup, startAgent, tempDir, waitFor, type AgentProcess } from './cli.js'
import { freePort } from './cluster.js'
import { callAgent } from '../../src/control/client.js'
import { pairingCodeFromBytes, parsePairingCode } from '../../src/core/pairing-code.js'

export interface Device { name: string, home: string, folder: string, id: string, port: number, agent?: AgentProcess }

/** A device with a folder `docs` of its own (not shared with anyone), mDNS off. */
export async function makeDevice (name: string, { withFolder = true }: { withFolder?: boolean } = {}): Promise<Device> {
  const dir = tempDir(`lansync-pair-${name}-`)
  const home = join(dir, 'home')
  const folder = join(dir, 'docs')
  const init = await cli(home, ['init', '--name', name, '--json'])
  const configFile = join(home, 'config.json')
  const config = JSON.parse(readFileSync(configFile, 'utf8'))
  config.isMdnsEnabled = false
  writeFileSync(configFile, JSON.stringify(config, null, 2))
  if (withFolder) {
    mkdirSync(folder, { recursive: true })
    await cli(home, ['folder', 'add', folder, '--id', 'docs', '--label', 'docs'])
  }
  return { name, home, folder, id: init.json.deviceId, port: await freePort() }
}

export async function start (d: Device): Promise<void> {
  d.agent = await startAgent(d.home, ['--listen', `127.0.0.1:${d.port}`])
}

export async function status (d: Device): Promise<any> {
  return await callAgent(join(d.home, 'agent.sock'), 'status', {})
}

export interface Running { child: ChildProcess, output: () => string, stderr: () => string, exited: Promise<number> }

/** A CLI command that keeps running (the window side of `lansync pair`). */
export function spawnCli (home: string, args: string[]): Running {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), '--home', home, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const exited = new Promise<number>(resolve => child.on('close', code => resolve(code ?? -1)))
  onCleanup(async () => { if (child.exitCode === null) { child.kill('SIGKILL'); await exited } })
  return { child, output: () => stdout, stderr: () => stderr, exited }
}

/** Opens a window on `d` and returns what a person reads off the screen: the code and the address. */
export async function openWindow (d: Device, args: string[] = []): Promise<Running & { code: string, addr: string }> {
  const running = spawnCli(d.home, ['pair', ...args])
  if (args.includes('--json')) {
    const open = await waitFor(() => running.output().split('\n').filter(l => l.startsWith('{')).map(l => JSON.parse(l)).find(e => e.event === 'open'),
      { timeoutMs: 20_000, what: `the open event on ${d.name}; output:\n${running.output()}${running.stderr()}` })
    return { ...running, code: open.code, addr: `${open.addresses[0] as string}:${open.port as number}` }
  }
  const line = await waitFor(() => /lansync pair (\S+) --addr (\S+)/.exec(running.output()), { timeoutMs: 20_000, what: `the pairing code on ${d.name}; output:\n${running.output()}${running.stderr()}` })
  assert.match(running.output(), /^Pairing code: [0-9A-Z]{3}-[0-9A-Z]{3}-[0-9A-Z]{3}$/m)
  assert.match(running.output(), /Waiting for the other device/)
  return { ...running, code: line[1], addr: line[2] }
}

export function wrongCodeFor (code: string): string {
  const secret = parsePairingCode(code).secret
  for (let i = 0; ; i++) {
    const other = pairingCodeFromBytes(Uint8Array.from([i, 7, 7, 7, i]))
    if (other.secret !== secret) return other.text
  }
}

