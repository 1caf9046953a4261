// `lansync status`: folders (and, with a running agent, live state) of this device.
import type { Argv } from 'yargs'
import { formatBytes, print, table } from './output.js'
import { invoke } from './invoke.js'
import { formatWan } from './wan.js'
import { formatLimits } from './limits.js'
import { formatRate } from '../core/rate.js'
import type { GlobalArgs } from './main.js'

export function statusCommand (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('status', 'show folders, peers and progress', y => y, async args => {
    const s = await invoke(args.home, 'status', {})
    print(args, s, () => [
      `Device ${s.deviceName}: ${s.deviceId}`,
      `Agent: ${s.isAgentRunning ? `running for ${Math.round(s.uptimeMs / 1000)} s` : 'not running (`lansync start`)'}`,
      formatWan(s.wan, s.isAgentRunning === true),
      ...(s.limits !== undefined ? [formatLimits({ ...s.limits, devices: [] })] : []),
      '',
      s.folders.length === 0
        ? 'No folders.'
        : table([['FOLDER', 'STATE', 'FILES', 'SIZE', 'PATH'], ...s.folders.map((f: any) => [
          f.label, f.state + (f.reason !== undefined && f.reason !== null ? `: ${f.reason as string}` : ''), String(f.files), formatBytes(f.bytes), f.path
        ])]),
      ...selectionLines(s.folders),
      ...typeLines(s.folders),
      ...peerLines(s.peers ?? []),
      ...problemLines(s.folders)
    ].join('\n'))
  })
}

/** Folders this device holds only a part of (`folder only`). */
function selectionLines (folders: any[]): string[] {
  return folders.filter(f => (f.selection ?? []).length > 0)
    .map(f => `${f.label as string}: holds only ${(f.selection as string[]).join(' ')} here (${f.notHeld as number} more paths on other devices; \`lansync fetch PATH\`)`)
}

/** One line per paired device: connected or not, then per shared folder in sync or what is left. */
function peerLines (peers: any[]): string[] {
  if (peers.length === 0) return []
  const rows = peers.map(p => {
    const sync = !p.isConnected
      ? '-'
      : (p.folders as any[]).map(f => {
          const left = f.needFiles > 0 ? `receiving ${f.needFiles as number} files, ${formatBytes(f.needBytes)}` : f.peerNeedFiles > 0 ? `sending ${f.peerNeedFiles as number} files, ${formatBytes(f.peerNeedBytes)}` : f.isInitialReceived === false ? 'comparing' : 'in sync'
          return `${f.label as string}: ${left}`
        }).join('; ') || 'no shared folders'
    const limits = (p.maxRecvBps ?? 0) > 0 || (p.maxSendBps ?? 0) > 0 ? ` (limits ↓${formatRate(p.maxRecvBps ?? 0)} ↑${formatRate(p.maxSendBps ?? 0)})` : ''
    const rates = (p.isConnected ? `↓${formatBytes(Math.round(p.recvRateBps ?? 0))}/s ↑${formatBytes(Math.round(p.sendRateBps ?? 0))}/s` : '') + limits
    const connection = p.isPaused === true ? 'paused (`lansync device resume`)' : p.isConnected ? `connected ${p.address as string} (${(p.via ?? 'lan') as string})` : 'not connected'
    return [p.name ?? '', connection, sync, rates]
  })
  return ['', table([['DEVICE', 'CONNECTION', 'FOLDERS', 'RATE'], ...rows])]
}

/** Send-only folders out of sync and receive-only folders with local changes, with the command that settles them. */
function typeLines (folders: any[]): string[] {
  const lines: string[] = []
  for (const f of folders) {
    const label = f.label as string
    if (f.type === 'sendonly' && f.outOfSync > 0) {
      lines.push(`${label}: send only, out of sync: ${f.outOfSync as number} remote change${f.outOfSync === 1 ? '' : 's'} not applied here; \`lansync folder override ${label}\` pushes this device's files`)
    }
    if (f.type === 'receiveonly' && f.localChanges > 0) {
      lines.push(`${label}: receive only, ${f.localChanges as number} locally changed item${f.localChanges === 1 ? '' : 's'} not sent; \`lansync folder revert ${label}\` takes the other devices' version back`)
    }
  }
  return lines.length === 0 ? [] : ['', ...lines]
}

/** Paths that could not be scanned or applied, per folder (the first few; --json lists all). */
function problemLines (folders: any[]): string[] {
  const lines: string[] = []
  for (const f of folders) {
    const problems: any[] = f.problems ?? []
    if (problems.length === 0) continue
    lines.push('', `${f.label as string}: ${problems.length} path${problems.length === 1 ? '' : 's'} with problems`)
    for (const p of problems.slice(0, 10)) lines.push(`  ${p.path === '' ? '(folder)' : p.path as string}: ${p.code as string}: ${p.message as string}`)
    if (problems.length > 10) lines.push(`  … ${problems.length - 10} more (lansync status --json)`)
  }
  return lines
}
