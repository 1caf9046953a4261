// The block store's pack files (src/store/block-packs.ts, pack-files.ts) under the real Store, on
// real directories and a real LevelDB: blocks readable at once and across reopens, durable with
// the commit that references them (a real kill -9, then a torn pack tail), rotation, GC that gives
// disk space back while every live block stays readable, stores written before the packs, damage
// reported clearly, and a full disk.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, readFileSync, readdirSync, statSync, truncateSync, unlinkSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Level } from 'level'
import { Store, type StoredRecord } from '../../src/store/store.js'
import { runsOf } from '../../src/store/block-packs.js'
import { collectGarbage } from '../../src/store/prune.js'
import { legacyBlockKey } from '../../src/store/keys.js'
import { isLansyncError } from '../../src/errors.js'
import { ROOT, cleanupAll, tempDir } from '../helpers/cli.js'
import { mountSmallDisk } from '../helpers/small-disk.js'

const KiB = 1024
const sha = (bytes: Uint8Array): Buffer => createHash('sha256').update(bytes).digest()

function record (path: string, blocks: Uint8Array[]): Omit<StoredRecord, 'sequence'> {
  return {
    path, kind: 'file', sizeBytes: blocks.reduce((n, b) => n + b.byteLength, 0), mtimeMs: 1000, mode: 0o644, vector: { aaaa: 1 }, isDeleted: false,
    blocks: blocks.map(b => ({ hash: sha(b), sizeBytes: b.byteLength })), hash: sha(Buffer.concat(blocks)), linkTarget: '', modifiedBy: 'aaaa', inode: 0
  }
}

const packsOf = (db: string): string[] => readdirSync(join(db, 'packs')).filter(n => n.endsWith('.pack')).sort()
const packBytes = (db: string): number => packsOf(db).reduce((n, p) => n + statSync(join(db, 'packs', p)).size, 0)

/** A store in `db` holding `count` random blocks of `sizeBytes`, put one after another (so packed in order). */
async function storeWithBlocks (db: string, count: number, sizeBytes: number, maxPackBytes: number): Promise<{ store: Store, blocks: Buffer[] }> {
  const store = await Store.open(db, { maxPackBytes })
  const blocks = Array.from({ length: count }, () => randomBytes(sizeBytes))
  for (const b of blocks) await store.putBlock(sha(b), b)
  return { store, blocks }
}

async function assertHolds (store: Store, blocks: Uint8Array[], what: string): Promise<void> {
  // hasBlocks answers as hasBlock would, in order, with a block never stored in the middle.
  const missing = Buffer.from(`never stored (${what})`)
  const asked = [...blocks.slice(0, 1), missing, ...blocks.slice(1)]
  assert.equal(await store.hasBlocks(asked.map(sha)), asked.map(b => b !== missing), `${what}: hasBlocks`)
  for (const [i, b] of blocks.entries()) {
    assert.ok(await store.hasBlock(sha(b)), `${what}: block ${i} is held`)
    assert.ok(Buffer.from((await store.getBlock(sha(b)))!).equals(b), `${what}: block ${i} reads back`)
  }
}

test('runsOf: records one right after another in a pack are read together, up to 256 KiB; anything else alone', () => {
  const H = 36 // record header
  const at = (pack: number, offset: number, sizeBytes: number): { pack: number, offset: number, sizeBytes: number } => ({ pack, offset, sizeBytes })
  const a = at(1, 8 + H, 100)
  const b = at(1, a.offset + 100 + H, 200)
  const c = at(1, b.offset + 200 + H, 300)
  const otherPack = at(2, c.offset + 300 + H, 10)
  const gap = at(1, c.offset + 300 + H + 1, 10)
  assert.equal(runsOf([a, b, c]), [{ from: 0, to: 3 }])
  assert.equal(runsOf([a, c]), [{ from: 0, to: 1 }, { from: 1, to: 2 }], 'not adjacent')
  assert.equal(runsOf([b, a]), [{ from: 0, to: 1 }, { from: 1, to: 2 }], 'out of order')
  assert.equal(runsOf([a, b, c, otherPack]), [{ from: 0, to: 3 }, { from: 3, to: 4 }])
  assert.equal(runsOf([a, b, c, gap]), [{ from: 0, to: 3 }, { from: 3, to: 4 }])
  assert.equal(runsOf([a, undefined, b, c]), [{ from: 0, to: 1 }, { from: 1, to: 2 }, { from: 2, to: 4 }], 'a block not held stands alone')
  assert.equal(runsOf([undefined, undefined]), [{ from: 0, to: 1 }, { from: 1, to: 2 }])
  assert.equal(runsOf([]), [])
  const big = [at(3, 8 + H, 150 * KiB)]
  big.push(at(3, big[0].offset + 150 * KiB + H, 150 * KiB))
  big.push(at(3, big[1].offset + 150 * KiB + H, 100 * KiB))
  assert.equal(runsOf(big), [{ from: 0, to: 1 }, { from: 1, to: 3 }], 'a run stops before 256 KiB')
})

