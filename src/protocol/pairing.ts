// The pairing exchange's messages (protocol.md section 8.4): types, limits, and msgpack encoding
// and decoding with every field validated, like codec.ts does for the sync protocol. A device's
// `info` travels as the exact bytes its confirmation tag covers and is decoded only once the tag
// checked out.
import { Packr } from 'msgpackr'
import { LansyncError, isLansyncError } from '../errors.js'
import { checkMsgpackShape } from './msgpack-shape.js'
import { asMap, has, invalid, readArray, readBin, readInt, readString, type WireMap } from './fields.js'
import { CODE_PATTERN, FOLDER_ID_PATTERN, MAX_NAME_BYTES, MAX_REASON_BYTES } from './messages.js'

export const PAIRING_PROTOCOL_VERSION = 1
/** Largest pairing frame payload; the reader checks the header against it before buffering. */
export const MAX_PAIRING_FRAME_BYTES = 64 * 1024
/** Largest `info` (the encoded DeviceInfo) in a confirmation. */
export const MAX_INFO_BYTES = 48 * 1024
/** Most folders one device offers while pairing. */
export const MAX_OFFERED_FOLDERS = 100
const MAX_DEPTH = 4
const KEY_BYTES = 32
const SHARE_BYTES = 32
const SID_BYTES = 16
const TAG_BYTES = 32

/** protocol.md's registry numbers of the pairing messages (shared with section 4's; never reused). */
export const PAIRING_MESSAGE_IDS = {
  pairStart: 9,
  pairShare: 10,
  pairConfirm: 11,
  pairAccept: 12,
  pairFail: 13
} as const

export type PairingMessageType = keyof typeof PAIRING_MESSAGE_IDS

/** Joiner → window: the protocol version, the session id it picked and its CPace share. */
export interface PairStartMessage { type: 'pairStart', protocol: number, sid: Uint8Array, share: Uint8Array }
/** Window → joiner: the window's CPace share. */
export interface PairShareMessage { type: 'pairShare', share: Uint8Array }
/** Joiner → window: who the joiner is (encoded DeviceInfo) and its confirmation tag. */
export interface PairConfirmMessage { type: 'pairConfirm', info: Uint8Array, tag: Uint8Array }
/** Window → joiner: who the window's device is and its confirmation tag; pairing is done. */
export interface PairAcceptMessage { type: 'pairAccept', info: Uint8Array, tag: Uint8Array }
/** Either way: why the attempt ends; `attemptsLeft` tells a joiner how many more codes the window takes. */
export interface PairFailMessage { type: 'pairFail', code: string, reason: string, attemptsLeft?: number }

export type PairingMessage = PairStartMessage | PairShareMessage | PairConfirmMessage | PairAcceptMessage | PairFailMessage

/** What one device tells the other about itself, inside a confirmation. */
export interface DeviceInfo {
  /** The device's ed25519 public key: its device ID and Noise static key. */
  key: Uint8Array
  name: string
  /** TCP port its agent listens on for sync connections; 0 if unknown. */
  port: number
  /** Folders it shares with the other device from now on (offers, for the other side). */
  folders: Array<{ id: string, label: string }>
}

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number', variableMapSize: true })

const NAME_RULE = { minBytes: 1, maxBytes: MAX_NAME_BYTES, isHuman: true }
const FOLDER_RULE = { minBytes: 1, maxBytes: 64, pattern: FOLDER_ID_PATTERN }

export function encodePairingMessage (message: PairingMessage): Buffer {
  // Keys in the order of protocol.md's tables, so that encodings are reproducible.
  switch (message.type) {
    case 'pairStart': return packr.pack({ type: message.type, protocol: message.protocol, sid: bin(message.sid), share: bin(message.share) })
    case 'pairShare': return packr.pack({ type: message.type, share: bin(message.share) })
    case 'pairConfirm':
    case 'pairAccept': return packr.pack({ type: message.type, info: bin(message.info), tag: bin(message.tag) })
    case 'pairFail': {
      const out: Record<string, unknown> = { type: message.type, code: message.code, reason: message.reason }
      if (message.attemptsLeft !== undefined) out.attemptsLeft = message.attemptsLeft
      return packr.pack(out)
    }
  }
}

