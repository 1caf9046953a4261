// `lansync peers`: the devices the running agent sees on the LAN (mDNS), paired or not.
import type { Argv } from 'yargs'
import { homePaths } from '../config.js'
import { callAgent } from '../control/client.js'
import { LansyncError, isLansyncError } from '../errors.js'
import type { LanPeer, LanPeersResult } from '../sync/lan-discovery.js'
import { print, table } from './output.js'
import type { GlobalArgs } from './main.js'

export function peersCommand (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('peers', 'devices the running agent sees on the LAN, paired or not', y => y, async args => {
    let result: LanPeersResult
    try {
      result = await callAgent(homePaths(args.home).socket, 'peers', {})
    } catch (err) {
      if (!isLansyncError(err, 'AGENT_NOT_RUNNING')) throw err
      // Only a running agent listens on the LAN; starting one here just to look would announce us.
      throw new LansyncError('AGENT_NOT_RUNNING', 'no agent is running: start it with `lansync start` (the LAN is watched by the running agent)')
    }
    print(args, result, () => formatPeers(result, Date.now()))
  })
}

export function formatPeers (result: LanPeersResult, nowMs: number): string {
  if (!result.isDiscoveryEnabled) return `LAN discovery is off (${result.reason ?? 'mDNS disabled'}); see \`lansync device list\` for paired devices.`
  if (result.peers.length === 0) return 'No lansync devices seen on the LAN yet.'
  const rows = result.peers.map((p: LanPeer) => [
    p.name === '' ? '-' : p.name,
    p.deviceId,
    p.addresses.join(', '),
    p.isPaired ? `yes${p.pairedName !== undefined && p.pairedName !== p.name ? ` (${p.pairedName})` : ''}` : 'no',
    p.isConnected ? 'yes' : 'no',
    ago(nowMs - p.lastSeenMs)
  ])
  return table([['NAME', 'DEVICE ID', 'ADDRESSES', 'PAIRED', 'CONNECTED', 'LAST SEEN'], ...rows])
}

function ago (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 90) return `${s} s ago`
  if (s < 90 * 60) return `${Math.round(s / 60)} min ago`
  return `${Math.round(s / 3600)} h ago`
}
