// The running agent's side of `lansync pair`: opens at most one pairing window at a time on the
// agent's listen host, reports its progress to the CLI that asked, records the paired device in the
// config (then reloads it, so the peer manager dials the device at once), and closes the window
// when that CLI goes away. The window's state is what mDNS announces while it is open.
import { randomBytes } from 'node:crypto'
import { networkInterfaces } from 'node:os'
import { LansyncError } from '../errors.js'
import { parseHostPort, updateConfig, type Config } from '../config.js'
import type { Identity } from '../identity.js'
import { pairingCodeFromBytes, CODE_SECRET_BYTES } from '../core/pairing-code.js'
import { PairingWindow, DEFAULT_WINDOW_MS, type PairedDevice } from '../net/pairing-window.js'
import { formatAddress } from '../net/transport.js'
import { recordPairing, resolveOfferedFolders, type OfferedFolder, type PairingRecord } from '../ops/pairing.js'

/** An open pairing window, as the agent exposes it (`agent.pairingWindow`, the `pairing` event). */
export interface PairingWindowState {
  /** Host the window listens on (the agent's listen host; `0.0.0.0` means every interface). */
  host: string
  /** TCP port of the window: what a joining device dials, and what mDNS announces as `pp`. */
  port: number
  /** When the window closes unless used before, in ms since the epoch. */
  expiresMs: number
}

export interface PairOpenParams {
  /** Folders (IDs or labels) to share with the device that pairs. */
  folders?: string[]
  timeoutMs?: number
  /** Port for the window; 0 (the default) picks a free one. */
  port?: number
}

/** Progress lines sent to the CLI while the window is open. */
export type PairProgress =
  | { event: 'open', code: string, host: string, port: number, addresses: string[], expiresMs: number, timeoutMs: number, folders: OfferedFolder[], isAnnounced: boolean }
  | { event: 'wrong-code', from: string, attemptsLeft: number }
  | { event: 'attempt-failed', from: string, reason: string }

export interface PairOpenResult {
  deviceId: string
  name: string
  /** Where this device will dial the other one, if it told its sync port. */
  address?: string
  shared: OfferedFolder[]
  offers: OfferedFolder[]
  alreadyHere: OfferedFolder[]
}

export interface PairingHostOptions {
  home: () => string
  identity: () => Identity
  config: () => Config
  /** The sync listener's bound address, once listening. */
  listenAddress: () => { host: string, port: number } | undefined
  isRunning: () => boolean
  /** Re-reads the config into the running agent (as `lansync device add` makes it do). */
  reload: () => Promise<void>
  onWindow: (state: PairingWindowState | undefined) => void
  /** Whether the window is announced on the LAN (mDNS on), so the other device can find it by the code alone. */
  isAnnounced: () => boolean
  log: (line: string) => void
}

const MIN_TIMEOUT_MS = 5_000
const MAX_TIMEOUT_MS = 60 * 60_000

export class PairingHost {
  private readonly o: PairingHostOptions
  private window: PairingWindow | undefined

  constructor (options: PairingHostOptions) {
    this.o = options
  }

  get state (): PairingWindowState | undefined {
    const w = this.window
    return w?.address === undefined || !w.isOpen ? undefined : { host: w.address.host, port: w.address.port, expiresMs: w.expiresMs }
  }

  /** Opens a window and resolves once a device paired through it; rejects when it closes otherwise. */
  async open (params: PairOpenParams, onProgress: (p: PairProgress) => void, signal?: AbortSignal): Promise<PairOpenResult> {
    if (!this.o.isRunning()) throw new LansyncError('AGENT_NOT_RUNNING', 'pairing needs the running agent: start it with `lansync start`, then run `lansync pair` again')
    if (this.window !== undefined) throw new LansyncError('PAIR_BUSY', 'a pairing window is already open on this device (another `lansync pair` is waiting); finish or stop that one first')
    const timeoutMs = params.timeoutMs ?? DEFAULT_WINDOW_MS
    if (!Number.isFinite(timeoutMs) || timeoutMs < MIN_TIMEOUT_MS || timeoutMs > MAX_TIMEOUT_MS) {
      throw new LansyncError('ARG_INVALID', `--timeout must be between ${MIN_TIMEOUT_MS / 1000} and ${MAX_TIMEOUT_MS / 1000} seconds`)
    }
    const config = this.o.config()
    const shared = resolveOfferedFolders(config, params.folders ?? [])
    const identity = this.o.identity()
    const listen = this.o.listenAddress() ?? parseHostPort(config.listen)
    let record: PairingRecord | undefined
    const window = new PairingWindow({
      code: pairingCodeFromBytes(randomBytes(CODE_SECRET_BYTES)),
      self: { key: identity.publicKey, name: config.deviceName, port: listen.port, folders: shared },
      durationMs: timeoutMs,
      commit: async device => { record = await this.commit(device, shared) }
    })
    this.window = window
    const onAbort = (): void => window.close()
    try {
      const bound = await window.listen(listen.host, params.port ?? 0)
      signal?.addEventListener('abort', onAbort)
      if (signal?.aborted === true) window.close()
      window.on('wrong-code', ({ remoteAddress, attemptsLeft }) => {
        this.o.log(`pairing: a wrong code was tried from ${remoteAddress} (${attemptsLeft} attempts left)`)
        onProgress({ event: 'wrong-code', from: remoteAddress, attemptsLeft })
      })
      window.on('attempt-failed', ({ remoteAddress, reason }) => {
        this.o.log(`pairing: an attempt from ${remoteAddress} failed: ${reason}`)
        onProgress({ event: 'attempt-failed', from: remoteAddress, reason })
      })
      this.o.log(`pairing window open on ${formatAddress(bound.host, bound.port)} for ${Math.round(timeoutMs / 1000)} s`)
      this.o.onWindow(this.state)
      onProgress({ event: 'open', code: window.code.text, host: bound.host, port: bound.port, addresses: reachableHosts(bound.host), expiresMs: window.expiresMs, timeoutMs, folders: shared, isAnnounced: this.o.isAnnounced() })
      const device = await window.result()
      const done = record as PairingRecord
      this.o.log(`paired with ${device.info.name} (${device.deviceId}); the pairing window is closed`)
      return { deviceId: device.deviceId, name: done.device.name, address: done.device.addresses[0], shared: done.shared, offers: done.offers, alreadyHere: done.alreadyHere }
    } catch (err) {
      this.o.log(`pairing window closed: ${(err as Error).message}`)
      throw err
    } finally {
      signal?.removeEventListener('abort', onAbort)
      window.close()
      this.window = undefined
      this.o.onWindow(undefined)
    }
  }

  close (): void {
    this.window?.close()
  }

  private async commit (device: PairedDevice, shared: OfferedFolder[]): Promise<PairingRecord> {
    const address = device.info.port > 0 && device.remoteHost !== '' ? formatAddress(device.remoteHost, device.info.port) : undefined
    const record = updateConfig(this.o.home(), c => recordPairing(c, this.o.identity().deviceId, {
      deviceId: device.deviceId, name: device.info.name, address, shared, offered: device.info.folders, nowMs: Date.now()
    }))
    await this.o.reload()
    return record
  }
}

/** Hosts a person on another device can dial: the bound host, or this machine's LAN addresses for a wildcard. */
function reachableHosts (host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [host]
  const out: string[] = []
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) {
      if (a.internal) continue
      if (a.family === 'IPv4') out.push(a.address)
      else if (host === '::' && !a.address.startsWith('fe80')) out.push(a.address)
    }
  }
  return out.length > 0 ? out : ['127.0.0.1']
}
