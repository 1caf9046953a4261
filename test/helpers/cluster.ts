// Several real devices on this machine: temp homes and folders, paired by device ID with static
// loopback addresses (mDNS off), sharing one folder, each agent a real process.
import { mkdirSync, readFileSync, writeFileSync, readdirSync, statSync, lstatSync, readlinkSync } from 'node:fs'
import { join, relative } from 'node:path'
import { createHash } from 'node:crypto'
import net from 'node:net'
import { callAgent } from '../../src/control/client.js'
import { cli, startAgent, tempDir, waitFor, type AgentProcess } from './cli.js'

export interface Device {
  name: string
  home: string
  folder: string
  id: string
  port: number
  agent?: AgentProcess
  /** Starts `lansync start` on 127.0.0.1:port; `args` are added (e.g. --wan). */
  start: (args?: string[]) => Promise<AgentProcess>
  stop: (signal?: NodeJS.Signals) => Promise<void>
  status: () => Promise<any>
}

export async function freePort (): Promise<number> {
  return await new Promise(resolve => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port
      s.close(() => resolve(port))
    })
  })
}

/**
 * Creates `names.length` devices; `links` lists which pairs know each other (default: all pairs),
 * each with the other's static address unless `isWithoutAddresses` (then only discovery finds it).
 */
export async function makeCluster (names: string[], { links, folderId = 'docs', isWithoutAddresses = false }: { links?: Array<[number, number]>, folderId?: string, isWithoutAddresses?: boolean } = {}): Promise<Device[]> {
  const dir = tempDir('lansync-cluster-')
  const devices: Device[] = []
  for (const name of names) {
    const home = join(dir, name, 'home')
    const folder = join(dir, name, 'docs')
    mkdirSync(folder, { recursive: true })
    const init = await cli(home, ['init', '--name', name, '--json'])
    const configFile = join(home, 'config.json')
    const config = JSON.parse(readFileSync(configFile, 'utf8'))
    config.isMdnsEnabled = false
    writeFileSync(configFile, JSON.stringify(config, null, 2))
    await cli(home, ['folder', 'add', folder, '--id', folderId, '--label', 'docs'])
    const device: Device = {
      name, home, folder, id: init.json.deviceId, port: await freePort(),
      async start (args: string[] = []) {
        this.agent = await startAgent(home, ['--listen', `127.0.0.1:${this.port}`, ...args])
        return this.agent
      },
      async stop (signal: NodeJS.Signals = 'SIGTERM') { await this.agent?.stop(signal); this.agent = undefined },
      async status () { return await callAgent(join(home, 'agent.sock'), 'status', {}) }
    }
    devices.push(device)
  }
  const pairs = links ?? devices.flatMap((_, i) => devices.map((_, j) => [i, j] as [number, number]).filter(([a, b]) => a < b))
  for (const [a, b] of pairs) {
    for (const [x, y] of [[a, b], [b, a]]) {
      const address = isWithoutAddresses ? [] : ['--addr', `127.0.0.1:${devices[y].port}`]
      await cli(devices[x].home, ['device', 'add', devices[y].id, ...address, '--name', devices[y].name])
      await cli(devices[x].home, ['folder', 'share', folderId, devices[y].id])
    }
  }
  return devices
}

/** path → sha256 (files), 'dir', or 'link:target', for everything but the marker dir. */
export function snapshotTree (root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      if (d === root && name === '.lansync') continue
      const full = join(d, name)
      const rel = relative(root, full)
      const s = lstatSync(full)
      if (s.isSymbolicLink()) out[rel] = 'link:' + readlinkSync(full)
      else if (s.isDirectory()) { out[rel] = 'dir'; walk(full) } else out[rel] = createHash('sha256').update(readFileSync(full)).digest('hex') + ':' + (statSync(full).mode & 0o777).toString(8)
    }
  }
  walk(root)
  return out
}

/** Waits until every device's folder holds the same tree (and returns it). */
export async function waitConverged (devices: Device[], { timeoutMs = 30_000, what = 'folders to converge' } = {}): Promise<Record<string, string>> {
  let last: Array<Record<string, string>> = []
  try {
    return await waitFor(() => {
      last = devices.map(d => snapshotTree(d.folder))
      const first = JSON.stringify(last[0])
      return last.every(t => JSON.stringify(t) === first) ? last[0] : undefined
    }, { timeoutMs, what, intervalMs: 100 })
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${devices.map((d, i) => `${d.name}: ${JSON.stringify(last[i])}`).join('\n')}`)
  }
}
