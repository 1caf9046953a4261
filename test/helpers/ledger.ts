// The invariant checker of the reliability tests. A Ledger records every version a scenario writes
// on any device (path, content hash, device); after the scenario, check() proves:
//   1. every written version is in some device's history and restores byte for byte;
//   2. no file and no history entry holds bytes that were never written;
//   3. all devices hold the same (path, content) set;
//   4. nothing outside the folders changed;
//   5. a rescan finds no changes, and no temp file is left behind.
// It talks to the running agents through their control sockets (as the CLI does).
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { mkdirSync, readFileSync, readdirSync, lstatSync, writeFileSync, renameSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'
import { callAgent } from '../../src/control/client.js'
import { TEMP_PREFIX } from '../../src/fs/ignore-rules.js'
import { tempDir, waitFor } from './cli.js'
import { waitConverged, type Device } from './cluster.js'

export interface LedgerEntry { path: string, hash: string, device: string }

/** What the ledger needs of a device: a makeCluster Device, or an agent in a network namespace. */
export type LedgerDevice = Pick<Device, 'name' | 'home' | 'folder'>

const sha = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex')

/** Every file under `root` (not the marker dir): relative path → content hash. */
function filesOf (root: string): Map<string, string> {
  const out = new Map<string, string>()
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      if (dir === root && name === '.lansync') continue
      const full = join(dir, name)
      const s = lstatSync(full)
      if (s.isDirectory()) walk(full)
      else if (s.isFile()) out.set(relative(root, full), sha(readFileSync(full)))
    }
  }
  walk(root)
  return out
}

/** Names anywhere under `root` that are our temp files. */
function tempFilesOf (root: string): string[] {
  const out: string[] = []
  const walk = (dir: string): void => {
    for (const name of readdirSync(dir)) {
      const full = join(dir, name)
      if (name.startsWith(TEMP_PREFIX)) out.push(relative(root, full))
      else if (lstatSync(full).isDirectory()) walk(full)
    }
  }
  walk(root)
  return out
}

/** A listing of everything under `dir` except the given subtrees: what must not change. */
function listingExcept (dir: string, skip: Set<string>): string[] {
  const out: string[] = []
  const walk = (d: string): void => {
    for (const name of readdirSync(d).sort()) {
      const full = join(d, name)
      if (skip.has(full)) continue
      const s = lstatSync(full)
      out.push(`${relative(dir, full)} ${s.isDirectory() ? 'dir' : s.size}`)
      if (s.isDirectory()) walk(full)
    }
  }
  walk(dir)
  return out
}

export class Ledger {
  readonly entries: LedgerEntry[] = []
  /** Hashes of passing states (see noteWritten): bytes that were written, but need not be kept. */
  private readonly passing = new Set<string>()
  private readonly devices: LedgerDevice[]
  private readonly outsideRoot: string
  private readonly outsideBefore: string[]

  /** `devices` must share one folder and live under one directory (as makeCluster makes them). */
  constructor (devices: LedgerDevice[]) {
    this.devices = devices
    this.outsideRoot = dirname(dirname(devices[0].folder))
    this.outsideBefore = this.outside()
  }

  private outside (): string[] {
    return listingExcept(this.outsideRoot, new Set(this.devices.flatMap(d => [d.folder, d.home])))
  }

  /** Writes `content` to `path` on `device` (through a temp name and a rename, as editors do) and records it. */
  write (device: LedgerDevice, path: string, content: Uint8Array | string): LedgerEntry {
    const bytes = typeof content === 'string' ? Buffer.from(content) : content
    const full = join(device.folder, path)
    mkdirSync(dirname(full), { recursive: true })
    const scratch = join(dirname(device.folder), `scratch-${process.pid}`)
    writeFileSync(scratch, bytes)
    renameSync(scratch, full)
    const entry = { path, hash: sha(bytes), device: device.name }
    this.entries.push(entry)
    return entry
  }

  /**
   * Records a version the test wrote itself, in place (appended, overwritten), without write().
   * `isPassing`: a state overwritten again so soon that no device need ever see it; it counts only
   * as bytes that were written (check 2), never as a version to keep (check 1).
   */
  noteWritten (device: LedgerDevice, path: string, bytes: Uint8Array, { isPassing = false } = {}): LedgerEntry {
    const entry = { path, hash: sha(bytes), device: device.name }
    if (isPassing) this.passing.add(entry.hash)
    else this.entries.push(entry)
    return entry
  }