test('blocks are readable at once, before any commit, and after a close and reopen', async () => {
  const db = join(tempDir(), 'db')
  let store = await Store.open(db)
  const blocks = Array.from({ length: 20 }, () => randomBytes(16 * KiB + Math.floor(Math.random() * 48 * KiB)))
  await Promise.all(blocks.map(async b => await store.putBlock(sha(b), b))) // concurrent appends take their own ranges
  await assertHolds(store, blocks, 'pending')
  assert.is(await store.getBlock(sha(Buffer.from('never stored'))), undefined)
  assert.is(await store.hasBlock(sha(Buffer.from('never stored'))), false)
  await store.close()
  store = await Store.open(db)
  await assertHolds(store, blocks, 'after reopen')
  // A whole file's worth at once (apply, restore): in order, across lookup batches, a missing one undefined.
  const wanted = [...Array.from({ length: 15 }, () => blocks).flat(), Buffer.from('never stored')]
  const many: Array<Uint8Array | undefined> = []
  for await (const b of store.getBlocks(wanted.map(sha))) many.push(b)
  assert.is(many.length, wanted.length)
  assert.ok(many.slice(0, -1).every((b, i) => Buffer.from(b!).equals(wanted[i])), 'getBlocks gives each block in order')
  assert.is(many[many.length - 1], undefined)
  assert.equal(await store.hasBlocks(wanted.map(sha)), wanted.map((_, i) => i < wanted.length - 1), 'hasBlocks across lookup batches')
  // A block already held is not appended again.
  const before = packBytes(db)
  await store.putBlock(sha(blocks[0]), blocks[0])
  assert.is(packBytes(db), before)
  const listed = new Map<string, number>()
  for await (const b of store.blockHashes()) listed.set(b.hash, b.sizeBytes)
  assert.equal(listed, new Map(blocks.map(b => [sha(b).toString('hex'), b.byteLength])))
  await store.close()
})

test('kill -9 then a torn pack tail: what was committed survives with its blocks; appends go to a new pack', async () => {
  const dir = tempDir()
  const db = join(dir, 'db')
  // A child puts a block, commits a record that references it, puts another, and is killed.
  const script = join(dir, 'child.mts')
  writeFileSync(script, `
    import { createHash, randomBytes } from 'node:crypto'
    import { Store } from ${JSON.stringify(join(ROOT, 'src/store/store.ts'))}
    const sha = b => createHash('sha256').update(b).digest()
    const store = await Store.open(${JSON.stringify(db)})
    const kept = [randomBytes(40 * 1024), randomBytes(20 * 1024)]
    for (const b of kept) await store.putBlock(sha(b), b)
    await store.commit('f', [{ origin: 'local', record: { path: 'kept.bin', kind: 'file', sizeBytes: 61440, mtimeMs: 1000, mode: 420,
      vector: { aaaa: 1 }, isDeleted: false, blocks: kept.map(b => ({ hash: sha(b), sizeBytes: b.length })), hash: sha(Buffer.concat(kept)),
      linkTarget: '', modifiedBy: 'aaaa', inode: 0 } }])
    const loose = randomBytes(30 * 1024)
    await store.putBlock(sha(loose), loose)
    process.stdout.write(JSON.stringify({ loose: sha(loose).toString('hex') }) + '\\n')
    process.kill(process.pid, 'SIGKILL')
  `)
  const child = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 30_000 })
  assert.is(child.signal, 'SIGKILL', child.stderr)
  const { loose } = JSON.parse(child.stdout)
  const [torn] = packsOf(db)
  const tornPath = join(db, 'packs', torn)
  // The loose block was the last record: cut it in half (as a power cut may), then add garbage.
  truncateSync(tornPath, statSync(tornPath).size - 15 * KiB)
  appendFileSync(tornPath, randomBytes(5000))
  const tornSize = statSync(tornPath).size

  let store = await Store.open(db)
  const kept = await store.getRecord('f', 'kept.bin')
  assert.ok(kept !== undefined, 'the committed record is there')
  for (const b of kept.blocks) assert.ok((await store.getBlock(b.hash)) !== undefined, 'and every block it needs, hash-checked')
  assert.is(await store.hasBlock(Buffer.from(loose, 'hex')), false, 'a block no commit indexed is not held (dead space)')
  const fresh = randomBytes(50 * KiB)
  await store.putBlock(sha(fresh), fresh)
  assert.is(statSync(tornPath).size, tornSize, 'nothing is appended after a torn tail')
  assert.is(packsOf(db).length, 2)
  await store.close()
  store = await Store.open(db)
  await assertHolds(store, [fresh], 'the block put after the crash')
  for (const b of kept.blocks) assert.ok((await store.getBlock(b.hash)) !== undefined)
  // GC takes back the dead space: the torn pack holds live blocks but is mostly dead.
  const gc = await collectGarbage(store)
  assert.is(gc.blocksRemoved, 1, 'the block put after the crash is referenced by nothing')
  for (const b of kept.blocks) assert.ok((await store.getBlock(b.hash)) !== undefined, 'kept blocks survive GC')
  await store.close()
})

