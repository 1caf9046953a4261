// rsync's algorithm inside one block: a small edit changes the content-defined block around it
// (16 KiB to 256 KiB), and sending that whole block for 100 changed bytes is most of an edit's
// traffic. The puller still holds the block that was at the same place before (the base); it
// sends the base's signature (a weak rolling checksum and a strong hash per fixed-size piece), the
// holder finds those pieces in the new block at any offset, and answers with the pieces to copy
// and only the bytes in between. The puller rebuilds the block and checks its SHA-256 as for any
// block, so a delta can never put wrong bytes in place. Pure: no I/O.
import { createHash } from 'node:crypto'
import { bytesEqual, totalBlockBytes } from './bytes.js'
import type { BlockRef } from './types.js'

/** Size of the base's pieces: a signature costs 12 bytes per piece (1.5 kB for a 256 KiB base). */
export const DELTA_PIECE_BYTES = 2048
/** Pieces of a signature, at most: a 256 KiB base in 2 KiB pieces. */
export const MAX_SIGNATURE_PIECES = 128
/** Bytes of SHA-256 kept per piece: checked only where the weak checksum already matched. */
export const STRONG_BYTES = 8

/** What the puller sends of its base block: one weak checksum and one strong hash per whole piece. */
export interface BlockSignature {
  pieceBytes: number
  /** The weak checksum of each piece. */
  weak: Uint32Array
  /** STRONG_BYTES of each piece's SHA-256, one after another. */
  strong: Uint8Array
}

/** A run of `count` pieces of the base, from piece `from`; or bytes of the new block itself. */
export type DeltaOp = { from: number, count: number } | Uint8Array

/** The delta does not fit its base or its size: the holder's answer is wrong. */
export class DeltaError extends Error {}

/** The signature of `base`: its whole pieces (a shorter tail is left out, and sent as bytes if needed). */
export function signatureOf (base: Uint8Array, pieceBytes = DELTA_PIECE_BYTES): BlockSignature {
  const pieces = Math.min(Math.floor(base.byteLength / pieceBytes), MAX_SIGNATURE_PIECES)
  const weak = new Uint32Array(pieces)
  const strong = new Uint8Array(pieces * STRONG_BYTES)
  for (let i = 0; i < pieces; i++) {
    const piece = base.subarray(i * pieceBytes, (i + 1) * pieceBytes)
    weak[i] = weakChecksum(piece)
    strong.set(strongHash(piece), i * STRONG_BYTES)
  }
  return { pieceBytes, weak, strong }
}

/**
 * The ops that rebuild `target` from the base that `signature` describes: every whole piece of the
 * base found in `target` (at any offset, as rsync finds blocks) is copied, the rest is sent.
 * Undefined when the search gives up: after more weak-checksum matches whose strong hash differs
 * than a real signature of that many pieces would give (a signature built to match everywhere
 * would otherwise cost a SHA-256 per byte of the block).
 */
export function deltaAgainst (target: Uint8Array, signature: BlockSignature): DeltaOp[] | undefined {
  const { pieceBytes: size, weak, strong } = signature
  // A 64 Ki-bit filter first: most offsets match no piece, and a typed-array read rejects them
  // before any Map lookup (a Map lookup per byte made a 256 KiB block cost ~10 ms).
  const filter = new Uint8Array(65536)
  const byWeak = new Map<number, number[]>()
  for (let i = 0; i < weak.length; i++) {
    filter[fold(weak[i])] = 1
    const list = byWeak.get(weak[i])
    if (list === undefined) byWeak.set(weak[i], [i])
    else list.push(i)
  }
  const ops: DeltaOp[] = []
  const copy = (piece: number): void => {
    const last = ops[ops.length - 1]
    if (last !== undefined && !(last instanceof Uint8Array) && last.from + last.count === piece) last.count += 1
    else ops.push({ from: piece, count: 1 })
  }
  let falseMatchesLeft = 4 * weak.length + 16
  let literalFrom = 0
  let pos = 0
  const n = target.byteLength
  let [a, b] = sums(target, 0, size)
  while (pos + size <= n) {
    const w = ((a & 0xffff) | ((b & 0xffff) << 16)) >>> 0
    if (filter[fold(w)] === 1) {
      const piece = findPiece(byWeak.get(w), target.subarray(pos, pos + size), strong, ops)
      if (piece !== undefined) {
        if (pos > literalFrom) ops.push(target.slice(literalFrom, pos))
        copy(piece)
        pos += size
        literalFrom = pos
        if (pos + size <= n) [a, b] = sums(target, pos, size)
        continue
      }
      if (byWeak.has(w) && --falseMatchesLeft < 0) return undefined
    }
    if (pos + size < n) {
      // Roll the window one byte: drop target[pos], take target[pos + size].
      const out = target[pos]
      a = (a - out + target[pos + size]) & 0xffff
      b = (b - size * out + a) & 0xffff
    }
    pos += 1
  }
  if (literalFrom < n) ops.push(target.slice(literalFrom))
  return ops
}

