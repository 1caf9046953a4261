// The block store: content-addressed blocks appended to pack files (pack-files.ts) and found through
// LevelDB index entries `B␀hash → location` (keys.ts). Block bytes never pass through LevelDB, whose
// log, memtable and compactions would write each of them several times over.
//
// Durability: an index entry never reaches the disk before the bytes it points to. A block just
// appended is pending: readable here at once, indexed by the next `indexOps` batch (Store.commit
// puts it in the same sync batch as the records that reference the block), which first fsyncs the
// packs. Pending blocks no commit takes are flushed on their own past a threshold and on close.
// After a crash, appended but unindexed bytes are dead space, reclaimed by `compact`.
//
// Stores written before the packs keep blocks as LevelDB values (`b␀hash`): they are still read,
// listed and deleted here, never written; GC removes them as they stop being referenced.
import type { Level } from 'level'
import { createHash } from 'node:crypto'
import { readdir, stat } from 'node:fs/promises'
import { join } from 'node:path'
import { LansyncError } from '../errors.js'
import { hex as toHex } from '../core/bytes.js'
import * as keys from './keys.js'
import { writeDurably, type BatchOp } from './level-batch.js'
import { PackFiles, RECORD_HEADER_BYTES, isRun, type PackLocation } from './pack-files.js'

/** A pack is closed to appends past this size; a new one starts. */
export const DEFAULT_PACK_BYTES = 256 * 1024 * 1024
/** Pending blocks past this many bytes are indexed without waiting for a commit (bounds what a crash leaves unindexed). */
const FLUSH_PENDING_BYTES = 64 * 1024 * 1024
/** `compact` rewrites a pack whose live records fill less than this fraction of it. */
const SPARSE_LIVE_FRACTION = 0.5
/** `getMany` looks up this many locations per LevelDB call. */
const LOOKUP_BATCH = 256
/**
 * How far `getMany`'s reads run ahead of its consumer, in bytes. Counted in reads (two), a file
 * whose blocks arrived mixed with other files' blocks, so that its runs are one block long, had
 * 128 KiB in flight, and the rebuild of a 256 MiB file from such packs waited on each read: 1.46 →
 * 1.23 s in the bench's D1 (one run each), and a micro-benchmark of it 0.90–0.98 → 0.83–0.92 s.
 */
const READ_AHEAD_BYTES = 512 * 1024
/**
 * Locations of the blocks indexed last, kept in memory: a peer fetches a file's blocks right after
 * this device stored them (scanned or received), one request per block, and a LevelDB get per
 * request cost the sender as much main-thread time as encrypting the block. About 150 bytes each:
 * 16,384 cover 1 GiB of 64 KiB blocks in ~2.5 MB.
 */
const RECENT_LOCATIONS = 16_384
/**
 * Blocks next to each other in a pack are read together up to this many bytes (see getMany).
 * Reads of 1 MiB, eight ahead, cost the receiver of 4 × 256 MiB 10–16 MiB of peak RSS and gained
 * nothing over 256 KiB (D1's whole case took 2.1–3.3 s either way).
 */
const RUN_BYTES = 256 * 1024

/** Index entries to write in a sync batch, then `done()` once that batch is on disk. */
export interface PendingIndex { ops: BatchOp[], done: () => void }

export class BlockPacks {
  private readonly db: Level<string, Uint8Array>
  private readonly files: PackFiles
  /** Appended, not yet indexed: hex hash → where the bytes are. */
  private readonly pending = new Map<string, PackLocation>()
  private pendingBytes = 0
  /** Indexed lately: hex hash → location as indexed, oldest first (see RECENT_LOCATIONS). Never one deleted since: `has` trusts it. */
  private readonly recent = new Map<string, PackLocation>()
  private flushing: Promise<void> | undefined
  private compacting: Promise<unknown> = Promise.resolve()
  /** Whether LevelDB may still hold legacy `b␀` blocks (false: skip their lookups). */
  private hasLegacy: boolean

  private constructor (db: Level<string, Uint8Array>, files: PackFiles, hasLegacy: boolean) {
    this.db = db
    this.files = files
    this.hasLegacy = hasLegacy
  }

  /** Opens the block store of the open database `db`, with its packs in `packsDir`. */
  static async open (db: Level<string, Uint8Array>, packsDir: string, { maxPackBytes = DEFAULT_PACK_BYTES } = {}): Promise<BlockPacks> {
    const files = await PackFiles.open(packsDir, { maxPackBytes })
    return new BlockPacks(db, files, await hasAnyLegacy(db))
  }

