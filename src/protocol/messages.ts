// The messages of lansync protocol version 1 as TypeScript types, their registry ids, and the
// limits of protocol.md section 5. protocol.md is normative; this file follows it.
import type { FileRecord } from '../core/types.js'
import { MAX_SIGNATURE_PIECES, STRONG_BYTES, type BlockSignature, type DeltaOp } from '../core/block-delta.js'

export const PROTOCOL_VERSION = 1

/** Largest frame payload (bytes); the reader checks the header against it before buffering. */
export const MAX_FRAME_BYTES = 16 * 1024 * 1024
/** Most records in one `manifest` or `update`. */
export const MAX_RECORDS_PER_BATCH = 1000
/** Senders aim at about this many encoded bytes per batch; one record may exceed it. */
export const TARGET_BATCH_BYTES = 1024 * 1024
/** Largest block (bytes): `request.sizeBytes`, `response.data`, a record's block sizes. */
export const MAX_BLOCK_BYTES = 256 * 1024
/** A request's `base`: piece sizes allowed, and most pieces. */
export const MIN_PIECE_BYTES = 512
export const MAX_PIECE_BYTES = 65536
export const MAX_BASE_PIECES = MAX_SIGNATURE_PIECES
export const BASE_STRONG_BYTES = STRONG_BYTES
/** Most ops in a response's `delta`. */
export const MAX_DELTA_OPS = 1024
/** SHA-256: block hashes and whole-file hashes. */
export const HASH_BYTES = 32
export const MAX_VECTOR_ENTRIES = 1000
export const MAX_FOLDERS_PER_HELLO = 1000
export const MAX_LINK_TARGET_BYTES = 4096
export const MAX_NAME_BYTES = 256 // device names and folder labels
export const MAX_REASON_BYTES = 1024
export const MAX_NESTING_DEPTH = 8
/** Requested and unanswered block bytes a requester should keep outstanding at most. */
export const REQUEST_WINDOW_BYTES = 16 * 1024 * 1024
export const PING_INTERVAL_MS = 20_000
export const IDLE_TIMEOUT_MS = 60_000

/** Folder IDs on the wire (and in config). */
export const FOLDER_ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,63}$/
/** Index epochs and device shorts: 8 bytes as lowercase hex. */
export const HEX16_PATTERN = /^[0-9a-f]{16}$/
/** Close codes and response error codes. */
export const CODE_PATTERN = /^[A-Z][A-Z0-9_]{0,63}$/

/** The response error a holder gives for a block it will not or cannot serve. */
export const NOT_AVAILABLE = 'NOT_AVAILABLE'

/** protocol.md's message registry: name → id. Ids are never reused. */
export const MESSAGE_IDS = {
  hello: 1,
  manifest: 2,
  update: 3,
  request: 4,
  response: 5,
  progress: 6,
  ping: 7,
  close: 8
} as const

export type MessageType = keyof typeof MESSAGE_IDS

/** One folder the sender shares with the receiver, as announced in `hello`. */
export interface HelloFolder {
  id: string
  label: string
  /** The sender's index epoch for this folder (16 hex chars). */
  epoch: string
  /** The sender's highest sequence in this folder. */
  sequence: number
  /** The receiver's epoch that `haveSequence` refers to; '' if the sender has nothing of it. */
  haveEpoch: string
  /** Highest sequence of the receiver's manifest the sender has applied (0 with haveEpoch ''). */
  haveSequence: number
}

export interface HelloMessage {
  type: 'hello'
  protocol: number
  deviceName: string
  folders: HelloFolder[]
}

export interface ManifestMessage {
  type: 'manifest'
  folder: string
  records: FileRecord[]
  /** Highest sequence among `records` (or reached, when empty). */
  sequence: number
  /** Last batch of the initial exchange. */
  isLast: boolean
}

export interface UpdateMessage {
  type: 'update'
  folder: string
  records: FileRecord[]
  sequence: number
}

export interface RequestMessage {
  type: 'request'
  /** uint32, chosen by the requester, unique among its unanswered requests. */
  id: number
  folder: string
  path: string
  hash: Uint8Array
  sizeBytes: number
  /** The signature of a block the requester holds, to answer with a delta against (see core/block-delta.ts). */
  base?: BlockSignature
}

/** Exactly one of `data`, `delta` (only to a request with a `base`) and `error` is set. */
export interface ResponseMessage {
  type: 'response'
  id: number
  data?: Uint8Array
  delta?: DeltaOp[]
  error?: string
}

export interface ProgressMessage {
  type: 'progress'
  folder: string
  needFiles: number
  needBytes: number
  /** Highest sequence of the receiver's manifest the sender has applied. */
  sequence: number
}

export interface PingMessage {
  type: 'ping'
}

export interface CloseMessage {
  type: 'close'
  code: string
  reason: string
}

export type Message =
  | HelloMessage | ManifestMessage | UpdateMessage | RequestMessage | ResponseMessage
  | ProgressMessage | PingMessage | CloseMessage

// The registry and the union must name the same messages; this fails to compile otherwise.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false
const isRegistryComplete: Same<MessageType, Message['type']> = true
void isRegistryComplete
