// Several real devices on this machine: temp homes and folders, paired by device ID with static
// loopback addresses (mDNS off), sharing one folder, each agent a real process.
import { mkdirSync, readFileSync, writeFileSync, readdirSync, statSync, lstatSync, readlinkSync } from 'node:fs'
import { join, relative } from 'node:path'
import { createHash } from 'node:crypto'
import net from 'node:net'
import { callAgent } from '../../src/control/client.js'
import { defaultConfig, saveConfig, updateConfig } from '../../src/config.js'
import { createIdentity } from '../../src/identity.js'
import { addFolder } from '../../src/ops/folders.js'
import { addDevice, shareFolder } from '../../src/ops/devices.js'
import { cli, startAgent, tempDir, waitFor, type AgentProcess } from './cli.js'
import { TEMP_PREFIX } from '../../src/fs/ignore-rules.js'

export interface Device {
  name: string
  home: string
  folder: string
  id: string
  port: number
  agent?: AgentProcess
  /** Starts `lansync start` on 127.0.0.1:port; `args` are added (e.g. --wan), `env` too (e.g. LANSYNC_CRASH_AT for fault tests). */
  start: (options?: { args?: string[], env?: Record<string, string> }) => Promise<AgentProcess>
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
 * `isSetUpInProcess` writes homes and configs with the same ops the CLI runs, in this process: no
 * CLI process per step (a three-device cluster is 18 of them), for tests about something else.
 */
export async function makeCluster (names: string[], { links, folderId = 'docs', isWithoutAddresses = false, isSetUpInProcess = false }: { links?: Array<[number, number]>, folderId?: string, isWithoutAddresses?: boolean, isSetUpInProcess?: boolean } = {}): Promise<Device[]> {
  const dir = tempDir('lansync-cluster-')
  const devices: Device[] = []
  for (const name of names) {
    const home = join(dir, name, 'home')
    const folder = join(dir, name, 'docs')
    mkdirSync(folder, { recursive: true })
    let id: string
    if (isSetUpInProcess) {
      mkdirSync(home, { recursive: true, mode: 0o700 })
      id = createIdentity(home).deviceId
      const config = { ...defaultConfig(), deviceName: name, isMdnsEnabled: false }
      addFolder(config, home, { path: folder, id: folderId, label: 'docs' })
      saveConfig(home, config)
    } else {
      id = (await cli(home, ['init', '--name', name, '--json'])).json.deviceId
      const configFile = join(home, 'config.json')
      const config = JSON.parse(readFileSync(configFile, 'utf8'))
      config.isMdnsEnabled = false
      writeFileSync(configFile, JSON.stringify(config, null, 2))
      await cli(home, ['folder', 'add', folder, '--id', folderId, '--label', 'docs'])
    }
    const device: Device = {
      name, home, folder, id, port: await freePort(),
      async start ({ args = [], env = {} }: { args?: string[], env?: Record<string, string> } = {}) {
        this.agent = await startAgent(home, ['--listen', `127.0.0.1:${this.port}`, ...args], { env })
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
      const address = isWithoutAddresses ? [] : [`127.0.0.1:${devices[y].port}`]
      if (isSetUpInProcess) {
        updateConfig(devices[x].home, c => {
          addDevice(c, devices[x].id, { id: devices[y].id, addresses: address, name: devices[y].name })
          shareFolder(c, folderId, devices[y].id)
        })
        continue
      }
      await cli(devices[x].home, ['device', 'add', devices[y].id, ...address.flatMap(a => ['--addr', a]), '--name', devices[y].name])
      await cli(devices[x].home, ['folder', 'share', folderId, devices[y].id])
    }
  }
  return devices
}

/**
 * path → sha256 (files), 'dir', or 'link:target', for everything but the marker dir and an agent's
 * own temp files: a new file is put in place by link() then its temp name is unlinked, so for a
 * moment both names show. Leftover temp files are the ledger's check (test/helpers/ledger.ts).
 */
export function snapshotTree (root: string): Record<string, string> {
  const out: Record<string, string> = {}
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      if ((d === root && name === '.lansync') || name.startsWith(TEMP_PREFIX)) continue
      const full = join(d, name)
      const rel = relative(root, full)
      try {
        const s = lstatSync(full)
        if (s.isSymbolicLink()) out[rel] = 'link:' + readlinkSync(full)
        else if (s.isDirectory()) { out[rel] = 'dir'; walk(full) } else out[rel] = createHash('sha256').update(readFileSync(full)).digest('hex') + ':' + (statSync(full).mode & 0o777).toString(8)
      } catch (err: any) {
        // Gone between the listing and the look (an agent is still at work): not part of this snapshot.
        if (err.code !== 'ENOENT') throw err
        delete out[rel]
      }
    }
  }
  walk(root)
  return out
}

/** Waits until every device's folder holds the same tree (and returns it). */
export async function waitConverged (devices: Array<Pick<Device, 'name' | 'folder'>>, { timeoutMs = 30_000, what = 'folders to converge' } = {}): Promise<Record<string, string>> {
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
