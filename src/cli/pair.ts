// `lansync pair` opens a pairing window on the running agent and prints a code; `lansync pair
// CODE` on the other device finds that window on the LAN (or at --addr HOST:PORT) and completes
// it. Both then list each other in `device list`, and folders named with --folder are offered (protocol.md section 8).
import type { Argv } from 'yargs'
import { homePaths, loadConfig, parseHostPort, updateConfig } from '../config.js'
import { loadIdentity } from '../identity.js'
import { callAgent } from '../control/client.js'
import { LansyncError, isLansyncError } from '../errors.js'
import { parsePairingCode } from '../core/pairing-code.js'
import { joinPairing, type JoinResult } from '../net/pairing-join.js'
import type { DeviceInfo } from '../protocol/pairing.js'
import type { PairingCode } from '../core/pairing-code.js'
import { findPairingWindows, type PairingCandidate } from './pair-lookup.js'
import { formatAddress } from '../net/transport.js'
import { recordPairing, resolveOfferedFolders, type OfferedFolder } from '../ops/pairing.js'
import type { PairOpenResult, PairProgress } from '../sync/pairing-host.js'
import { notifyAgent } from './invoke.js'
import type { GlobalArgs } from './main.js'

interface PairArgs extends GlobalArgs {
  code?: string
  addr?: string
  folder?: string[]
  timeout: number
  port?: number
  wait?: number
}

/** Seconds `pair CODE` waits for the other device's window to show up on the LAN. */
const DEFAULT_WAIT_S = 10

export function pairCommand (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('pair [code]', 'pair with another device: without CODE, show a code to type there; with CODE, complete the pairing the other device opened',
    y => y
      .positional('code', { type: 'string', describe: 'the code `lansync pair` printed on the other device' })
      .option('addr', { type: 'string', describe: 'with CODE: the other device\'s pairing address HOST:PORT, as it printed (default: find it on the LAN by mDNS)' })
      .option('wait', { type: 'number', describe: `with CODE and no --addr: seconds to look for the other device on the LAN (default ${DEFAULT_WAIT_S})` })
      .option('folder', { type: 'string', array: true, describe: 'offer this folder (ID or label) to the other device; repeatable' })
      .option('timeout', { type: 'number', default: 120, describe: 'without CODE: seconds the code stays valid' })
      .option('port', { type: 'number', describe: 'without CODE: TCP port for the pairing window (default: any free port)' })
      .example('lansync pair --folder docs', 'show a code, and offer folder docs to the device that pairs')
      .example('lansync pair K7Q-F9M-2DX', 'on the other device: pair using that code (found on the LAN)')
      .example('lansync pair K7Q-F9M-2DX --addr 192.168.1.20:40123', 'the same, where multicast does not reach'),
    async args => {
      const a = args as unknown as PairArgs
      if (a.code === undefined) await openWindow(a)
      else await join(a, a.code)
    })
}

/** Human lines as they happen; with --json, one JSON object per line (`event` says which). */
function say (args: GlobalArgs, event: object, human: string): void {
  if (args.json) process.stdout.write(JSON.stringify(event) + '\n')
  else if (human !== '') process.stdout.write(human + '\n')
}

