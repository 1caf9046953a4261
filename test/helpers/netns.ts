// A virtual LAN for tests: N network namespaces ("hosts") joined by a Linux bridge that lives in a
// "switch" namespace of its own, so nothing is ever added to the root namespace and no multicast
// leaves it. Tears everything down on destroy(), on exit, on signals and on uncaught errors.
import { execFile, execFileSync, spawn, type ChildProcess, type SpawnOptions } from 'node:child_process'

export interface LanHost {
  index: number
  /** Network namespace name (pass to `ip netns exec`). */
  name: string
  /** Interface name inside the host namespace. */
  ifname: string
  /** Current IPv4 address (changes with readdress()). */
  address: string
  /** Unique-local IPv6 address (fd00::/8) on the same link. */
  address6: string
}

export interface ExecResult { code: number, stdout: string, stderr: string }

export interface Lan {
  /** Name prefix shared by every namespace of this LAN. */
  prefix: string
  /** IPv4 subnet of this LAN, e.g. 10.231.17.0/24. */
  subnet: string
  hosts: LanHost[]
  spawn: (index: number, cmd: string, args?: string[], opts?: SpawnOptions) => ChildProcess
  exec: (index: number, cmd: string, args?: string[]) => Promise<ExecResult>
  setLink: (index: number, state: 'up' | 'down') => Promise<void>
  /** The host leaves the LAN (link down), drops its IPv4 address and comes back with a new one. */
  readdress: (index: number, newAddress?: string) => Promise<string>
  destroy: () => Promise<void>
}

// Namespace names are `lsn<pid>x<n>-<role>`: the creator's pid lets a later run tell a crashed run's
// leftovers (pid gone) from a concurrent live run's namespaces (pid alive).
const NAME_RE = /^lsn(\d+)x(\d+)-/
const IFNAME = 'lan0'
const MCAST_ROUTE = '224.0.0.0/4'

let lanCounter = 0
const liveLans = new Set<LanState>()
let hooksInstalled = false

interface LanState {
  namespaces: string[] // switch first
  children: Set<ChildProcess>
  destroyed: boolean
}

function run (cmd: string, args: string[]): Promise<ExecResult> {
  return new Promise(resolve => {
    execFile(cmd, args, { encoding: 'utf8', timeout: 15_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof (err as any).code === 'number' ? (err as any).code : 1
      resolve({ code, stdout, stderr: stderr || (err !== null && code !== 0 ? err.message : '') })
    })
  })
}

async function ip (...args: string[]): Promise<string> {
  const r = await run('ip', args)
  if (r.code !== 0) throw new Error(`ip ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`)
  return r.stdout
}

function isRoot (): boolean { return typeof process.getuid === 'function' && process.getuid() === 0 }

/** Whether this process can create network namespaces; `reason` says why not. */
export async function netnsAvailable (): Promise<{ ok: boolean, reason?: string }> {
  if (process.platform !== 'linux') return { ok: false, reason: `network namespaces need Linux (this is ${process.platform})` }
  if (!isRoot()) return { ok: false, reason: 'network namespaces need root (CI runs as root)' }
  const probe = `lsn${process.pid}x${lanCounter++}-probe`
  const added = await run('ip', ['netns', 'add', probe])
  if (added.code !== 0) {
    const missing = /ENOENT|not found/i.test(added.stderr)
    return { ok: false, reason: missing ? '`ip` (iproute2) is not installed' : `\`ip netns add\` failed: ${added.stderr.trim()}` }
  }
  const veth = await run('ip', ['-n', probe, 'link', 'add', 'a0', 'type', 'veth', 'peer', 'name', 'b0'])
  await run('ip', ['netns', 'del', probe])
  if (veth.code !== 0) return { ok: false, reason: `veth pairs are unavailable: ${veth.stderr.trim()}` }
  return { ok: true }
}

async function listNamespaces (): Promise<string[]> {
  const r = await run('ip', ['netns', 'list'])
  if (r.code !== 0) return []
  return r.stdout.split('\n').map(l => l.trim().split(/\s+/)[0]).filter(n => n !== undefined && n !== '')
}