  /** Waits until the writing device recorded `entry` in its history (it saw that version). */
  async recorded (device: LedgerDevice, entry: LedgerEntry, timeoutMs = 20_000): Promise<void> {
    await waitFor(async () => {
      try {
        const h = await history(device, entry.path)
        return h.some(v => v.hash === entry.hash)
      } catch { return false }
    }, { timeoutMs, what: `${device.name} to record ${entry.path} (${entry.hash.slice(0, 8)})` })
  }

  /** Runs the five checks; the agents must be running. */
  async check ({ timeoutMs = 45_000 } = {}): Promise<void> {
    const written = new Set([...this.entries.map(e => e.hash), ...this.passing])
    // 3. The same (path, content) set everywhere, once healed.
    await waitConverged(this.devices, { timeoutMs, what: 'devices to hold the same files' })
    const trees = this.devices.map(d => filesOf(d.folder))
    // Paths whose history to read: every path written, and every file now present (conflict copies).
    const paths = new Set([...this.entries.map(e => e.path), ...trees.flatMap(t => [...t.keys()])])
    const histories = new Map<string, Array<{ device: LedgerDevice, versions: HistoryVersion[] }>>()
    await eachLimited([...paths], async path => {
      histories.set(path, await Promise.all(this.devices.map(async device => ({ device, versions: await history(device, path).catch(() => []) }))))
    })
    // 2. Nothing holds bytes that were never written.
    for (const [i, tree] of trees.entries()) {
      for (const [path, hash] of tree) assert.ok(written.has(hash), `${this.devices[i].name}: ${path} holds bytes never written (${hash.slice(0, 12)})`)
    }
    for (const [path, list] of histories) {
      for (const { device, versions } of list) {
        for (const v of versions) {
          if (v.isDeleted || v.kind !== 'file') continue
          assert.ok(written.has(v.hash), `${device.name}: history of ${path} #${v.number} holds bytes never written (${v.hash.slice(0, 12)})`)
        }
      }
    }
    // 1. Every written version is in some device's history and restores byte for byte.
    const out = tempDir('lansync-ledger-restore-')
    await eachLimited([...this.entries.entries()], async ([k, entry]) => {
      const holder = (histories.get(entry.path) ?? []).find(h => h.versions.some(v => v.hash === entry.hash))
      assert.ok(holder !== undefined, `version ${entry.hash.slice(0, 12)} of ${entry.path} (written on ${entry.device}) is in no device's history`)
      const version = holder.versions.find(v => v.hash === entry.hash) as HistoryVersion
      const to = join(out, `${k}`)
      await callAgent(join(holder.device.home, 'agent.sock'), 'restore', { path: join(holder.device.folder, entry.path), version: version.number, to })
      assert.is(sha(readFileSync(to)), entry.hash, `version #${version.number} of ${entry.path} on ${holder.device.name} restores byte for byte`)
    })
    // 4. Nothing outside the folders changed.
    assert.equal(this.outside(), this.outsideBefore, 'nothing outside the folders changed')
    // 5. A rescan changes nothing, and no temp file is left.
    for (const device of this.devices) {
      const [scanned] = await callAgent(join(device.home, 'agent.sock'), 'rescan', {})
      assert.equal(scanned.changed, [], `${device.name}: a rescan finds no changes`)
      assert.equal(tempFilesOf(device.folder), [], `${device.name}: no temp file is left`)
    }
  }
}

/** Runs `work` on every item, a few at a time: thousands of control-socket calls in a storm test. */
async function eachLimited<T> (items: T[], work: (item: T) => Promise<void>, limit = 8): Promise<void> {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await work(items[next++])
  }))
}

interface HistoryVersion { number: number, hash: string, isDeleted: boolean, kind: string }

async function history (device: LedgerDevice, path: string): Promise<HistoryVersion[]> {
  const r = await callAgent(join(device.home, 'agent.sock'), 'history', { path: join(device.folder, path) })
  return r.versions
}