async function openWindow (args: PairArgs): Promise<void> {
  if (args.addr !== undefined) throw new LansyncError('ARG_INVALID', '--addr goes with a code (`lansync pair CODE --addr HOST:PORT`, on the device that joins)')
  const config = loadConfig(args.home) // fails clearly when the device does not exist
  resolveOfferedFolders(config, args.folder ?? []) // named folders must exist before a code is shown
  if (args.port !== undefined && (!Number.isInteger(args.port) || args.port < 0 || args.port > 65535)) throw new LansyncError('ARG_INVALID', '--port must be a TCP port number')
  let result: PairOpenResult
  try {
    result = await callAgent(homePaths(args.home).socket, 'pair.open', { folders: args.folder ?? [], timeoutMs: args.timeout * 1000, port: args.port }, (p: PairProgress) => showProgress(args, p))
  } catch (err) {
    if (isLansyncError(err, 'AGENT_NOT_RUNNING')) {
      throw new LansyncError('AGENT_NOT_RUNNING', 'no agent is running for this device: start it with `lansync start` (in another terminal), then run `lansync pair` again')
    }
    throw err
  }
  const lines = [`Paired with "${result.name}" (${result.deviceId})${result.address !== undefined ? ` at ${result.address}` : ''}.`]
  for (const f of result.shared) lines.push(`Offered folder "${f.label}" (${f.id}) to "${result.name}"; it can accept it with \`lansync folder accept ${f.id} PATH\`.`)
  lines.push(...offerLines(result.name, result.offers, result.alreadyHere, result.deviceId))
  say(args, { event: 'paired', ...result }, lines.join('\n'))
}

function showProgress (args: GlobalArgs, p: PairProgress): void {
  switch (p.event) {
    case 'open': {
      const until = new Date(p.expiresMs).toLocaleTimeString()
      const dial = p.addresses.map(h => formatAddress(h, p.port))
      const lines = [
        `Pairing code: ${p.code}`,
        'On the other device, run:',
        ...(p.isAnnounced
          ? [`  lansync pair ${p.code}`, 'or, where multicast does not reach it:', ...dial.map(d => `  lansync pair ${p.code} --addr ${d}`)]
          : dial.map(d => `  lansync pair ${p.code} --addr ${d}`)),
        `The code works once, until ${until} (${Math.round(p.timeoutMs / 1000)} s).`
      ]
      if (p.folders.length > 0) lines.push(`The other device will be offered: ${p.folders.map(f => `"${f.label}" (${f.id})`).join(', ')}.`)
      lines.push('Waiting for the other device…')
      say(args, p, lines.join('\n'))
      return
    }
    case 'wrong-code':
      say(args, p, `A wrong code was tried from ${p.from}; ${p.attemptsLeft} attempt${p.attemptsLeft === 1 ? '' : 's'} left. Waiting…`)
      return
    case 'attempt-failed':
      say(args, p, `An attempt from ${p.from} failed: ${p.reason}. Waiting…`)
  }
}

async function join (args: PairArgs, typed: string): Promise<void> {
  const code = parsePairingCode(typed)
  if (args.wait !== undefined && !(args.wait > 0 && args.wait <= 600)) throw new LansyncError('ARG_INVALID', '--wait must be between 0 and 600 seconds')
  const identity = loadIdentity(args.home)
  const config = loadConfig(args.home)
  const shared = resolveOfferedFolders(config, args.folder ?? [])
  const { port: syncPort, isAgentRunning } = await ownSyncPort(args.home, config.listen)
  const windows = await pairingWindows(args, identity.deviceId, config.isMdnsEnabled)
  const self = { key: identity.publicKey, name: config.deviceName, port: syncPort, folders: shared }
  const { peer, host } = await tryWindows(args, windows, code, self)
  const dialAddress = peer.info.port > 0 ? formatAddress(host, peer.info.port) : undefined
  const record = updateConfig(args.home, c => recordPairing(c, identity.deviceId, {
    deviceId: peer.deviceId, name: peer.info.name, address: dialAddress, shared, offered: peer.info.folders, nowMs: Date.now()
  }))
  if (isAgentRunning) await notifyAgent(args.home)
  const name = record.device.name
  const lines = [`Paired with "${name}" (${peer.deviceId})${dialAddress !== undefined ? ` at ${dialAddress}` : ''}.`]
  for (const f of record.shared) lines.push(`Offered folder "${f.label}" (${f.id}) to "${name}".`)
  lines.push(...offerLines(name, record.offers, record.alreadyHere, peer.deviceId))
  if (!isAgentRunning) lines.push('The agent is not running here: start it with `lansync start` to connect.')
  say(args, { event: 'paired', deviceId: peer.deviceId, name, address: dialAddress, shared: record.shared, offers: record.offers, alreadyHere: record.alreadyHere }, lines.join('\n'))
}