/** Rebuilds a block from `base` and `ops`; DeltaError if an op reaches outside the base or the size is not `sizeBytes`. */
export function applyDelta (base: Uint8Array, pieceBytes: number, ops: readonly DeltaOp[], sizeBytes: number): Uint8Array {
  const out = new Uint8Array(sizeBytes)
  const pieces = Math.floor(base.byteLength / pieceBytes)
  let at = 0
  for (const op of ops) {
    const bytes = op instanceof Uint8Array ? op : base.subarray(op.from * pieceBytes, (op.from + op.count) * pieceBytes)
    if (!(op instanceof Uint8Array) && (op.count < 1 || op.from + op.count > pieces)) throw new DeltaError(`the delta copies pieces ${op.from}–${op.from + op.count - 1} of a base of ${pieces}`)
    if (at + bytes.byteLength > sizeBytes) throw new DeltaError(`the delta makes more than ${sizeBytes} bytes`)
    out.set(bytes, at)
    at += bytes.byteLength
  }
  if (at !== sizeBytes) throw new DeltaError(`the delta makes ${at} bytes, not ${sizeBytes}`)
  return out
}

/** The bytes the delta's content costs: its literal bytes, and a few per op. */
export function deltaCostBytes (ops: readonly DeltaOp[]): number {
  let total = 0
  for (const op of ops) total += op instanceof Uint8Array ? op.byteLength + 5 : 11
  return total
}

/** The bytes of the new block that the delta sends (what was not found in the base). */
export function deltaLiteralBytes (ops: readonly DeltaOp[]): number {
  let total = 0
  for (const op of ops) if (op instanceof Uint8Array) total += op.byteLength
  return total
}

/** rsync's weak checksum of a whole piece (its two 16-bit sums). */
export function weakChecksum (piece: Uint8Array): number {
  const [a, b] = sums(piece, 0, piece.byteLength)
  return ((a & 0xffff) | ((b & 0xffff) << 16)) >>> 0
}

/** a = Σ x, b = Σ (size − i)·x over bytes [from, from + size), each mod 2^16. */
function sums (bytes: Uint8Array, from: number, size: number): [number, number] {
  let a = 0
  let b = 0
  const end = Math.min(from + size, bytes.byteLength)
  for (let i = from; i < end; i++) {
    a = (a + bytes[i]) & 0xffff
    b = (b + a) & 0xffff
  }
  return [a, b]
}

function strongHash (piece: Uint8Array): Uint8Array {
  return createHash('sha256').update(piece).digest().subarray(0, STRONG_BYTES)
}

/** The piece among `candidates` whose strong hash is `window`'s; the one after the last copy first (runs stay runs). */
function findPiece (candidates: number[] | undefined, window: Uint8Array, strong: Uint8Array, ops: DeltaOp[]): number | undefined {
  if (candidates === undefined) return undefined
  const hash = strongHash(window)
  const last = ops[ops.length - 1]
  const next = last !== undefined && !(last instanceof Uint8Array) ? last.from + last.count : -1
  let found: number | undefined
  for (const i of candidates) {
    if (!bytesEqual(strong.subarray(i * STRONG_BYTES, (i + 1) * STRONG_BYTES), hash)) continue
    if (i === next) return i
    found ??= i
  }
  return found
}

function fold (w: number): number {
  return (w ^ (w >>> 16)) & 0xffff
}

/**
 * For the blocks of a new version that must be fetched (`missing`, indexes into `wanted`), the
 * blocks of the version held here to ask for a delta against: the held blocks that covered the
 * same byte range (an edit in place or an insert leaves the bytes around it there, or a little
 * after), in order, up to what a signature covers. None when the version is not an edit of the
 * held one: when over half of its bytes are missing, matching would cost the holder CPU for nothing.
 */
export function pickDeltaBases (wanted: readonly BlockRef[], missing: readonly number[], held: readonly BlockRef[]): Map<number, BlockRef[]> {
  const bases = new Map<number, BlockRef[]>()
  const total = totalBlockBytes(wanted)
  const missingBytes = missing.reduce((n, i) => n + wanted[i].sizeBytes, 0)
  if (held.length === 0 || missingBytes * 2 > total) return bases
  const heldStarts = startsOf(held)
  const wantedStarts = startsOf(wanted)
  const maxBytes = MAX_SIGNATURE_PIECES * DELTA_PIECE_BYTES
  for (const i of missing) {
    const end = wantedStarts[i] + wanted[i].sizeBytes
    const run: BlockRef[] = []
    let runBytes = 0
    // The held block where the new one starts, then those that share at least a piece's worth of
    // its range (a block that shares only its first bytes could give no whole piece).
    for (let k = lastAtOrBefore(heldStarts, wantedStarts[i]); k < held.length; k++) {
      if (run.length > 0 && (heldStarts[k] + DELTA_PIECE_BYTES > end || runBytes + held[k].sizeBytes > maxBytes)) break
      run.push(held[k])
      runBytes += held[k].sizeBytes
    }
    if (runBytes >= DELTA_PIECE_BYTES && !(run.length === 1 && bytesEqual(run[0].hash, wanted[i].hash))) bases.set(i, run)
  }
  return bases
}

/** Where each block starts in its file. */
function startsOf (blocks: readonly BlockRef[]): number[] {
  const starts: number[] = []
  let at = 0
  for (const b of blocks) { starts.push(at); at += b.sizeBytes }
  return starts
}

/** The index of the last of the ascending `starts` that is at most `offset` (0 if none is). */
function lastAtOrBefore (starts: readonly number[], offset: number): number {
  let lo = 0
  let hi = starts.length - 1
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1
    if (starts[mid] <= offset) lo = mid
    else hi = mid - 1
  }
  return lo
}