function isPidAlive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

/** Deletes namespaces (and kills processes inside them) left by earlier runs whose process is gone. */
export async function cleanupStaleNamespaces (): Promise<string[]> {
  const stale = (await listNamespaces()).filter(name => {
    const m = NAME_RE.exec(name)
    return m !== null && Number(m[1]) !== process.pid && !isPidAlive(Number(m[1]))
  })
  for (const ns of stale) await deleteNamespace(ns)
  return stale
}

/** Names of namespaces this process created and has not deleted yet (for leak checks). */
export async function ownNamespaces (): Promise<string[]> {
  return (await listNamespaces()).filter(n => NAME_RE.exec(n)?.[1] === String(process.pid))
}

async function killNamespacePids (ns: string): Promise<void> {
  const r = await run('ip', ['netns', 'pids', ns])
  for (const pid of r.stdout.split(/\s+/).filter(Boolean).map(Number)) {
    try { process.kill(pid, 'SIGKILL') } catch {}
  }
}

async function deleteNamespace (ns: string): Promise<void> {
  await killNamespacePids(ns)
  await run('ip', ['netns', 'del', ns])
}

function destroySync (state: LanState): void {
  if (state.destroyed) return
  state.destroyed = true
  liveLans.delete(state)
  for (const child of state.children) {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      try { process.kill(child.pid, 'SIGKILL') } catch {}
    }
  }
  for (const ns of [...state.namespaces].reverse()) {
    try {
      const pids = execFileSync('ip', ['netns', 'pids', ns], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] })
      for (const pid of pids.split(/\s+/).filter(Boolean).map(Number)) { try { process.kill(pid, 'SIGKILL') } catch {} }
    } catch {}
    try { execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' }) } catch {}
  }
}

function installExitHooks (): void {
  if (hooksInstalled) return
  hooksInstalled = true
  // 'exit' handlers must be synchronous, so teardown there uses execFileSync.
  process.on('exit', () => { for (const s of [...liveLans]) destroySync(s) })
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]] as const) {
    process.once(signal, () => { for (const s of [...liveLans]) destroySync(s); process.exit(code) })
  }
  const onFatal = (err: unknown): void => {
    console.error(err)
    for (const s of [...liveLans]) destroySync(s)
    process.exit(1)
  }
  process.on('uncaughtException', onFatal)
  process.on('unhandledRejection', onFatal)
}

/**
 * Creates `hosts` namespaces, each with `lo` up and one veth (`lan0`) plugged into a bridge in a
 * switch namespace, an IPv4 address from a per-run /24 of 10.231.0.0/16, a unique-local IPv6
 * address, and a route for 224.0.0.0/4 so that mDNS has an interface to leave by.
 */
