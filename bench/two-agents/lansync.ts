// lansync as a contender: two real agents (the built CLI, bin/lansync.js, as `npm ci` installs it,
// rebuilt from the sources first) in temp homes, mDNS off, paired with static 127.0.0.1 addresses,
// sharing one folder.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { callAgent } from '../../src/control/client.js'
import { checkLoopbackOnly, freePort, runAsync, startChild, waitFor, withTimeout, type Child } from './procs.js'
import type { Contender, Restartable, WireCounters } from './contender.js'
import type { NamedProcess } from './memory.js'

const ROOT = fileURLToPath(new URL('../..', import.meta.url))
/**
 * The CLI as users run it: the `lansync` command (run as an executable, so with the node flags its
 * first lines give: see bin/lansync.js) over compiled JavaScript (dist/), no TypeScript loader in
 * the agents' memory or start-up.
 */
const CLI = join(ROOT, 'bin/lansync.js')
const FOLDER_ID = 'docs'

interface Side { name: string, home: string, dir: string, id: string, port: number, agent?: Child }

/** Compiles the sources into dist/ (`npm run build`), so the agents benchmarked are the code checked out. */
export async function buildLansync (): Promise<void> {
  await runAsync('tsc (npm run build)', process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', join(ROOT, 'tsconfig.build.json')], { timeoutMs: 300_000 })
}

/** bin/lansync.js's line for sh, which starts node (empty if it has none). */
function launcherLine (): string {
  return readFileSync(CLI, 'utf8').split('\n').find(l => l.includes('exec node ')) ?? ''
}

/** The node flags bin/lansync.js starts node with when run as a command (its `exec node FLAGS "$0"` line). */
function launcherNodeFlags (): string[] {
  const flags = launcherLine().match(/exec node (.*) "\$0"/)?.[1]
  if (flags === undefined) throw new Error(`${CLI} has no \`exec node FLAGS "$0"\` line`)
  return flags.split(/\s+/)
}

/** The environment bin/lansync.js gives node: its `NAME="${NAME:-default}"` settings before `exec`, where the caller set none. */
function launcherEnv (): NodeJS.ProcessEnv {
  const env = { ...process.env }
  for (const [, name, value] of launcherLine().matchAll(/(\w+)="\$\{\1:-([^}]*)\}"/g)) env[name] ??= value
  return env
}

async function lansync (home: string, args: string[]): Promise<string> {
  return await runAsync(`lansync ${args[0]}`, CLI, ['--home', home, ...args], { timeoutMs: 120_000 })
}

export class LansyncContender implements Contender, Restartable {
  readonly name = 'lansync'
  readonly isSynchronous = false
  readonly senderDir: string
  readonly receiverDir: string
  readonly ignoredAtRoot = ['.lansync']
  readonly notes = [
    'lansync: two agents (bin/lansync.js start --listen 127.0.0.1:PORT --no-mdns, the CLI built from the sources at the start of the run), mDNS off in config; ' +
      'changes are noticed by the sender\'s own file watcher (no scan is triggered); done = trees equal and the receiver\'s status shows the folder idle with nothing needed from the sender; ' +
      'wire bytes = the receiver\'s status bytesReceived + bytesSent for the sender (application bytes before Noise encryption), block = blockBytesReceived'
  ]

  private readonly sender: Side
  private readonly receiver: Side

  constructor (workDir: string) {
    this.sender = { name: 'sender', home: join(workDir, 'sender-home'), dir: join(workDir, 'sender'), id: '', port: 0 }
    this.receiver = { name: 'receiver', home: join(workDir, 'receiver-home'), dir: join(workDir, 'receiver'), id: '', port: 0 }
    this.senderDir = this.sender.dir
    this.receiverDir = this.receiver.dir
  }

  async start (): Promise<string[]> {
    await this.configure()
    for (const side of [this.sender, this.receiver]) await this.spawnAgent(side)
    await waitFor(async () => {
      const [s, r] = await Promise.all([this.status(this.sender), this.status(this.receiver)])
      return this.peerOf(s, this.receiver)?.isConnected === true && this.peerOf(r, this.sender)?.isConnected === true &&
        s.folders.every((f: any) => f.state === 'idle') && r.folders.every((f: any) => f.state === 'idle')
    }, { timeoutMs: 60_000, what: 'the lansync agents to connect' })
    return this.checkNetwork()
  }

  /**
   * Both homes: init, mDNS off, the folder, each other's device at a 127.0.0.1 address, shared.
   * The two sides' commands run at the same time (each is a process loading the sources).
   */
  private async configure (): Promise<void> {
    await Promise.all([this.sender, this.receiver].map(async side => {
      mkdirSync(side.dir, { recursive: true })
      side.id = JSON.parse(await lansync(side.home, ['init', '--name', side.name, '--json'])).deviceId
      const configFile = join(side.home, 'config.json')
      const config = JSON.parse(readFileSync(configFile, 'utf8'))
      config.isMdnsEnabled = false
      writeFileSync(configFile, JSON.stringify(config, null, 2))
      side.port = await freePort()
      await lansync(side.home, ['folder', 'add', side.dir, '--id', FOLDER_ID, '--label', FOLDER_ID])
    }))
    await Promise.all([[this.sender, this.receiver], [this.receiver, this.sender]].map(async ([a, b]) => {
      await lansync(a.home, ['device', 'add', b.id, '--addr', `127.0.0.1:${b.port}`, '--name', b.name])
      await lansync(a.home, ['folder', 'share', FOLDER_ID, b.id])
    }))
  }

  /** Starts the agent of `side` and waits until it says it is ready. */
  private async spawnAgent (side: Side): Promise<void> {
    const args = ['--home', side.home, 'start', '--listen', `127.0.0.1:${side.port}`, '--no-mdns']
    // LANSYNC_BENCH_CPU_PROF=DIR: each agent writes a V8 CPU profile there when it stops. Node
    // takes --cpu-prof only on its command line, so the agent is then started as the launcher
    // would start it (its flags and environment), with that flag added.
    const profileDir = process.env.LANSYNC_BENCH_CPU_PROF
    const agent = profileDir === undefined
      ? startChild(`lansync ${side.name}`, CLI, args, { cwd: ROOT })
      : startChild(`lansync ${side.name}`, process.execPath, [...launcherNodeFlags(), '--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${side.name}.cpuprofile`, CLI, ...args], { cwd: ROOT, env: launcherEnv() })
    side.agent = agent
    // An agent that exits ends the wait at once (waitFor takes a thrown error for "not yet").
    const hasExited = (): boolean => agent.process.exitCode !== null || agent.process.signalCode !== null
    await waitFor(() => hasExited() || agent.output().includes(' ready'), { timeoutMs: 600_000, intervalMs: 20, what: `the lansync ${side.name} agent to start` })
    if (!agent.output().includes(' ready')) throw new Error(`the ${side.name} agent exited (${agent.process.exitCode ?? agent.process.signalCode ?? '?'}) before it was ready:\n${agent.output()}`)
  }

  /** Resolves once the sender's folder is idle after a scan that ended at or after `sinceMs` (epoch ms). */
  private async senderScanned (sinceMs: number): Promise<void> {
    await waitFor(async () => {
      const folder = (await this.status(this.sender)).folders.find((f: any) => f.id === FOLDER_ID)
      return folder?.state === 'idle' && folder.lastScanMs >= sinceMs
    }, { timeoutMs: 900_000, intervalMs: 25, what: 'the lansync sender to finish its startup scan' })
  }

  async prepareAlone (): Promise<void> {
    await this.configure()
  }

  async startAlone (): Promise<void> {
    const startedMs = Date.now()
    await this.spawnAgent(this.sender)
    await this.senderScanned(startedMs)
  }

  async restartAlone (): Promise<void> {
    await this.sender.agent?.stop('SIGTERM', 30_000)
    const startedMs = Date.now()
    await this.spawnAgent(this.sender)
    await this.senderScanned(startedMs)
  }

  processes (): NamedProcess[] {
    return [this.sender, this.receiver].flatMap(side => {
      const pid = side.agent?.process.pid
      return pid !== undefined && side.agent?.process.exitCode === null ? [{ name: `lansync ${side.name}`, pid }] : []
    })
  }

  checkNetwork (): string[] {
    // Only sides that were started: S1 runs the sender alone.
    return [this.sender, this.receiver].filter(side => side.agent !== undefined).map(side => checkLoopbackOnly(`lansync ${side.name}`, side.agent?.process.pid ?? -1))
  }

  async trigger (): Promise<void> {}

  async isInSync (): Promise<boolean> {
    const status = await this.status(this.receiver)
    const peer = this.peerOf(status, this.sender)
    const link = peer?.folders?.find((f: any) => f.folder === FOLDER_ID)
    const folder = status.folders.find((f: any) => f.id === FOLDER_ID)
    return peer?.isConnected === true && link?.isInitialReceived === true && link.needFiles === 0 && link.needBytes === 0 && folder?.state === 'idle'
  }

  async counters (): Promise<WireCounters> {
    const peer = this.peerOf(await this.status(this.receiver), this.sender)
    return { down: peer?.bytesReceived ?? 0, up: peer?.bytesSent ?? 0, blockBytes: peer?.blockBytesReceived ?? 0 }
  }

  async close (): Promise<void> {
    await Promise.all([this.sender, this.receiver].map(async side => await side.agent?.stop('SIGTERM', 15_000)))
  }

  private async status (side: Side): Promise<any> {
    return await withTimeout(callAgent(join(side.home, 'agent.sock'), 'status', {}), 30_000, `lansync status of the ${side.name}`)
  }

  private peerOf (status: any, side: Side): any {
    return status.peers.find((p: any) => p.deviceId === side.id)
  }
}
