// msgpack encoding of what the store keeps: index records and versions. Block lists are packed as
// one buffer of 32-byte hashes plus an array of sizes, which is compact and fast for huge files.
import { Packr } from 'msgpackr'
import type { BlockRef, FileKind, FileRecord } from '../core/types.js'
import { LansyncError } from '../errors.js'

const packr = new Packr({ useRecords: false, mapsAsObjects: true, moreTypes: false })
const KINDS: FileKind[] = ['file', 'dir', 'symlink']

/** An index record plus what only this device needs to notice changes cheaply. */
export interface StoredRecord extends FileRecord {
  /** Inode number when last scanned or written here (0 when unknown). */
  inode: number
  /**
   * Receive-only folders: a local change, never sent to peers. The cluster's record it replaced
   * is kept beside it in the store (see Store.localBase) until a remote version or a revert.
   */
  isLocalOnly?: boolean
}

/** One version of one path in history. */
export interface VersionEntry extends FileRecord {
  /** Local wall-clock time the version was recorded here, in ms since the epoch. */
  recordedMs: number
  /** Why it was recorded: a local change, a version from a peer, or a conflict loser. */
  origin: 'local' | 'remote' | 'conflict' | 'restore'
}

interface Packed {
  p: string; k: number; s: number; m: number; o: number; v: Record<string, number>; d: boolean
  bh: Uint8Array; bs: number[]; h: Uint8Array; l: string; by: string; q: number; n?: number; r?: number; g?: string; lo?: boolean
}

function packFields (r: FileRecord): Packed {
  const hashes = Buffer.allocUnsafe(r.blocks.length * 32)
  const sizes: number[] = new Array(r.blocks.length)
  r.blocks.forEach((b, i) => { hashes.set(b.hash, i * 32); sizes[i] = b.sizeBytes })
  return {
    p: r.path, k: KINDS.indexOf(r.kind), s: r.sizeBytes, m: r.mtimeMs, o: r.mode, v: r.vector, d: r.isDeleted,
    bh: hashes, bs: sizes, h: r.hash, l: r.linkTarget, by: r.modifiedBy, q: r.sequence
  }
}

function unpackFields (x: Packed): FileRecord {
  const kind = KINDS[x.k]
  if (kind === undefined || typeof x.p !== 'string' || !Array.isArray(x.bs)) {
    throw new LansyncError('STORE_CORRUPT', 'a stored record could not be read (run `lansync repair`)')
  }
  const blocks: BlockRef[] = new Array(x.bs.length)
  const hashes = Buffer.from(x.bh.buffer, x.bh.byteOffset, x.bh.byteLength)
  for (let i = 0; i < x.bs.length; i++) blocks[i] = { hash: hashes.subarray(i * 32, i * 32 + 32), sizeBytes: x.bs[i] }
  return {
    path: x.p, kind, sizeBytes: x.s, mtimeMs: x.m, mode: x.o, vector: { ...x.v }, isDeleted: x.d, blocks,
    hash: Buffer.from(x.h), linkTarget: x.l, modifiedBy: x.by, sequence: x.q
  }
}

export function encodeStoredRecord (r: StoredRecord): Uint8Array {
  return packr.pack(r.isLocalOnly === true ? { ...packFields(r), n: r.inode, lo: true } : { ...packFields(r), n: r.inode })
}
export function decodeStoredRecord (bytes: Uint8Array): StoredRecord {
  const x = unpackValue(bytes)
  const record: StoredRecord = { ...unpackFields(x), inode: x.n ?? 0 }
  if (x.lo === true) record.isLocalOnly = true
  return record
}

export function encodeVersion (v: VersionEntry): Uint8Array {
  return packr.pack({ ...packFields(v), r: v.recordedMs, g: v.origin })
}
export function decodeVersion (bytes: Uint8Array): VersionEntry {
  const x = unpackValue(bytes)
  return { ...unpackFields(x), recordedMs: x.r ?? 0, origin: (x.g ?? 'local') as VersionEntry['origin'] }
}

export function encodeValue (value: unknown): Uint8Array { return packr.pack(value) }
export function decodeValue<T> (bytes: Uint8Array): T { return unpackValue(bytes) as T }

function unpackValue (bytes: Uint8Array): any {
  try {
    return packr.unpack(bytes)
  } catch (err) {
    throw new LansyncError('STORE_CORRUPT', 'a stored value could not be decoded (run `lansync repair`)', { cause: err })
  }
}