test('packs rotate at their size limit and every block stays readable', async () => {
  const db = join(tempDir(), 'db')
  const made = await storeWithBlocks(db, 24, 60 * KiB, 256 * KiB)
  const blocks = made.blocks
  let store = made.store
  const big = randomBytes(300 * KiB) // larger than a pack: gets a pack of its own
  await store.putBlock(sha(big), big)
  await store.close()
  const packs = packsOf(db)
  assert.ok(packs.length >= 7, `24 blocks of 60 KiB need 6 packs of 256 KiB, the big one another: ${packs.length}`)
  for (const p of packs) {
    const size = statSync(join(db, 'packs', p)).size
    assert.ok(size <= 256 * KiB || size < 310 * KiB, `${p} stays within the limit unless one record is larger: ${size}`)
  }
  store = await Store.open(db, { maxPackBytes: 256 * KiB })
  await assertHolds(store, [...blocks, big], 'across packs')
  await store.close()
})

test('GC deletes dead packs and rewrites mostly dead ones; live blocks stay readable, even by reads under way', async () => {
  const db = join(tempDir(), 'db')
  const { store, blocks } = await storeWithBlocks(db, 96, 32 * KiB, 1024 * KiB)
  // Pack 1 (blocks 0-30) stays mostly live, pack 2 (31-61) keeps a quarter, pack 3 nothing.
  const live = blocks.filter((_, i) => (i <= 24) || (i >= 31 && i <= 61 && i % 4 === 0))
  await store.commit('f', [{ record: record('live.bin', live), origin: 'local' }])
  await store.close()
  const reopened = await Store.open(db, { maxPackBytes: 1024 * KiB })
  const before = packBytes(db)
  const packsBefore = packsOf(db)
  assert.is(packsBefore.length, 4)

  // Reads of every live block run while GC moves them.
  let isCollecting = true
  const reads = (async () => {
    let rounds = 0
    while (isCollecting || rounds === 0) {
      rounds += 1
      for (const b of live) assert.ok(Buffer.from((await reopened.getBlock(sha(b)))!).equals(b), 'a read during GC gets the right bytes')
    }
    return rounds
  })()
  const gc = await collectGarbage(reopened).finally(() => { isCollecting = false })
  await reads

  assert.is(gc.blocksRemoved, blocks.length - live.length)
  assert.is(gc.blocksKept, live.length)
  const after = packBytes(db)
  // (less the 8-byte header of the pack the copies went to)
  assert.ok(before - after <= gc.bytesFreed && before - after >= gc.bytesFreed - 8, `the bytes reported freed (${gc.bytesFreed}) are what the packs shrank by (${before - after})`)
  const unreclaimed = 6 * (32 * KiB + 36) // the dead blocks of the mostly live pack keep their space
  assert.ok(after <= live.reduce((n, b) => n + b.byteLength + 36, 0) + unreclaimed + 3 * 8, `packs hold about the live bytes: ${after}`)
  assert.ok(packsOf(db).includes(packsBefore[0]), 'a mostly live pack is kept as it is')
  await assertHolds(reopened, live, 'after GC')
  for (const b of blocks.filter(b => !live.includes(b))) assert.is(await reopened.hasBlock(sha(b)), false)
  await reopened.close()
  const again = await Store.open(db, { maxPackBytes: 1024 * KiB })
  await assertHolds(again, live, 'after GC and a reopen')
  const second = await collectGarbage(again)
  assert.equal([second.blocksRemoved, second.bytesFreed], [0, 0], 'a second GC finds nothing')
  await again.close()
})

test('blocks just indexed are found without the index (recent locations), and GC still moves or drops them correctly', async () => {
  const db = join(tempDir(), 'db')
  const { store, blocks } = await storeWithBlocks(db, 64, 32 * KiB, 1024 * KiB)
  // Pack 1 (blocks 0-30) keeps a quarter, so GC moves those; pack 2 (31-61) nothing.
  const live = blocks.filter((_, i) => i <= 30 && i % 4 === 0)
  await store.commit('f', [{ record: record('live.bin', live), origin: 'local' }])
  await assertHolds(store, blocks, 'indexed by the commit, same store')
  const gc = await collectGarbage(store)
  assert.is(gc.blocksRemoved, blocks.length - live.length)
  assert.ok(!packsOf(db).includes('00000001.pack'), 'the mostly dead pack was rewritten')
  await assertHolds(store, live, 'moved by GC, same store')
  for (const b of blocks.filter(b => !live.includes(b))) {
    assert.is(await store.getBlock(sha(b)), undefined, 'a collected block is not read from where it was')
  }
  await store.close()
})