  /**
   * Whether the block is held. Synchronous LevelDB reads: storing each block of a scan asks this
   * first, and a read through the thread pool costs the main thread some 30 µs whatever it reads
   * (a first scan of 100,000 small files spent 3.4 s in these lookups).
   */
  async has (hash: Uint8Array): Promise<boolean> {
    const hex = toHex(hash)
    if (this.pending.has(hex) || this.recent.has(hex)) return true
    if (this.db.getSync(keys.packedBlockKey(hex)) !== undefined) return true
    return this.hasLegacy && this.db.getSync(keys.legacyBlockKey(hex)) !== undefined
  }

  /** Whether each block is held, in a LevelDB read per LOOKUP_BATCH blocks (none for blocks pending or indexed lately). */
  async hasMany (hashes: Uint8Array[]): Promise<boolean[]> {
    const isKnownHere = (hex: string): boolean => this.pending.has(hex) || this.recent.has(hex)
    const out: boolean[] = []
    for (let i = 0; i < hashes.length; i += LOOKUP_BATCH) {
      const hexes = hashes.slice(i, i + LOOKUP_BATCH).map(toHex)
      const unknown = hexes.filter(hex => !isKnownHere(hex))
      const found = new Set<string>()
      if (unknown.length > 0) {
        const values = await this.db.getMany(unknown.map(hex => keys.packedBlockKey(hex)))
        unknown.forEach((hex, k) => { if (values[k] !== undefined) found.add(hex) })
        if (this.hasLegacy) {
          const rest = unknown.filter(hex => !found.has(hex))
          const legacy = rest.length === 0 ? [] : await this.db.getMany(rest.map(hex => keys.legacyBlockKey(hex)))
          rest.forEach((hex, k) => { if (legacy[k] !== undefined) found.add(hex) })
        }
      }
      for (const hex of hexes) out.push(isKnownHere(hex) || found.has(hex))
    }
    return out
  }

  /**
   * Stores a block under its hash, unless it is there already or the caller just found it missing
   * (`isKnownMissing`: a second copy is dead space, a second lookup is not free).
   */
  async put (hash: Uint8Array, bytes: Uint8Array, { isKnownMissing = false } = {}): Promise<void> {
    if (!isKnownMissing && await this.has(hash)) return
    this.setPending(toHex(hash), await this.files.append(hash, bytes))
    if (this.pendingBytes >= FLUSH_PENDING_BYTES) await this.flush()
  }

  /** A block's bytes, checked against its hash unless `isVerified` is false; undefined when not held. */
  async get (hash: Uint8Array, { isVerified = true } = {}): Promise<Uint8Array | undefined> {
    const hex = toHex(hash)
    return await this.readAt(hash, hex, await this.locate(hex), isVerified)
  }

  /**
   * Blocks in order (undefined for one not held), as `get` would return them one by one, in fewer
   * round trips: locations are looked up a batch at a time (one LevelDB call), blocks that follow
   * each other in a pack (a file's, as they were stored) are read together up to RUN_BYTES, and a
   * few reads run ahead of the consumer. For a whole file's content (apply, restore).
   */
  async * getMany (hashes: Uint8Array[], { isVerified = true } = {}): AsyncGenerator<Uint8Array | undefined> {
    for (let i = 0; i < hashes.length; i += LOOKUP_BATCH) {
      const part = hashes.slice(i, i + LOOKUP_BATCH)
      const hexes = part.map(toHex)
      const locs = hexes.map(hex => this.pending.get(hex) ?? this.recent.get(hex))
      const unknown = hexes.flatMap((hex, j) => locs[j] === undefined ? [j] : [])
      const values = unknown.length === 0 ? [] : await this.db.getMany(unknown.map(j => keys.packedBlockKey(hexes[j])))
      unknown.forEach((j, k) => { const v = values[k]; if (v !== undefined) locs[j] = decodeLocation(v) })
      const runs = runsOf(locs)
      const reads: Array<Promise<Array<Uint8Array | undefined>>> = []
      const runBytes = runs.map(run => locs.slice(run.from, run.to).reduce((n, loc) => n + (loc?.sizeBytes ?? 0), 0))
      let next = 0
      let aheadBytes = 0
      // Runs go ahead of the consumer up to READ_AHEAD_BYTES (and at least the next one it waits for).
      const startAhead = (r: number): void => {
        while (next < runs.length && (next <= r || aheadBytes + runBytes[next] <= READ_AHEAD_BYTES)) {
          const run = runs[next]
          const read = this.readRunAt(part.slice(run.from, run.to), hexes.slice(run.from, run.to), locs.slice(run.from, run.to), isVerified)
          read.catch(() => {}) // awaited below, unless the consumer stops first
          reads[next] = read
          aheadBytes += runBytes[next]
          next += 1
        }
      }
      startAhead(0)
      for (let r = 0; r < runs.length; r++) {
        const bytes = await reads[r]
        aheadBytes -= runBytes[r]
        delete reads[r]
        startAhead(r + 1)
        yield * bytes
      }
    }
  }