export async function createLan ({ hosts: hostCount }: { hosts: number }): Promise<Lan> {
  if (!Number.isInteger(hostCount) || hostCount < 1 || hostCount > 200) throw new TypeError('hosts must be an integer in 1..200')
  await cleanupStaleNamespaces()
  installExitHooks()
  const n = lanCounter++
  const prefix = `lsn${process.pid}x${n}`
  // Each LAN is its own L2 domain, so equal subnets would not clash; varying it keeps logs unambiguous.
  const k = 1 + ((process.pid * 7 + n) % 250)
  const subnet = `10.231.${k}.0/24`
  const v4 = (host: number): string => `10.231.${k}.${host}`
  const v6 = (host: number): string => `fd00:231:${k}::${host.toString(16)}`
  const state: LanState = { namespaces: [], children: new Set(), destroyed: false }
  liveLans.add(state)
  const sw = `${prefix}-sw`
  const hosts: LanHost[] = []
  let nextHostNumber = 10 + hostCount

  try {
    await ip('netns', 'add', sw)
    state.namespaces.push(sw)
    await ip('-n', sw, 'link', 'set', 'lo', 'up')
    // No snooping: the bridge floods all multicast like a plain switch, whatever the IGMP state.
    await ip('-n', sw, 'link', 'add', 'br0', 'type', 'bridge', 'mcast_snooping', '0')
    await ip('-n', sw, 'link', 'set', 'br0', 'up')
    for (let i = 0; i < hostCount; i++) {
      const name = `${prefix}-h${i}`
      await ip('netns', 'add', name)
      state.namespaces.push(name)
      await ip('-n', name, 'link', 'set', 'lo', 'up')
      await ip('-n', sw, 'link', 'add', `p${i}`, 'type', 'veth', 'peer', 'name', IFNAME, 'netns', name)
      await ip('-n', sw, 'link', 'set', `p${i}`, 'master', 'br0')
      await ip('-n', sw, 'link', 'set', `p${i}`, 'up')
      const host: LanHost = { index: i, name, ifname: IFNAME, address: v4(10 + i), address6: v6(10 + i) }
      await ip('-n', name, 'addr', 'add', `${host.address}/24`, 'dev', IFNAME)
      // nodad: the address is usable at once instead of after ~1 s of duplicate detection.
      await ip('-n', name, '-6', 'addr', 'add', `${host.address6}/64`, 'dev', IFNAME, 'nodad')
      await ip('-n', name, 'link', 'set', IFNAME, 'up')
      await ip('-n', name, 'route', 'replace', MCAST_ROUTE, 'dev', IFNAME)
      hosts.push(host)
    }
  } catch (err) {
    destroySync(state)
    throw err
  }

  const hostAt = (index: number): LanHost => {
    const host = hosts[index]
    if (host === undefined) throw new TypeError(`no host ${index} on this LAN`)
    if (state.destroyed) throw new Error('the LAN was destroyed')
    return host
  }

  const setLink = async (index: number, linkState: 'up' | 'down'): Promise<void> => {
    const host = hostAt(index)
    await ip('-n', host.name, 'link', 'set', host.ifname, linkState)
    if (linkState === 'down') return
    // The kernel drops a device's IPv6 addresses and its routes when it goes down; put them back.
    await ip('-n', host.name, '-6', 'addr', 'replace', `${host.address6}/64`, 'dev', host.ifname, 'nodad')
    await ip('-n', host.name, 'route', 'replace', MCAST_ROUTE, 'dev', host.ifname)
  }

  return {
    prefix,
    subnet,
    hosts,
    spawn (index, cmd, args = [], opts = {}) {
      const host = hostAt(index)
      const child = spawn('ip', ['netns', 'exec', host.name, cmd, ...args], { stdio: ['pipe', 'pipe', 'pipe'], ...opts })
      state.children.add(child)
      child.once('exit', () => state.children.delete(child))
      return child
    },
    async exec (index, cmd, args = []) {
      return await run('ip', ['netns', 'exec', hostAt(index).name, cmd, ...args])
    },
    setLink,
    async readdress (index, newAddress) {
      const host = hostAt(index)
      const address = newAddress ?? v4(nextHostNumber++)
      await setLink(index, 'down')
      await ip('-n', host.name, '-4', 'addr', 'flush', 'dev', host.ifname)
      await ip('-n', host.name, 'addr', 'add', `${address}/24`, 'dev', host.ifname)
      await setLink(index, 'up')
      host.address = address
      return address
    },
    async destroy () {
      if (state.destroyed) return
      // Ask politely first so processes can send their goodbyes; then force.
      const waits = [...state.children].map(async child => {
        if (child.exitCode !== null || child.signalCode !== null) return
        const exited = new Promise<void>(resolve => child.once('exit', () => resolve()))
        child.kill('SIGTERM')
        const timer = setTimeout(() => child.kill('SIGKILL'), 2_000)
        await exited
        clearTimeout(timer)
      })
      await Promise.all(waits)
      state.destroyed = true
      liveLans.delete(state)
      for (const ns of [...state.namespaces].reverse()) await deleteNamespace(ns)
    }
  }
}
