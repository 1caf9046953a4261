// What the two-agent benchmark starts and must stop: child processes and temp dirs, all released
// on return, error, exit or Ctrl-C; waits with deadlines; free loopback ports; and the check
// (via `ss`) that a process only uses 127.0.0.1.
import { spawn, spawnSync, type ChildProcess, type SpawnOptions } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import net from 'node:net'

export interface Child {
  name: string
  process: ChildProcess
  /** Everything it wrote to stdout and stderr (last 64 KiB). */
  output: () => string
  exited: Promise<number | null>
  /** Sends `signal`, then SIGKILL after `graceMs`; resolves when it has exited. */
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<void>
  /** SIGKILL to its whole process group, synchronously (for process exit). */
  killNow: () => void
}

const children = new Set<Child>()
const dirs = new Set<string>()

export function tempDir (prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix))
  dirs.add(dir)
  return dir
}

export function removeDir (dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  dirs.delete(dir)
}

export function startChild (name: string, command: string, args: string[], options: SpawnOptions = {}): Child {
  // Its own process group, so stopping it also stops what it started (Syncthing runs a monitor
  // process and the real one under it).
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], detached: true, ...options })
  const kill = (signal: NodeJS.Signals): void => {
    try { process.kill(-(child.pid ?? 0), signal) } catch { try { child.kill(signal) } catch {} }
  }
  let output = ''
  const keep = (d: Buffer): void => { output = (output + d.toString()).slice(-65_536) }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  const exited = new Promise<number | null>(resolve => {
    child.once('close', code => resolve(code))
    child.once('error', err => { output += `\n${err.message}`; resolve(null) })
  })
  const entry: Child = {
    name,
    process: child,
    output: () => output,
    exited,
    async stop (signal = 'SIGTERM', graceMs = 10_000) {
      if (child.pid === undefined) { children.delete(entry); return }
      if (child.exitCode === null && child.signalCode === null) kill(signal)
      const timer = setTimeout(() => kill('SIGKILL'), graceMs)
      await exited
      clearTimeout(timer)
      kill('SIGKILL') // anything of its group still there
      children.delete(entry)
    },
    killNow: () => kill('SIGKILL')
  }
  children.add(entry)
  return entry
}

