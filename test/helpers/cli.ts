// Runs the real `lansync` CLI and agent processes (from the TypeScript sources) in temp homes.
import { spawn, type ChildProcess } from 'node:child_process'
import { appendFileSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const ROOT = fileURLToPath(new URL('../..', import.meta.url))
const MAIN = join(ROOT, 'src/cli/main.ts')

const cleanups: Array<() => void | Promise<void>> = []
export function onCleanup (fn: () => void | Promise<void>): void { cleanups.push(fn) }
export async function cleanupAll (): Promise<void> {
  while (cleanups.length > 0) {
    try { await cleanups.pop()?.() } catch {}
  }
}
process.once('exit', () => { for (const fn of cleanups.reverse()) { try { void fn() } catch {} } })

export function tempDir (prefix = 'lansync-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  onCleanup(() => rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface CliResult { code: number, stdout: string, stderr: string, json: any }

export async function runCli (home: string, args: string[], { env = {}, cwd = ROOT }: { env?: Record<string, string>, cwd?: string } = {}): Promise<CliResult> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--home', home, ...args], {
    cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', d => { stdout += d })
  child.stderr.on('data', d => { stderr += d })
  const code = await new Promise<number>(resolve => child.on('close', c => resolve(c ?? -1)))
  let json: any
  if (args.includes('--json')) { try { json = JSON.parse(stdout) } catch {} }
  return { code, stdout, stderr, json }
}

/** Runs the CLI and fails with its output if the exit code is not 0. */
export async function cli (home: string, args: string[]): Promise<CliResult> {
  const r = await runCli(home, args)
  if (r.code !== 0) throw new Error(`lansync ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`)
  return r
}

export interface AgentProcess { child: ChildProcess, output: () => string, stop: (signal?: NodeJS.Signals) => Promise<number | null> }

/**
 * Starts `lansync start` and resolves once it printed "ready". Always with `--no-mdns`: these agents
 * run in the root network namespace, where tests must never send multicast (mDNS tests run agents
 * inside namespaces, see test/netns/agents.test.ts).
 */
export async function startAgent (home: string, args: string[] = [], { timeoutMs = 20_000, env = {} as Record<string, string> } = {}): Promise<AgentProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, '--home', home, 'start', '--no-mdns', ...args], {
    cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe']
  })
  let output = ''
  const log = agentLogFile(home)
  const note = (d: Buffer): void => { output += d; if (log !== undefined) appendFileSync(log, d) }
  child.stdout.on('data', note)
  child.stderr.on('data', note)
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  const stop = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> => {
    if (child.exitCode === null && child.signalCode === null) child.kill(signal)
    return await exited
  }
  onCleanup(async () => { await stop('SIGKILL') })
  await waitFor(() => output.includes(' ready'), { timeoutMs, what: `agent in ${home} to start; output:\n${output}` })
    .catch(async err => { await stop('SIGKILL'); throw new Error(`${(err as Error).message}\n${output}`) })
  return { child, output: () => output, stop }
}

let agentLogs = 0
/** Where the test runner wants this agent's output kept (printed when the file fails), if anywhere. */
function agentLogFile (home: string): string | undefined {
  const dir = process.env.LANSYNC_TEST_LOG_DIR
  if (dir === undefined) return undefined
  agentLogs += 1
  return join(dir, `${String(agentLogs).padStart(2, '0')}-${basename(dirname(home))}-${basename(home)}.log`)
}

/** Polls `check` until it returns a truthy value or the deadline passes. */
export async function waitFor<T> (check: () => T | Promise<T>, { timeoutMs = 15_000, intervalMs = 50, what = 'condition' } = {}): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (Date.now() < deadline) {
    try {
      const value = await check()
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>
    } catch (err) { lastError = err }
    await new Promise(resolve => setTimeout(resolve, intervalMs))
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError !== undefined ? `: ${String(lastError)}` : ''}`)
}