  /** Blocks of one run (see runsOf) in one read; block by block when they are not (or no longer) where it says. */
  private async readRunAt (hashes: Uint8Array[], hexes: string[], locs: Array<PackLocation | undefined>, isVerified: boolean): Promise<Array<Uint8Array | undefined>> {
    if (locs.length > 1) {
      const bytes = await this.files.readRun(locs as PackLocation[], hashes)
      if (bytes !== undefined) {
        if (isVerified) bytes.forEach((b, j) => this.verify(b, hashes[j], hexes[j]))
        return bytes
      }
    }
    const out: Array<Uint8Array | undefined> = []
    for (let j = 0; j < hashes.length; j++) out.push(await this.readAt(hashes[j], hexes[j], locs[j], isVerified))
    return out
  }

  /** Reads the block `hash` from `loc` (undefined: not in a pack), verified unless told otherwise. */
  private async readAt (hash: Uint8Array, hex: string, loc: PackLocation | undefined, isVerified: boolean): Promise<Uint8Array | undefined> {
    let bytes: Uint8Array | undefined
    if (loc !== undefined) {
      bytes = await this.files.read(loc, hash)
      if (bytes === undefined) {
        // The pack went away since the lookup: compaction moved the block. Look it up once more, in the index.
        this.recent.delete(hex)
        const moved = await this.locate(hex, { isFromIndex: true })
        bytes = moved === undefined ? undefined : await this.files.read(moved, hash)
        if (moved !== undefined && bytes === undefined) {
          throw new LansyncError('STORE_CORRUPT', `block ${hex.slice(0, 16)}… is indexed in pack ${moved.pack}, which is missing from ${this.files.dir}`)
        }
      }
    } else if (this.hasLegacy) {
      bytes = await this.db.get(keys.legacyBlockKey(hex))
    }
    if (bytes !== undefined && isVerified) this.verify(bytes, hash, hex)
    return bytes
  }

  private verify (bytes: Uint8Array, hash: Uint8Array, hex: string): void {
    if (!createHash('sha256').update(bytes).digest().equals(hash)) {
      throw new LansyncError('STORE_CORRUPT', `block ${hex.slice(0, 16)}… fails its hash check`)
    }
  }

  /** Every indexed block (hex hash, size), legacy ones included; pending ones are not listed yet. */
  async * hashes (): AsyncGenerator<{ hash: string, sizeBytes: number }> {
    for await (const [key, value] of this.db.iterator(keys.prefixRange(keys.PACKED_BLOCK_PREFIX))) {
      yield { hash: key.slice(keys.PACKED_BLOCK_PREFIX.length), sizeBytes: decodeLocation(value).sizeBytes }
    }
    if (!this.hasLegacy) return
    for await (const [key, value] of this.db.iterator(keys.prefixRange(keys.LEGACY_BLOCK_PREFIX))) {
      yield { hash: key.slice(keys.LEGACY_BLOCK_PREFIX.length), sizeBytes: value.byteLength }
    }
  }

  /** Drops index entries (the bytes stay until `compact`). A block put again meanwhile (pending) stays. */
  async delete (hexHashes: string[]): Promise<void> {
    if (hexHashes.length === 0) return
    for (const h of hexHashes) this.recent.delete(h)
    const ops: BatchOp[] = hexHashes.map(h => ({ type: 'del', key: keys.packedBlockKey(h) }))
    if (this.hasLegacy) for (const h of hexHashes) ops.push({ type: 'del', key: keys.legacyBlockKey(h) })
    await writeDurably(this.db, ops)
  }