/** Runs a command to its end (bounded by `timeoutMs`); throws with its output if it fails. */
export function run (command: string, args: string[], { timeoutMs = 60_000, env }: { timeoutMs?: number, env?: NodeJS.ProcessEnv } = {}): string {
  const r = spawnSync(command, args, { encoding: 'utf8', timeout: timeoutMs, killSignal: 'SIGKILL', env: env ?? process.env, maxBuffer: 64 * 1024 * 1024 })
  if (r.error !== undefined) throw new Error(`${command} ${args.join(' ')}: ${r.error.message}`)
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} exited ${r.status ?? r.signal}\n${r.stdout}${r.stderr}`)
  return r.stdout
}

/** Stops every child (SIGTERM, then SIGKILL) and removes every temp dir. Idempotent. */
export async function releaseAll (): Promise<void> {
  await Promise.all([...children].map(async c => await c.stop('SIGTERM', 5_000)))
  for (const dir of [...dirs]) removeDir(dir)
}

function releaseAllNow (): void {
  for (const c of children) c.killNow()
  for (const dir of dirs) { try { rmSync(dir, { recursive: true, force: true }) } catch {} }
}

process.once('exit', releaseAllNow)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
  process.once(signal, () => {
    console.error(`\nbench: ${signal}, stopping children and removing temp dirs`)
    void releaseAll().finally(() => process.exit(130))
  })
}

/** Polls `check` until it returns a truthy value; throws after `timeoutMs`. */
export async function waitFor<T> (check: () => T | Promise<T>, { timeoutMs, intervalMs = 100, what }: { timeoutMs: number, intervalMs?: number, what: string }): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  while (true) {
    try {
      const value = await check()
      if (value !== undefined && value !== null && value !== false) return value as NonNullable<T>
    } catch (err) { lastError = err }
    if (Date.now() >= deadline) break
    await sleep(intervalMs)
  }
  throw new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}${lastError !== undefined ? ` (last error: ${String(lastError)})` : ''}`)
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Rejects with `what` timed out if `work` takes longer than `timeoutMs`. */
export async function withTimeout<T> (work: Promise<T>, timeoutMs: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${(timeoutMs / 1000).toFixed(0)} s: ${what}`)), timeoutMs)
  })
  try { return await Promise.race([work, timeout]) } finally { clearTimeout(timer) }
}

export async function freePort (): Promise<number> {
  return await new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject).listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

export function hasCommand (command: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' }).status === 0
}

interface Socket { proto: string, state: string, local: string, peer: string }

/** `pid` and every process under it. */
function processTree (pid: number): number[] {
  const parents = new Map<number, number[]>()
  for (const line of run('ps', ['-eo', 'pid=,ppid='], { timeoutMs: 10_000 }).split('\n')) {
    const [child, parent] = line.trim().split(/\s+/).map(Number)
    if (!Number.isFinite(child) || !Number.isFinite(parent)) continue
    parents.set(parent, [...(parents.get(parent) ?? []), child])
  }
  const out = [pid]
  for (let i = 0; i < out.length; i++) out.push(...(parents.get(out[i]) ?? []))
  return out
}

/** The sockets of `pids`, from `ss -tunap` (listening and connected, TCP and UDP). */
function socketsOf (pids: number[]): Socket[] {
  const out = run('ss', ['-tunapH'], { timeoutMs: 10_000 })
  const sockets: Socket[] = []
  for (const line of out.split('\n')) {
    if (!pids.some(pid => line.includes(`pid=${pid},`))) continue
    const [proto, state, , , local, peer] = line.trim().split(/\s+/)
    sockets.push({ proto, state, local, peer })
  }
  return sockets
}

const isLoopback = (address: string): boolean => /^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]|\[::1\]):(\d+|\*)$/.test(address)

/**
 * Checks that process `pid` and its descendants have no UDP socket, listen on loopback only and
 * are connected to loopback only; refuses if it sees no listening socket at all (then it would be
 * looking at the wrong process). Returns a one-line summary; throws if anything is off.
 */
export function checkLoopbackOnly (name: string, pid: number): string {
  const pids = processTree(pid)
  const sockets = socketsOf(pids)
  const bad = sockets.filter(s => s.proto !== 'tcp' || !isLoopback(s.local) || !(s.state === 'LISTEN' || isLoopback(s.peer)))
  const listening = sockets.filter(s => s.state === 'LISTEN').map(s => s.local)
  const connected = sockets.filter(s => s.state !== 'LISTEN').length
  if (bad.length > 0) {
    throw new Error(`network check failed for ${name} (pids ${pids.join(', ')}): ${bad.map(s => `${s.proto} ${s.state} ${s.local} -> ${s.peer}`).join('; ')}`)
  }
  if (listening.length === 0) throw new Error(`network check for ${name} (pids ${pids.join(', ')}) sees no listening socket`)
  return `${name} (pids ${pids.join(', ')}): listens on ${listening.join(', ')} only; ${connected} connected TCP socket(s), all to 127.0.0.1; no UDP`
}

/** Like run(), without blocking the event loop (so Ctrl-C and deadlines still work meanwhile). */
export async function runAsync (name: string, command: string, args: string[], { timeoutMs, env, onStart }: { timeoutMs: number, env?: NodeJS.ProcessEnv, onStart?: (child: Child) => void }): Promise<string> {
  const child = startChild(name, command, args, { env: env ?? process.env })
  onStart?.(child)
  let stdout = ''
  child.process.stdout?.on('data', (d: Buffer) => { stdout += d.toString() })
  try {
    const code = await withTimeout(child.exited, timeoutMs, `${command} ${args.join(' ')}`)
    if (code !== 0) throw new Error(`${command} ${args.join(' ')} exited ${String(code)}\n${child.output()}`)
    return stdout
  } finally {
    await child.stop('SIGKILL', 1_000)
  }
}