test('a store written before the packs: its LevelDB blocks are read, listed, collected, and new blocks go to packs', async () => {
  const db = join(tempDir(), 'db')
  const old = [randomBytes(20 * KiB), randomBytes(30 * KiB), randomBytes(40 * KiB)]
  const level = new Level<string, Uint8Array>(db, { keyEncoding: 'utf8', valueEncoding: 'view' })
  await level.open()
  for (const b of old) await level.put(legacyBlockKey(sha(b).toString('hex')), b)
  await level.close()

  const store = await Store.open(db)
  await assertHolds(store, old, 'legacy blocks')
  const fresh = randomBytes(10 * KiB)
  await store.putBlock(sha(fresh), fresh)
  await store.putBlock(sha(old[0]), old[0]) // held already: not stored again
  await assertHolds(store, [...old, fresh], 'legacy blocks and a pending one')
  await store.commit('f', [{ record: record('a.bin', [old[0], fresh]), origin: 'local' }])
  const listed = []
  for await (const b of store.blockHashes()) listed.push(b.hash)
  assert.equal(listed.sort(), [...old, fresh].map(b => sha(b).toString('hex')).sort())
  const gc = await collectGarbage(store)
  assert.is(gc.blocksRemoved, 2, 'the unreferenced legacy blocks are collected')
  assert.is(gc.blockBytesRemoved, 70 * KiB)
  await assertHolds(store, [old[0], fresh], 'referenced blocks, legacy and packed')
  assert.is(await store.hasBlock(sha(old[1])), false)
  await store.close()
})

test('damage is reported clearly: a changed byte, a missing pack', async () => {
  const db = join(tempDir(), 'db')
  let store = await Store.open(db)
  const a = randomBytes(20 * KiB)
  const b = randomBytes(20 * KiB)
  await store.putBlock(sha(a), a)
  await store.putBlock(sha(b), b)
  await store.close()
  const [pack] = packsOf(db)
  const path = join(db, 'packs', pack)
  const bytes = readFileSync(path)
  bytes[8 + 36 + 100] ^= 0xff // a byte of block a
  writeFileSync(path, bytes)
  store = await Store.open(db)
  const rotten = await store.getBlock(sha(a)).catch(err => err)
  assert.ok(isLansyncError(rotten, 'STORE_CORRUPT'), String(rotten))
  assert.match(rotten.message, /fails its hash check/)
  assert.ok(Buffer.from((await store.getBlock(sha(b)))!).equals(b), 'the other block is fine')
  await store.close()
  unlinkSync(path)
  store = await Store.open(db)
  const gone = await store.getBlock(sha(b)).catch(err => err)
  assert.ok(isLansyncError(gone, 'STORE_CORRUPT'), String(gone))
  assert.match(gone.message, /missing from/)
  await store.close()
})

test('a full disk while appending to a pack is STORE_FULL; every block indexed is on disk', async () => {
  const db = join(tempDir(), 'db')
  const mounted = mountSmallDisk(db, 8)
  if (typeof mounted === 'string') { console.log(`SKIP full disk: ${mounted}`); return }
  let store = await Store.open(db)
  const stored: Buffer[] = []
  let failure: unknown
  for (let i = 0; i < 200 && failure === undefined; i++) {
    const b = randomBytes(64 * KiB)
    try { await store.putBlock(sha(b), b); stored.push(b) } catch (err) { failure = err }
    if (i % 10 === 0 && failure === undefined) await store.commit('f', [{ record: record(`f${i}`, stored.slice(-10)), origin: 'local' }]).catch(err => { failure = err })
  }
  assert.ok(isLansyncError(failure, 'STORE_FULL'), String(failure))
  assert.ok((failure as Error).message.includes(db))
  const refused = await store.putBlock(sha(Buffer.from('x')), Buffer.from('x')).catch(err => err)
  assert.ok(isLansyncError(refused, 'STORE_FULL'), 'writes wait for room')
  await store.close()
  mounted.resize(32)
  store = await Store.open(db)
  let indexed = 0
  for await (const { hash } of store.blockHashes()) {
    assert.ok((await store.getBlock(Buffer.from(hash, 'hex'))) !== undefined)
    indexed += 1
  }
  assert.ok(indexed > 0)
  for (let i = 0; i < 200; i += 10) {
    const r = await store.getRecord('f', `f${i}`)
    for (const b of r?.blocks ?? []) assert.ok(await store.getBlock(b.hash) !== undefined, 'a committed record has all its blocks')
  }
  await store.close()
})

test.after(cleanupAll)
test.run()