  /**
   * The pending blocks as index entries, their packs synced first: the caller writes `ops` in a
   * sync batch, then calls `done`. A block whose pack failed to sync is dropped, never indexed.
   */
  async indexOps (): Promise<PendingIndex> {
    if (this.pending.size === 0) return { ops: [], done: () => {} }
    const entries = [...this.pending]
    try {
      await this.files.sync(new Set(entries.map(([, loc]) => loc.pack)))
    } catch (err) {
      for (const [hex, loc] of entries) if (this.files.isLost(loc.pack)) this.dropPending(hex, loc)
      throw err
    }
    const ops: BatchOp[] = []
    for (const [hex, loc] of entries) {
      ops.push({ type: 'put', key: keys.packedBlockKey(hex), value: encodeLocation(loc) })
      if (this.hasLegacy) ops.push({ type: 'del', key: keys.legacyBlockKey(hex) }) // one copy of each block
    }
    return {
      ops,
      done: () => {
        for (const [hex, loc] of entries) {
          if (this.pending.get(hex) === loc) this.remember(hex, loc)
          this.dropPending(hex, loc)
        }
      }
    }
  }

  /** Indexes the pending blocks now, durably. */
  async flush (): Promise<void> {
    this.flushing ??= (async () => {
      const pending = await this.indexOps()
      if (pending.ops.length > 0) await writeDurably(this.db, pending.ops)
      pending.done()
    })().finally(() => { this.flushing = undefined })
    await this.flushing
  }

  /**
   * Frees the disk space of blocks no index entry points at: deletes packs with no live block and
   * rewrites those less than half live (live blocks copied to the current pack, re-pointed in one
   * sync batch, then the old pack deleted); compacts LevelDB's legacy block range. Returns the
   * bytes freed on disk. One compaction at a time.
   */
  async compact (): Promise<number> {
    const run = this.compacting.then(async () => await this.compactNow())
    this.compacting = run.catch(() => {})
    return await run
  }

  /** Closes the pack files; what is pending and not flushed is dead space from now on. */
  async close (): Promise<void> {
    await this.files.close()
  }

  private async compactNow (): Promise<number> {
    let freedBytes = 0
    if (this.hasLegacy) {
      const before = await levelFileBytes(this.db.location)
      const range = keys.prefixRange(keys.LEGACY_BLOCK_PREFIX)
      await (this.db as any).compactRange(range.gte, range.lt)
      this.hasLegacy = await hasAnyLegacy(this.db)
      freedBytes += Math.max(0, before - await levelFileBytes(this.db.location))
    }
    // Every block indexed, so the index alone says what each pack holds, up to the packs that are
    // appended to or that pending blocks point into: from there on, entries may come meanwhile.
    await this.flush()
    let horizon = this.files.oldestOpenPack
    for (const loc of this.pending.values()) horizon = Math.min(horizon, loc.pack)
    const liveBytes = new Map<number, number>()
    for await (const value of this.db.values(keys.prefixRange(keys.PACKED_BLOCK_PREFIX))) {
      const loc = decodeLocation(value)
      liveBytes.set(loc.pack, (liveBytes.get(loc.pack) ?? 0) + RECORD_HEADER_BYTES + loc.sizeBytes)
    }
    const dead: Array<{ number: number, sizeBytes: number }> = []
    const sparse = new Set<number>()
    for (const pack of await this.files.list()) {
      if (pack.number >= horizon) continue
      const live = liveBytes.get(pack.number) ?? 0
      if (live === 0) dead.push(pack)
      else if (live < pack.sizeBytes * SPARSE_LIVE_FRACTION) { dead.push(pack); sparse.add(pack.number) }
    }
    if (sparse.size > 0) {
      for await (const [key, value] of this.db.iterator(keys.prefixRange(keys.PACKED_BLOCK_PREFIX))) {
        const loc = decodeLocation(value)
        if (!sparse.has(loc.pack)) continue
        const hex = key.slice(keys.PACKED_BLOCK_PREFIX.length)
        if (this.pending.has(hex)) continue // stored again meanwhile, in a newer pack
        const hash = Buffer.from(hex, 'hex')
        const bytes = await this.files.read(loc, hash)
        if (bytes === undefined) throw new LansyncError('STORE_CORRUPT', `pack ${loc.pack} is missing from ${this.files.dir}`)
        const copy = await this.files.append(hash, bytes)
        this.setPending(hex, copy)
        freedBytes -= RECORD_HEADER_BYTES + bytes.byteLength
        if (this.pendingBytes >= FLUSH_PENDING_BYTES) await this.flush()
      }
      await this.flush() // the copies are durable and indexed before the old packs go
    }
    for (const pack of dead) {
      await this.files.remove(pack.number)
      freedBytes += pack.sizeBytes
    }
    return Math.max(0, freedBytes)
  }

