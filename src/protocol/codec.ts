// Message payloads <-> msgpack bytes (protocol.md sections 2-4). Decoding proves the bytes'
// shape first (msgpack-shape.ts), lets msgpackr build the value, then validates every field and
// builds fresh objects: nothing decoded is ever returned as-is.
import { Packr } from 'msgpackr'
import { LansyncError, isLansyncError } from '../errors.js'
import { normaliseWirePath, MAX_PATH_BYTES } from '../core/paths.js'
import type { BlockRef, FileKind, FileRecord, VersionVector } from '../core/types.js'
import type { BlockSignature, DeltaOp } from '../core/block-delta.js'
import {
  CODE_PATTERN, FOLDER_ID_PATTERN, HASH_BYTES, HEX16_PATTERN, MAX_BLOCK_BYTES, MAX_FOLDERS_PER_HELLO,
  MAX_FRAME_BYTES, MAX_LINK_TARGET_BYTES, MAX_NAME_BYTES, MAX_NESTING_DEPTH, MAX_REASON_BYTES,
  MAX_RECORDS_PER_BATCH, MAX_VECTOR_ENTRIES, MESSAGE_IDS, PROTOCOL_VERSION,
  BASE_STRONG_BYTES, MAX_BASE_PIECES, MAX_DELTA_OPS, MAX_PIECE_BYTES, MIN_PIECE_BYTES,
  type HelloFolder, type Message, type MessageType
} from './messages.js'
import { checkMsgpackShape } from './msgpack-shape.js'
import {
  asMap, checkArray, checkBin, checkInt, checkString, has, invalid, readArray, readBin, readBool,
  readInt, readString, type WireMap
} from './fields.js'

// Plain maps as objects, bins as Buffers, 64-bit integers as numbers (range-checked after), and
// fixmap/map16/map32 chosen by size so that encodings are minimal and reproducible.
const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false, int64AsType: 'number', variableMapSize: true })

const KINDS: readonly FileKind[] = ['file', 'dir', 'symlink']
const UINT32_MAX = 0xffffffff
const FOLDER_RULE = { minBytes: 1, maxBytes: 64, pattern: FOLDER_ID_PATTERN }
const HASH_RULE = { minBytes: HASH_BYTES, maxBytes: HASH_BYTES }
const SHORT_RULE = { maxBytes: 16, pattern: HEX16_PATTERN }

/** The record as the msgpack map of protocol.md section 2 (keys in table order, defaults omitted). */
export interface WireRecord {
  p: string
  k: number
  s: number
  t: number
  m: number
  v: VersionVector
  d?: true
  b?: Array<[Uint8Array, number]>
  h: Uint8Array
  l?: string
  o: string
  q: number
}

export function recordToWire (record: FileRecord): WireRecord {
  // Built key by key in the order of protocol.md's table; defaults are omitted.
  const wire: Partial<WireRecord> = {
    p: record.path,
    k: KINDS.indexOf(record.kind),
    s: record.sizeBytes,
    t: record.mtimeMs,
    m: record.mode,
    v: { ...record.vector }
  }
  if (record.isDeleted) wire.d = true
  if (record.blocks.length > 0) wire.b = record.blocks.map(b => [b.hash, b.sizeBytes])
  wire.h = record.hash
  if (record.linkTarget !== '') wire.l = record.linkTarget
  wire.o = record.modifiedBy
  wire.q = record.sequence
  return wire as WireRecord
}