/** Pairing windows to try: the one --addr names, else those announced on the LAN. */
async function pairingWindows (args: PairArgs, ownDeviceId: string, isMdnsEnabled: boolean): Promise<PairingCandidate[]> {
  if (args.addr !== undefined) {
    const { host, port } = parseHostPort(args.addr, '--addr')
    return [{ deviceId: '', name: '', addresses: [formatAddress(host, port)] }]
  }
  const waitS = args.wait ?? DEFAULT_WAIT_S
  const found = await findPairingWindows({
    home: args.home,
    deviceId: ownDeviceId,
    isMdnsEnabled,
    waitMs: waitS * 1000,
    onWaiting: () => say(args, { event: 'looking' }, 'Looking for the other device\'s pairing window on the LAN…')
  })
  if (found.length === 0) {
    throw new LansyncError('PAIR_EXPIRED', `no pairing window was announced on the LAN within ${waitS} s: the code may have expired or been used, or multicast does not reach the other device. ` +
      'Run `lansync pair` there again for a new code, or give the address it printed: `lansync pair CODE --addr HOST:PORT`')
  }
  return found
}

/**
 * Tries the windows in turn until one accepts the code. Usually there is one; when several devices
 * are pairing at once, a window that is not ours refuses the code (using one of its attempts) and
 * the next is tried. A window that cannot be reached at one address is tried at its next.
 */
async function tryWindows (args: PairArgs, windows: PairingCandidate[], code: PairingCode, self: DeviceInfo): Promise<{ peer: JoinResult, host: string }> {
  const failures: LansyncError[] = []
  for (const window of windows) {
    for (const address of window.addresses) {
      const { host, port } = parseHostPort(address)
      const who = window.name === '' ? address : `"${window.name}" at ${address}`
      say(args, { event: 'connecting', address, deviceId: window.deviceId || undefined }, `Connecting to ${who}…`)
      try {
        const peer = await joinPairing({ host, port, code, self, onStep: step => { if (step === 'checking') say(args, { event: 'checking' }, 'Checking the code…') } })
        return { peer, host }
      } catch (err) {
        if (!(err instanceof LansyncError)) throw err
        failures.push(err)
        // Unreachable here: the next address of the same window. Refused: the next window.
        if (err.code.startsWith('TRANSPORT_') || err.code === 'PAIR_EXPIRED') continue
        break
      }
    }
  }
  if (failures.length === 1 || windows.length === 1) throw failures[failures.length - 1]
  const names = windows.map(w => `"${w.name}"`).join(', ')
  throw new LansyncError(failures.some(e => e.code === 'PAIR_REJECTED') ? 'PAIR_REJECTED' : failures[failures.length - 1].code,
    `the code was not accepted by any of the ${windows.length} pairing windows on the LAN (${names}): ${failures.map(e => e.message).join('; ')}`)
}

function offerLines (name: string, offers: OfferedFolder[], alreadyHere: OfferedFolder[], deviceId: string): string[] {
  return [
    ...offers.map(f => `"${name}" offers folder "${f.label}" (${f.id}): accept it with \`lansync folder accept ${f.id} PATH\`.`),
    ...alreadyHere.map(f => `"${name}" offers folder "${f.label}" (${f.id}), which this device has too: link them with \`lansync folder share ${f.id} ${deviceId}\`.`)
  ]
}

/** The port this device's agent takes sync connections on: the running agent's, else the configured one. */
async function ownSyncPort (home: string, configuredListen: string): Promise<{ port: number, isAgentRunning: boolean }> {
  try {
    const status = await callAgent(homePaths(home).socket, 'status', {})
    return { port: Number(status?.listen?.port ?? parseHostPort(configuredListen).port), isAgentRunning: true }
  } catch (err) {
    if (!isLansyncError(err, 'AGENT_NOT_RUNNING')) throw err
    return { port: parseHostPort(configuredListen).port, isAgentRunning: false }
  }
}