  /** Where a block is: pending, indexed lately, or (`isFromIndex`, or not known here) as LevelDB's index says. */
  private async locate (hex: string, { isFromIndex = false } = {}): Promise<PackLocation | undefined> {
    const known = this.pending.get(hex) ?? (isFromIndex ? undefined : this.recent.get(hex))
    if (known !== undefined) return known
    const value = await this.db.get(keys.packedBlockKey(hex))
    return value === undefined ? undefined : decodeLocation(value)
  }

  private remember (hex: string, loc: PackLocation): void {
    this.recent.delete(hex) // re-inserted last: the map's order is oldest first
    this.recent.set(hex, loc)
    if (this.recent.size > RECENT_LOCATIONS) this.recent.delete(this.recent.keys().next().value as string)
  }

  private setPending (hex: string, loc: PackLocation): void {
    const previous = this.pending.get(hex)
    if (previous !== undefined) this.pendingBytes -= previous.sizeBytes
    this.pending.set(hex, loc)
    this.pendingBytes += loc.sizeBytes
  }

  /** Forgets a pending entry unless it was replaced by a newer one meanwhile. */
  private dropPending (hex: string, loc: PackLocation): void {
    if (this.pending.get(hex) !== loc) return
    this.pending.delete(hex)
    this.pendingBytes -= loc.sizeBytes
  }
}

/** Index value: pack number u32 BE | offset of the bytes u64 BE | length u32 BE (keys.ts). */
export function encodeLocation (loc: PackLocation): Uint8Array {
  const out = Buffer.allocUnsafe(16)
  out.writeUInt32BE(loc.pack, 0)
  out.writeBigUInt64BE(BigInt(loc.offset), 4)
  out.writeUInt32BE(loc.sizeBytes, 12)
  return out
}

export function decodeLocation (value: Uint8Array): PackLocation {
  if (value.byteLength !== 16) throw new LansyncError('STORE_CORRUPT', 'a block index entry could not be read')
  const b = Buffer.from(value.buffer, value.byteOffset, value.byteLength)
  return { pack: b.readUInt32BE(0), offset: Number(b.readBigUInt64BE(4)), sizeBytes: b.readUInt32BE(12) }
}

/**
 * Splits locations into runs to read at once: records one right after another in a pack, up to
 * RUN_BYTES together; a block with no location (legacy or not held) is a run of its own.
 */
export function runsOf (locs: Array<PackLocation | undefined>): Array<{ from: number, to: number }> {
  const runs: Array<{ from: number, to: number }> = []
  let from = 0
  let bytes = 0
  for (let j = 0; j < locs.length; j++) {
    const loc = locs[j]
    const before = j > from ? locs[j - 1] : undefined
    const isNext = loc !== undefined && before !== undefined && isRun([before, loc]) && bytes + loc.sizeBytes <= RUN_BYTES
    if (j > from && !isNext) { runs.push({ from, to: j }); from = j; bytes = 0 }
    bytes += loc?.sizeBytes ?? 0
    if (loc === undefined) { runs.push({ from, to: j + 1 }); from = j + 1; bytes = 0 }
  }
  if (from < locs.length) runs.push({ from, to: locs.length })
  return runs
}

async function hasAnyLegacy (db: Level<string, Uint8Array>): Promise<boolean> {
  for await (const _ of db.keys({ ...keys.prefixRange(keys.LEGACY_BLOCK_PREFIX), limit: 1 })) return true
  return false
}

/** Bytes of LevelDB's own files in `dir` (tables and logs; not the packs). */
async function levelFileBytes (dir: string): Promise<number> {
  let n = 0
  for (const name of await readdir(dir)) {
    if (name.endsWith('.ldb') || name.endsWith('.log') || name.endsWith('.sst')) n += (await stat(join(dir, name)).catch(() => ({ size: 0 }))).size
  }
  return n
}
