// Finds the pairing windows open on the LAN for `lansync pair CODE` typed without --addr: devices
// whose mDNS record carries a pairing port (TXT `pp`, protocol.md section 8). The running agent has
// been browsing all along, so it is asked first; without a running agent this process browses by
// itself for a few seconds (browsing only: it announces nothing). A record is only a hint: the code
// decides whom we pair with, so a spoofed record yields a failed attempt, never a pairing.
import { homePaths } from '../config.js'
import { callAgent } from '../control/client.js'
import { LansyncError, isLansyncError } from '../errors.js'
import { Discovery } from '../net/discovery.js'
import { PROTOCOL_VERSION } from '../protocol/messages.js'
import { isCanonicalDeviceId, pairingWindowAddresses, type LanPeersResult } from '../sync/lan-discovery.js'

/** A device announcing an open pairing window. */
export interface PairingCandidate { deviceId: string, name: string, addresses: string[] }

export interface LookupOptions {
  home: string
  deviceId: string
  /** The device's config says mDNS is on (`isMdnsEnabled`): without it this process never browses. */
  isMdnsEnabled: boolean
  /** How long to wait for a first window to be announced. */
  waitMs: number
  /** Called once when the search starts waiting: what to tell the person. */
  onWaiting?: (how: 'agent' | 'browse') => void
}

const GIVE_ADDR = 'give the address the other device printed, `lansync pair CODE --addr HOST:PORT`'
const POLL_MS = 200
/** Once one window is seen, others announced at about the same time get this much longer. */
const SETTLE_MS = 700

export async function findPairingWindows ({ home, deviceId, isMdnsEnabled, waitMs, onWaiting = () => {} }: LookupOptions): Promise<PairingCandidate[]> {
  let first: LanPeersResult
  try {
    first = await callAgent(homePaths(home).socket, 'peers', {})
  } catch (err) {
    if (!isLansyncError(err, 'AGENT_NOT_RUNNING')) throw err
    if (!isMdnsEnabled) throw new LansyncError('ARG_INVALID', `mDNS is off for this device (its config), so the other device cannot be found on the LAN: ${GIVE_ADDR}`)
    onWaiting('browse')
    return await browseForWindows(deviceId, waitMs)
  }
  if (!first.isDiscoveryEnabled) {
    throw new LansyncError('ARG_INVALID', `the agent here does not look on the LAN (${first.reason ?? 'mDNS is off'}): ${GIVE_ADDR}`)
  }
  onWaiting('agent')
  return await poll(async () => candidatesOf(await callAgent(homePaths(home).socket, 'peers', {})), waitMs)
}

function candidatesOf (result: LanPeersResult): PairingCandidate[] {
  return result.peers
    .filter(p => (p.pairingAddresses ?? []).length > 0)
    .map(p => ({ deviceId: p.deviceId, name: p.name, addresses: p.pairingAddresses ?? [] }))
}

async function browseForWindows (deviceId: string, waitMs: number): Promise<PairingCandidate[]> {
  // The port is what we would announce; with isAnnounced false nothing is announced at all.
  const discovery = new Discovery({ deviceId, deviceName: '', port: 1, protocolVersion: PROTOCOL_VERSION, isDeviceId: isCanonicalDeviceId, isAnnounced: false, queryIntervalMs: 1_000 })
  discovery.on('warning', () => {}) // a LAN without multicast simply finds nothing
  discovery.start()
  try {
    return await poll(async () => discovery.table().flatMap(s => {
      const addresses = pairingWindowAddresses(s)
      return addresses.length > 0 ? [{ deviceId: s.deviceId, name: s.name, addresses }] : []
    }), waitMs)
  } finally {
    await discovery.stop()
  }
}

/** Polls until some window shows up (then a moment more for others) or the wait is over. */
async function poll (read: () => Promise<PairingCandidate[]>, waitMs: number): Promise<PairingCandidate[]> {
  const deadline = Date.now() + waitMs
  let found = await read()
  let settleUntil = found.length > 0 ? Date.now() + SETTLE_MS : Infinity
  while (Date.now() < Math.min(deadline, settleUntil)) {
    await new Promise(resolve => setTimeout(resolve, POLL_MS))
    found = await read()
    if (found.length > 0 && settleUntil === Infinity) settleUntil = Date.now() + SETTLE_MS
  }
  return found
}
