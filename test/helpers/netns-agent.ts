// Real `lansync start` processes inside the hosts of a test LAN (test/helpers/netns.ts), so their
// mDNS traffic stays on the virtual LAN. The CLI and the tests reach them from the root namespace
// through their control sockets: Unix sockets in the home directory are not network-namespaced.
import type { ChildProcess } from 'node:child_process'
import { test } from 'uvu'
import { join } from 'node:path'
import { callAgent } from '../../src/control/client.js'
import { ROOT, waitFor } from './cli.js'
import type { Lan } from './netns.js'

const MAIN = join(ROOT, 'src/cli/main.ts')
/** Every host of a LAN is its own namespace, so every agent can use the default port. */
export const AGENT_PORT = 22100

export interface NsAgent {
  name: string
  home: string
  host: number
  child: ChildProcess
  /** Everything the agent printed so far (stdout and stderr). */
  output: () => string
  /** Waits until the output from character `from` on matches; fails with the output at the deadline. */
  waitForOutput: (pattern: RegExp, options?: { from?: number, timeoutMs?: number }) => Promise<RegExpMatchArray>
  call: (method: string, params?: object) => Promise<any>
  /** SIGTERM (the agent says goodbye), then SIGKILL if it has not exited within `graceMs`. */
  stop: (graceMs?: number) => Promise<number | null>
}

/** Starts `lansync --home HOME start --listen 0.0.0.0:22100 ARGS` in LAN host `host`; resolves at "ready". */
export async function startNsAgent (lan: Lan, host: number, name: string, home: string, { args = [] as string[], timeoutMs = 30_000 } = {}): Promise<NsAgent> {
  const child = lan.spawn(host, process.execPath, ['--import', 'tsx', MAIN, '--home', home, 'start', '--listen', `0.0.0.0:${AGENT_PORT}`, ...args], { cwd: ROOT })
  let text = ''
  child.stdout?.on('data', d => { text += String(d) })
  child.stderr?.on('data', d => { text += String(d) })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const isRunning = (): boolean => child.exitCode === null && child.signalCode === null
  const agent: NsAgent = {
    name,
    home,
    host,
    child,
    output: () => text,
    async waitForOutput (pattern, { from = 0, timeoutMs = 20_000 } = {}) {
      try {
        return await waitFor(() => {
          const m = text.slice(from).match(pattern)
          if (m === null && !isRunning()) throw new Error(`${name} exited`)
          return m
        }, { timeoutMs, intervalMs: 100, what: `${name} to print ${String(pattern)}` })
      } catch (err) {
        throw new Error(`${(err as Error).message}\n--- ${name} output ---\n${text}`)
      }
    },
    async call (method, params = {}) { return await callAgent(join(home, 'agent.sock'), method, params) },
    async stop (graceMs = 10_000) {
      if (!isRunning()) return await exited
      child.kill('SIGTERM')
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs)
      const code = await exited
      clearTimeout(timer)
      return code
    }
  }
  await agent.waitForOutput(/ ready\n/, { timeoutMs })
  return agent
}

/**
 * Defines a test that needs a virtual LAN: skipped (the file already said why) when namespaces are
 * unavailable; when it fails, its error carries `outputs()` (every agent's output: the failing
 * agent may not be the one waited on).
 */
export function lanTest (isAvailable: boolean, outputs: () => string): (name: string, body: () => Promise<void>) => void {
  return (name, body) => {
    if (!isAvailable) { test.skip(name, body); return }
    test(name, async () => {
      try {
        await body()
      } catch (err) {
        if (err instanceof Error) err.message += `\n=== agent outputs ===\n${outputs()}`
        throw err
      }
    })
  }
}