/** Validates one decoded wire record (`field` names it in errors) and builds a FileRecord. */
export function recordFromWire (value: unknown, field = 'record'): FileRecord {
  const map = asMap(value, field)
  const path = readPath(map, 'p', `${field}.p`)
  const kind = KINDS[readInt(map, 'k', `${field}.k`, { max: KINDS.length - 1 })]
  const sizeBytes = readInt(map, 's', `${field}.s`)
  const mtimeMs = readInt(map, 't', `${field}.t`, { min: Number.MIN_SAFE_INTEGER })
  const mode = readInt(map, 'm', `${field}.m`, { max: 0o7777 })
  const vector = readVector(map, 'v', `${field}.v`)
  const isDeleted = has(map, 'd') ? readBool(map, 'd', `${field}.d`) : false
  const blocks = has(map, 'b') ? readBlocks(map, 'b', `${field}.b`) : []
  const hash = readBin(map, 'h', `${field}.h`, HASH_RULE, true)
  const linkTarget = has(map, 'l') ? readString(map, 'l', `${field}.l`, { maxBytes: MAX_LINK_TARGET_BYTES }) : ''
  const modifiedBy = readString(map, 'o', `${field}.o`, SHORT_RULE)
  const sequence = readInt(map, 'q', `${field}.q`)

  if (linkTarget.includes('\u0000')) throw invalid(`${field}.l`, 'contains a NUL character')
  if (linkTarget !== '' && (kind !== 'symlink' || isDeleted)) throw invalid(`${field}.l`, 'only a symbolic link that is not deleted has a target')
  if (kind === 'file' && !isDeleted) {
    let total = 0
    for (const block of blocks) total += block.sizeBytes
    if (total !== sizeBytes) throw invalid(`${field}.b`, `blocks add up to ${total} bytes, the record says ${sizeBytes}`)
  } else {
    const what = isDeleted ? 'a deleted record' : `a ${kind === 'dir' ? 'directory' : 'symbolic link'}`
    if (sizeBytes !== 0) throw invalid(`${field}.s`, `${what} has size 0, got ${sizeBytes}`)
    if (blocks.length > 0) throw invalid(`${field}.b`, `${what} has no blocks`)
  }
  return { path, kind, sizeBytes, mtimeMs, mode, vector, isDeleted, blocks, hash, linkTarget, modifiedBy, sequence }
}

/** The msgpack payload of a message (no frame header). */
export function encodeMessage (message: Message): Buffer {
  return packr.pack(toWire(message))
}

/** msgpack's bin 8 header of an empty byte string: what a response's `data` packs to when empty. */
const EMPTY_BIN = [0xc4, 0x00]

/**
 * encodeMessage's bytes as pieces to send one after another: a response's block data is a piece
 * of its own, the caller's buffer itself, instead of being copied into the payload. Blocks are
 * nearly all a connection sends, and the copy (into a payload buffer msgpackr allocates afresh
 * about once per block) was a second gigabyte allocated and freed per gigabyte sent.
 * `data` is the last field of a response's map (toWire), so the payload is the map packed with
 * an empty `data`, whose bin header is then swapped for one of the real length, then the bytes.
 */
export function encodeMessageParts (message: Message): Uint8Array[] {
  if (message.type !== 'response' || message.data === undefined) return [encodeMessage(message)]
  const head = packr.pack(toWire({ ...message, data: new Uint8Array(0) }))
  const binAt = head.byteLength - EMPTY_BIN.length
  if (head[binAt] !== EMPTY_BIN[0] || head[binAt + 1] !== EMPTY_BIN[1]) throw new Error('msgpackr no longer packs an empty response.data as bin 8 last; encodeMessageParts must change')
  return [Buffer.concat([head.subarray(0, binAt), binHeader(message.data.byteLength)]), message.data]
}

/** msgpack's header of a byte string of `length` bytes, in the smallest format (as msgpackr writes it). */
function binHeader (length: number): Uint8Array {
  if (length < 0x100) return Uint8Array.of(0xc4, length)
  if (length < 0x10000) return Uint8Array.of(0xc5, length >>> 8, length & 0xff)
  const header = Buffer.allocUnsafe(5)
  header[0] = 0xc6
  header.writeUInt32BE(length, 1)
  return header
}

/**
 * Decodes and validates one payload. Throws LansyncError: PROTOCOL_DECODE for bytes that are not
 * one msgpack value within the limits, PROTOCOL_INVALID_MESSAGE for a bad field or unknown type
 * (naming it), PROTOCOL_VERSION for a hello of another protocol version.
 */