/** Validates one pairing frame payload; throws PROTOCOL_DECODE, PROTOCOL_INVALID_MESSAGE or PROTOCOL_VERSION. */
export function decodePairingMessage (bytes: Uint8Array): PairingMessage {
  const map = unpackMap(bytes, 'message')
  const type = readString(map, 'type', 'message.type', { maxBytes: 64 })
  switch (type) {
    case 'pairStart': {
      // `protocol` first: another version may differ in every other field.
      const protocol = readInt(map, 'protocol', 'pairStart.protocol', { max: 0xffffffff })
      if (protocol !== PAIRING_PROTOCOL_VERSION) {
        throw new LansyncError('PROTOCOL_VERSION', `the other device speaks pairing protocol ${protocol}, this one ${PAIRING_PROTOCOL_VERSION}; update lansync on the older one`)
      }
      return {
        type,
        protocol,
        sid: readBin(map, 'sid', 'pairStart.sid', { minBytes: SID_BYTES, maxBytes: SID_BYTES }, true),
        share: readBin(map, 'share', 'pairStart.share', { minBytes: SHARE_BYTES, maxBytes: SHARE_BYTES }, true)
      }
    }
    case 'pairShare':
      return { type, share: readBin(map, 'share', 'pairShare.share', { minBytes: SHARE_BYTES, maxBytes: SHARE_BYTES }, true) }
    case 'pairConfirm':
    case 'pairAccept':
      return {
        type,
        info: readBin(map, 'info', `${type}.info`, { minBytes: 1, maxBytes: MAX_INFO_BYTES }, true),
        tag: readBin(map, 'tag', `${type}.tag`, { minBytes: TAG_BYTES, maxBytes: TAG_BYTES }, true)
      }
    case 'pairFail': {
      const message: PairFailMessage = {
        type,
        code: readString(map, 'code', 'pairFail.code', { minBytes: 1, maxBytes: 64, pattern: CODE_PATTERN }),
        reason: readString(map, 'reason', 'pairFail.reason', { maxBytes: MAX_REASON_BYTES, isHuman: true })
      }
      if (has(map, 'attemptsLeft')) message.attemptsLeft = readInt(map, 'attemptsLeft', 'pairFail.attemptsLeft', { max: 1000 })
      return message
    }
    default:
      throw invalid('message.type', `unknown pairing message type ${JSON.stringify(type.slice(0, 64))}`)
  }
}

export function encodeDeviceInfo (info: DeviceInfo): Buffer {
  const bytes = packr.pack({
    key: bin(info.key),
    name: info.name,
    port: info.port,
    folders: info.folders.map(f => ({ id: f.id, label: f.label }))
  })
  if (bytes.byteLength > MAX_INFO_BYTES) throw new LansyncError('ARG_INVALID', `this device's pairing info is ${bytes.byteLength} bytes, more than ${MAX_INFO_BYTES}; offer fewer folders`)
  return bytes
}

/** Validates a DeviceInfo; call only on bytes whose confirmation tag was checked. */
export function decodeDeviceInfo (bytes: Uint8Array): DeviceInfo {
  const map = unpackMap(bytes, 'info')
  const key = readBin(map, 'key', 'info.key', { minBytes: KEY_BYTES, maxBytes: KEY_BYTES }, true)
  const name = readString(map, 'name', 'info.name', NAME_RULE)
  const port = readInt(map, 'port', 'info.port', { max: 65535 })
  const seen = new Set<string>()
  const folders = readArray(map, 'folders', 'info.folders', MAX_OFFERED_FOLDERS).map((item, i) => {
    const f = asMap(item, `info.folders[${i}]`)
    const id = readString(f, 'id', `info.folders[${i}].id`, FOLDER_RULE)
    if (seen.has(id)) throw invalid(`info.folders[${i}].id`, `folder ${id} is listed twice`)
    seen.add(id)
    return { id, label: readString(f, 'label', `info.folders[${i}].label`, NAME_RULE) }
  })
  return { key, name, port, folders }
}

function unpackMap (bytes: Uint8Array, field: string): WireMap {
  if (bytes.byteLength === 0) throw new LansyncError('PROTOCOL_DECODE', 'empty message')
  checkMsgpackShape(bytes, { maxDepth: MAX_DEPTH })
  let value: unknown
  try {
    value = packr.unpack(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  } catch (err) {
    if (isLansyncError(err)) throw err
    throw new LansyncError('PROTOCOL_DECODE', `malformed msgpack: ${(err as Error).message}`, { cause: err })
  }
  return asMap(value, field)
}

/** Bytes as a Buffer so that msgpackr writes a bin (it writes other typed arrays as extensions). */
function bin (bytes: Uint8Array): Buffer {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
}
