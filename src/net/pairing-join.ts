// The device a person types the code into: dials the other device's pairing window and runs the
// initiator's side of the exchange (protocol.md section 8). It learns the other device's key only
// from a confirmation that proves the other side used the same code.
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { LansyncError, isLansyncError } from '../errors.js'
import { PairingPake, SCALAR_RANDOM_BYTES, SID_BYTES, isSameTag } from '../core/pake.js'
import type { PairingCode } from '../core/pairing-code.js'
import { encodeDeviceId } from '../core/device-id.js'
import { PAIRING_PROTOCOL_VERSION, decodeDeviceInfo, encodeDeviceInfo, type DeviceInfo, type PairFailMessage, type PairingMessage } from '../protocol/pairing.js'
import { PairingChannel } from './pairing-channel.js'
import { formatAddress } from './transport.js'
import { DEFAULT_STEP_TIMEOUT_MS, DEFAULT_WRONG_CODE_DELAY_MS } from './pairing-window.js'

export interface JoinOptions {
  host: string
  port: number
  code: PairingCode
  /** This device's public key, name, sync port and offered folders. */
  self: DeviceInfo
  stepTimeoutMs?: number
  random?: (bytes: number) => Uint8Array
  /** Progress for people: 'connected', 'checking'. */
  onStep?: (step: 'connected' | 'checking') => void
}

export interface JoinResult {
  deviceId: string
  info: DeviceInfo
}

/**
 * Pairs with the window at host:port. Throws PAIR_EXPIRED (no window there), PAIR_REJECTED (wrong
 * code, or the other side could not prove the code), PAIR_RATE_LIMITED (that was the window's last
 * attempt), PAIR_BUSY, or TRANSPORT_* / PROTOCOL_* errors, each with a message for people.
 */
export async function joinPairing ({ host, port, code, self, stepTimeoutMs = DEFAULT_STEP_TIMEOUT_MS, random = n => randomBytes(n), onStep = () => {} }: JoinOptions): Promise<JoinResult> {
  const address = formatAddress(host, port)
  const socket = await connect(host, port, address, stepTimeoutMs)
  const channel = new PairingChannel(socket)
  try {
    onStep('connected')
    const pake = new PairingPake({ role: 'initiator', secret: code.secret, sid: random(SID_BYTES), scalarBytes: scalarBytes(random) })
    channel.send({ type: 'pairStart', protocol: PAIRING_PROTOCOL_VERSION, sid: pake.sid, share: pake.share })
    const share = expect(await channel.receive('the other device\'s key share', stepTimeoutMs), 'pairShare', address)
    pake.receiveShare(share.share)
    const info = encodeDeviceInfo(self)
    const tag = pake.initiatorTag(info)
    onStep('checking')
    channel.send({ type: 'pairConfirm', info, tag })
    // The window answers a wrong code only after its delay.
    const accept = expect(await channel.receive('the other device\'s answer', stepTimeoutMs + DEFAULT_WRONG_CODE_DELAY_MS * 10), 'pairAccept', address)
    if (!isSameTag(pake.responderTag(info, tag, accept.info), accept.tag)) {
      throw new LansyncError('PAIR_REJECTED', `the device at ${address} accepted the code but could not prove it knows it: something between the two devices may be tampering. Nothing was added; pair again, and check that you dial the right device`)
    }
    const peer = decodeDeviceInfo(accept.info)
    if (Buffer.from(peer.key).equals(Buffer.from(self.key))) throw new LansyncError('PAIR_REJECTED', 'that pairing window is this device\'s own; type the code on the other device')
    return { deviceId: encodeDeviceId(peer.key), info: peer }
  } catch (err) {
    if (isLansyncError(err, 'TRANSPORT_CLOSED')) {
      throw new LansyncError('TRANSPORT_CLOSED', `${address} closed the connection during pairing (its window may have expired or closed meanwhile)`, { cause: err })
    }
    throw err
  } finally {
    channel.destroy()
  }
}

/** The awaited message, or the error a `pairFail` (or anything else) stands for. */
function expect<T extends PairingMessage['type']> (message: PairingMessage, type: T, address: string): Extract<PairingMessage, { type: T }> {
  if (message.type === type) return message as Extract<PairingMessage, { type: T }>
  if (message.type === 'pairFail') throw failure(message, address)
  throw new LansyncError('PROTOCOL_UNEXPECTED', `${address} sent ${message.type} where ${type} belongs`)
}

/** What a window's refusal means for the person at this device. */
function failure (fail: PairFailMessage, address: string): LansyncError {
  const left = fail.attemptsLeft
  switch (fail.code) {
    case 'PAIR_REJECTED':
      return new LansyncError('PAIR_REJECTED', left === undefined
        ? `the other device refused the pairing: ${fail.reason}`
        : `wrong pairing code: check it against the code the other device shows and try again (${left} attempt${left === 1 ? '' : 's'} left before its window closes)`)
    case 'PAIR_RATE_LIMITED':
      return new LansyncError('PAIR_RATE_LIMITED', 'wrong pairing code, and that was the last attempt: the other device closed its pairing window. Run `lansync pair` there again for a new code')
    case 'PAIR_EXPIRED':
      return new LansyncError('PAIR_EXPIRED', 'the pairing window on the other device has expired; run `lansync pair` there again for a new code')
    case 'PAIR_BUSY':
      return new LansyncError('PAIR_BUSY', `another device is trying a code on the pairing window at ${address} right now; try again in a few seconds`)
    case 'PROTOCOL_VERSION':
      return new LansyncError('PROTOCOL_VERSION', `the other device refused: ${fail.reason}`)
    default:
      return new LansyncError('PAIR_REJECTED', `the other device ended the pairing: ${fail.reason} (${fail.code})`)
  }
}

async function connect (host: string, port: number, address: string, timeoutMs: number): Promise<net.Socket> {
  const socket = net.connect({ host, port })
  return await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new LansyncError('TRANSPORT_TIMEOUT', `no answer from ${address} within ${Math.round(timeoutMs / 1000)} s; check the address the other device printed`))
    }, timeoutMs)
    socket.once('connect', () => { clearTimeout(timer); socket.removeAllListeners('error'); resolve(socket) })
    socket.once('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer)
      if (err.code === 'ECONNREFUSED') {
        reject(new LansyncError('PAIR_EXPIRED', `no pairing window is open at ${address}: it expired, was already used, or was closed. Run \`lansync pair\` on the other device for a new code`))
      } else {
        reject(new LansyncError('TRANSPORT_CLOSED', `cannot reach ${address}: ${err.message}`, { cause: err }))
      }
    })
  })
}

function scalarBytes (random: (bytes: number) => Uint8Array): Uint8Array {
  for (;;) {
    const bytes = random(SCALAR_RANDOM_BYTES)
    if (bytes.some((b, i) => (i === 31 ? b & 0x0f : b) !== 0)) return bytes
  }
}