export function decodeMessage (bytes: Uint8Array): Message {
  if (bytes.byteLength === 0) throw new LansyncError('PROTOCOL_DECODE', 'empty message')
  if (bytes.byteLength > MAX_FRAME_BYTES) throw new LansyncError('PROTOCOL_FRAME_TOO_LARGE', `message of ${bytes.byteLength} bytes exceeds ${MAX_FRAME_BYTES}`)
  checkMsgpackShape(bytes, { maxDepth: MAX_NESTING_DEPTH })
  let value: unknown
  try {
    value = packr.unpack(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
  } catch (err) {
    throw new LansyncError('PROTOCOL_DECODE', `malformed msgpack: ${(err as Error).message}`, { cause: err })
  }
  const map = asMap(value, 'message')
  const type = readString(map, 'type', 'message.type', { maxBytes: 64 })
  if (!Object.hasOwn(MESSAGE_IDS, type)) throw invalid('message.type', `unknown message type ${JSON.stringify(type)}`)
  return DECODERS[type as MessageType](map)
}

const DECODERS: { [T in MessageType]: (map: WireMap) => Extract<Message, { type: T }> } = {
  hello (map) {
    // `protocol` is read first: a hello of another version may differ in every other field.
    const protocol = readInt(map, 'protocol', 'hello.protocol', { max: UINT32_MAX })
    if (protocol !== PROTOCOL_VERSION) {
      throw new LansyncError('PROTOCOL_VERSION', `peer speaks protocol ${protocol}, this device ${PROTOCOL_VERSION}`)
    }
    const deviceName = readString(map, 'deviceName', 'hello.deviceName', { maxBytes: MAX_NAME_BYTES, isHuman: true })
    const seen = new Set<string>()
    const folders = readArray(map, 'folders', 'hello.folders', MAX_FOLDERS_PER_HELLO).map((item, i): HelloFolder => {
      const field = `hello.folders[${i}]`
      const f = asMap(item, field)
      const id = readString(f, 'id', `${field}.id`, FOLDER_RULE)
      if (seen.has(id)) throw invalid(`${field}.id`, `folder ${id} is listed twice`)
      seen.add(id)
      const folder: HelloFolder = {
        id,
        label: readString(f, 'label', `${field}.label`, { maxBytes: MAX_NAME_BYTES, isHuman: true }),
        epoch: readString(f, 'epoch', `${field}.epoch`, SHORT_RULE),
        sequence: readInt(f, 'sequence', `${field}.sequence`),
        haveEpoch: readString(f, 'haveEpoch', `${field}.haveEpoch`, { maxBytes: 16 }),
        haveSequence: readInt(f, 'haveSequence', `${field}.haveSequence`)
      }
      if (folder.haveEpoch !== '' && !HEX16_PATTERN.test(folder.haveEpoch)) {
        throw invalid(`${field}.haveEpoch`, `${JSON.stringify(folder.haveEpoch)} is neither "" nor 16 hex characters`)
      }
      if (folder.haveEpoch === '' && folder.haveSequence !== 0) throw invalid(`${field}.haveSequence`, 'is not 0 while haveEpoch is ""')
      return folder
    })
    return { type: 'hello', protocol, deviceName, folders }
  },

  manifest (map) {
    return {
      type: 'manifest',
      folder: readString(map, 'folder', 'manifest.folder', FOLDER_RULE),
      records: readRecords(map, 'manifest'),
      sequence: readInt(map, 'sequence', 'manifest.sequence'),
      isLast: readBool(map, 'isLast', 'manifest.isLast')
    }
  },

  update (map) {
    return {
      type: 'update',
      folder: readString(map, 'folder', 'update.folder', FOLDER_RULE),
      records: readRecords(map, 'update'),
      sequence: readInt(map, 'sequence', 'update.sequence')
    }
  },

  request (map) {
    return {
      type: 'request',
      id: readInt(map, 'id', 'request.id', { max: UINT32_MAX }),
      folder: readString(map, 'folder', 'request.folder', FOLDER_RULE),
      path: readPath(map, 'path', 'request.path'),
      hash: readBin(map, 'hash', 'request.hash', HASH_RULE, true),
      sizeBytes: readInt(map, 'sizeBytes', 'request.sizeBytes', { min: 1, max: MAX_BLOCK_BYTES }),
      ...(has(map, 'base') ? { base: readBase(map) } : {})
    }
  },

  response (map) {
    const id = readInt(map, 'id', 'response.id', { max: UINT32_MAX })
    const hasData = has(map, 'data')
    const hasDelta = has(map, 'delta')
    if (Number(hasData) + Number(hasDelta) + Number(has(map, 'error')) !== 1) throw invalid('response', 'needs exactly one of data, delta and error')
    // Block data stays a view into the frame: it is as large as the frame and used once.
    if (hasData) return { type: 'response', id, data: readBin(map, 'data', 'response.data', { minBytes: 1, maxBytes: MAX_BLOCK_BYTES }) }
    if (hasDelta) return { type: 'response', id, delta: readDelta(map) }
    return { type: 'response', id, error: readString(map, 'error', 'response.error', { maxBytes: 64, pattern: CODE_PATTERN }) }
  },

  progress (map) {
    return {
      type: 'progress',
      folder: readString(map, 'folder', 'progress.folder', FOLDER_RULE),
      needFiles: readInt(map, 'needFiles', 'progress.needFiles'),
      needBytes: readInt(map, 'needBytes', 'progress.needBytes'),
      sequence: readInt(map, 'sequence', 'progress.sequence')
    }
  },

  ping () {
    return { type: 'ping' }
  },

  close (map) {
    return {
      type: 'close',
      code: readString(map, 'code', 'close.code', { maxBytes: 64, pattern: CODE_PATTERN }),
      reason: readString(map, 'reason', 'close.reason', { maxBytes: MAX_REASON_BYTES, isHuman: true })
    }
  }
}

/** The wire map of a message: fields in the order protocol.md lists them, nothing else. */
function toWire (message: Message): WireMap {
  switch (message.type) {
    case 'hello':
      return {
        type: 'hello',
        protocol: message.protocol,
        deviceName: message.deviceName,
        folders: message.folders.map(f => ({ id: f.id, label: f.label, epoch: f.epoch, sequence: f.sequence, haveEpoch: f.haveEpoch, haveSequence: f.haveSequence }))
      }
    case 'manifest':
      return { type: 'manifest', folder: message.folder, records: message.records.map(recordToWire), sequence: message.sequence, isLast: message.isLast }
    case 'update':
      return { type: 'update', folder: message.folder, records: message.records.map(recordToWire), sequence: message.sequence }
    case 'request': {
      const wire: WireMap = { type: 'request', id: message.id, folder: message.folder, path: message.path, hash: message.hash, sizeBytes: message.sizeBytes }
      if (message.base !== undefined) wire.base = { pieceBytes: message.base.pieceBytes, weak: weakToWire(message.base.weak), strong: message.base.strong }
      return wire
    }
    case 'response':
      if (Number(message.data !== undefined) + Number(message.delta !== undefined) + Number(message.error !== undefined) !== 1) throw new TypeError('a response has exactly one of data, delta and error')
      if (message.data !== undefined) return { type: 'response', id: message.id, data: message.data }
      if (message.delta !== undefined) return { type: 'response', id: message.id, delta: message.delta.map(op => op instanceof Uint8Array ? op : [op.from, op.count]) }
      return { type: 'response', id: message.id, error: message.error }
    case 'progress':
      return { type: 'progress', folder: message.folder, needFiles: message.needFiles, needBytes: message.needBytes, sequence: message.sequence }
    case 'ping':
      return { type: 'ping' }
    case 'close':
      return { type: 'close', code: message.code, reason: message.reason }
  }
}

/** A request's `base`: the signature of a block the requester holds (protocol.md, `request`). */
function readBase (map: WireMap): BlockSignature {
  const base = asMap(map.base, 'request.base')
  const pieceBytes = readInt(base, 'pieceBytes', 'request.base.pieceBytes', { min: MIN_PIECE_BYTES, max: MAX_PIECE_BYTES })
  const weak = readBin(base, 'weak', 'request.base.weak', { minBytes: 4, maxBytes: 4 * MAX_BASE_PIECES })
  const pieces = weak.byteLength / 4
  if (!Number.isInteger(pieces)) throw invalid('request.base.weak', `${weak.byteLength} bytes, not a whole number of 4-byte checksums`)
  if (pieces * pieceBytes > MAX_BLOCK_BYTES) throw invalid('request.base', `${pieces} pieces of ${pieceBytes} bytes are more than a block`)
  const strong = new Uint8Array(readBin(base, 'strong', 'request.base.strong', { minBytes: pieces * BASE_STRONG_BYTES, maxBytes: pieces * BASE_STRONG_BYTES }))
  const sums = new Uint32Array(pieces)
  for (let i = 0; i < pieces; i++) sums[i] = weak.readUInt32BE(4 * i)
  return { pieceBytes, weak: sums, strong }
}

function weakToWire (weak: Uint32Array): Uint8Array {
  const out = Buffer.allocUnsafe(4 * weak.length)
  weak.forEach((w, i) => out.writeUInt32BE(w, 4 * i))
  return out
}

/**
 * A response's `delta`: byte strings (the block's own bytes) and [from, count] runs of the base's
 * pieces. Whether the runs fit the base and the result has the block's size and hash is the
 * requester's check (it alone has the base).
 */
function readDelta (map: WireMap): DeltaOp[] {
  const items = readArray(map, 'delta', 'response.delta', MAX_DELTA_OPS)
  if (items.length === 0) throw invalid('response.delta', 'is empty')
  let literalBytes = 0
  return items.map((item, i) => {
    const field = `response.delta[${i}]`
    if (!Array.isArray(item)) {
      const bytes = checkBin(item, field, { minBytes: 1, maxBytes: MAX_BLOCK_BYTES })
      literalBytes += bytes.byteLength
      if (literalBytes > MAX_BLOCK_BYTES) throw invalid('response.delta', `its bytes add up to more than ${MAX_BLOCK_BYTES}`)
      return bytes
    }
    if (item.length !== 2) throw invalid(field, `a run has 2 items, not ${item.length}`)
    const from = checkInt(item[0], `${field}[0]`, { max: MAX_BASE_PIECES - 1 })
    const count = checkInt(item[1], `${field}[1]`, { min: 1, max: MAX_BASE_PIECES })
    return { from, count }
  })
}

function readRecords (map: WireMap, type: string): FileRecord[] {
  return readArray(map, 'records', `${type}.records`, MAX_RECORDS_PER_BATCH)
    .map((item, i) => recordFromWire(item, `${type}.records[${i}]`))
}

function readPath (map: WireMap, key: string, field: string): string {
  const raw = readString(map, key, field, { maxBytes: MAX_PATH_BYTES })
  try {
    return normaliseWirePath(raw)
  } catch (err) {
    if (isLansyncError(err)) throw new LansyncError('PROTOCOL_INVALID_MESSAGE', `${field}: ${err.message}`, { cause: err })
    throw err
  }
}

function readVector (map: WireMap, key: string, field: string): VersionVector {
  if (!has(map, key)) throw invalid(field, 'missing')
  const source = asMap(map[key], field)
  const devices = Object.keys(source)
  if (devices.length === 0) throw invalid(field, 'is empty; every version was made by some device')
  if (devices.length > MAX_VECTOR_ENTRIES) throw invalid(field, `${devices.length} entries, more than ${MAX_VECTOR_ENTRIES}`)
  const vector: VersionVector = {}
  for (const device of devices) {
    // Keys are checked to be 16 hex characters before use, so no key can reach a prototype.
    checkString(device, `${field} key`, SHORT_RULE)
    vector[device] = checkInt(source[device], `${field}.${device}`, { min: 1 })
  }
  return vector
}

function readBlocks (map: WireMap, key: string, field: string): BlockRef[] {
  // The frame bounds the count: a block takes at least 37 bytes on the wire.
  return readArray(map, key, field, Math.floor(MAX_FRAME_BYTES / 37)).map((item, i): BlockRef => {
    const pair = checkArray(item, `${field}[${i}]`, 2)
    if (pair.length !== 2) throw invalid(`${field}[${i}]`, `expected [hash, size], got ${pair.length} items`)
    return {
      hash: checkBin(pair[0], `${field}[${i}][0]`, HASH_RULE, true),
      sizeBytes: checkInt(pair[1], `${field}[${i}][1]`, { min: 1, max: MAX_BLOCK_BYTES })
    }
  })
}
