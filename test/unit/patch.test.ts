// Patching a big file in place (fs/patch.ts) through applyRecord, on real files and a real store:
// when it is done, when it is not, and how a patch cut short is undone.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, closeSync, linkSync, mkdirSync, openSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { Store, type StoredRecord } from '../../src/store/store.js'
import { applyRecord } from '../../src/fs/apply.js'
import { hashBytes } from '../../src/fs/hasher.js'
import { undoInterruptedPatch, type PatchJournal } from '../../src/fs/patch.js'
import type { PatchUndo } from '../../src/core/patch-plan.js'
import type { FileRecord } from '../../src/core/types.js'
import { utimesSeconds } from '../../src/fs/atomic.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

const FOLDER = 'f1'
const MiB = 1024 * 1024

interface Setup { root: string, store: Store, journal: PatchJournal, begun: PatchUndo[] }

async function setup (): Promise<Setup> {
  const dir = tempDir()
  const root = join(dir, 'folder')
  mkdirSync(root)
  const store = await Store.open(join(dir, 'db'))
  const begun: PatchUndo[] = []
  const journal: PatchJournal = {
    begin: async (path, undo) => { begun.push(undo); await store.putPatchUndo(FOLDER, path, undo) },
    end: async (path) => await store.dropPatchUndo(FOLDER, path)
  }
  return { root, store, journal, begun }
}

/** Puts every block of `bytes` in the store (as history holds each version's blocks). */
async function storeBlocks (store: Store, bytes: Buffer): Promise<void> {
  let offset = 0
  for (const b of hashBytes(bytes).blocks) { await store.putBlock(b.hash, bytes.subarray(offset, offset + b.sizeBytes)); offset += b.sizeBytes }
}

/** `bytes` written at `path` and stored, and the index record of it, as a scan would make it. */
async function localFile (s: Setup, path: string, bytes: Buffer, mode = 0o644): Promise<StoredRecord> {
  const full = join(s.root, path)
  writeFileSync(full, bytes)
  chmodSync(full, mode)
  const st = statSync(full)
  await storeBlocks(s.store, bytes)
  const h = hashBytes(bytes)
  return { path, kind: 'file', sizeBytes: bytes.length, mtimeMs: Math.floor(st.mtimeMs), mode, vector: { aa: 1 }, isDeleted: false, blocks: h.blocks, hash: h.hash, linkTarget: '', modifiedBy: 'aa', sequence: 1, inode: st.ino }
}

/** A peer's next version of `local` holding `bytes` (its blocks stored, as the puller does before applying). */
async function nextVersion (s: Setup, local: StoredRecord, bytes: Buffer, mode = local.mode): Promise<FileRecord> {
  await storeBlocks(s.store, bytes)
  const h = hashBytes(bytes)
  const { inode, ...rest } = local
  return { ...rest, sizeBytes: bytes.length, mtimeMs: local.mtimeMs + 7000, mode, vector: { aa: 1, bb: 1 }, modifiedBy: 'bb', blocks: h.blocks, hash: h.hash, sequence: 2 }
}

function edit (bytes: Buffer, at: number, length = 4096): Buffer {
  const out = Buffer.from(bytes)
  randomBytes(length).copy(out, at)
  return out
}

/** big.bin, 6 MiB, as scanned here, and a peer's version of it with 4 KiB changed at `at` and mode 0600. */
async function bigFileEdited (s: Setup, at: number): Promise<{ old: Buffer, local: StoredRecord, edited: Buffer, record: FileRecord }> {
  const old = randomBytes(6 * MiB)
  const local = await localFile(s, 'big.bin', old)
  const edited = edit(old, at)
  return { old, local, edited, record: await nextVersion(s, local, edited, 0o600) }
}

/** The undo entries the store holds. */
async function collect (store: Store): Promise<Array<{ path: string, undo: PatchUndo }>> {
  const out: Array<{ path: string, undo: PatchUndo }> = []
  for await (const e of store.patchUndos(FOLDER)) out.push(e)
  return out
}

async function undos (store: Store): Promise<string[]> {
  return (await collect(store)).map(e => e.path)
}

test('4 KiB changed inside a big file is written over it in place: the same inode, a few blocks written, the new mode and mtime', async () => {
  const s = await setup()
  try {
    const { old, local, edited, record } = await bigFileEdited(s, 3_000_000)
    const applied = await applyRecord(s.root, s.store, record, local, record.path, { patchJournal: s.journal })
    const full = join(s.root, 'big.bin')
    const st = statSync(full)
    assert.is(st.ino, local.inode, 'patched in place, not replaced')
    assert.is(applied.inode, local.inode)
    assert.ok(readFileSync(full).equals(edited))
    assert.is(applied.mtimeMs, record.mtimeMs)
    assert.is(Math.floor(st.mtimeMs), record.mtimeMs)
    assert.is(st.mode & 0o7777, 0o600)
    assert.is(s.begun.length, 1)
    const written = s.begun[0].regions.reduce((n, r) => n + r.blocks.reduce((m, b) => m + b.sizeBytes, 0), 0)
    assert.ok(written >= 4096 && written < MiB, `a few blocks written: ${written} bytes`)
    assert.equal(await undos(s.store), [], 'the undo entry is gone once the patch is synced')
    assert.equal(readdirSync(s.root), ['big.bin'])

    // The same apply without a journal (a restore, a revert): a new file, as before.
    const third = edit(edited, 100_000)
    const now = { ...record, inode: applied.inode, mtimeMs: applied.mtimeMs }
    const thirdRecord = await nextVersion(s, now, third)
    await applyRecord(s.root, s.store, thirdRecord, now)
    assert.is.not(statSync(full).ino, local.inode)
    assert.ok(readFileSync(full).equals(third))
  } finally {
    await s.store.close()
  }
})

test('no patch over a file changed since its scan; a file with another name, a small file, a big change or missing old blocks are written whole', async () => {
  const s = await setup()
  try {
    // Changed since the scan (its mtime moved): LOCAL_CHANGED, the user's bytes untouched, no undo entry.
    const old = randomBytes(6 * MiB)
    const local = await localFile(s, 'a.bin', old)
    const record = await nextVersion(s, local, edit(old, 3_000_000))
    const fd = openSync(join(s.root, 'a.bin'), 'r+')
    writeSync(fd, Buffer.from('a local edit'), 0, 12, 10)
    closeSync(fd)
    utimesSync(join(s.root, 'a.bin'), new Date(), new Date(Date.now() + 60_000))
    const users = readFileSync(join(s.root, 'a.bin'))
    try { await applyRecord(s.root, s.store, record, local, record.path, { patchJournal: s.journal }); assert.unreachable() } catch (err: any) { assert.is(err.code, 'FOLDER_LOCAL_CHANGED') }
    assert.ok(readFileSync(join(s.root, 'a.bin')).equals(users), 'nothing of the local edit lost')
    assert.equal(await undos(s.store), [])

    // Another name for the same file: patching would change that one too.
    const linked = await localFile(s, 'b.bin', randomBytes(6 * MiB))
    linkSync(join(s.root, 'b.bin'), join(s.root, 'b-link.bin'))
    const linkedOld = readFileSync(join(s.root, 'b.bin'))
    const linkedRecord = await nextVersion(s, linked, edit(linkedOld, 1_000_000))
    await applyRecord(s.root, s.store, linkedRecord, linked, linkedRecord.path, { patchJournal: s.journal })
    assert.is.not(statSync(join(s.root, 'b.bin')).ino, linked.inode)
    assert.ok(readFileSync(join(s.root, 'b-link.bin')).equals(linkedOld), 'the other name keeps its bytes')

    // Small file; a change of more than an eighth; the old blocks not in the store: written whole.
    const small = await localFile(s, 'small.bin', randomBytes(MiB))
    const smallRecord = await nextVersion(s, small, edit(readFileSync(join(s.root, 'small.bin')), 1000))
    await applyRecord(s.root, s.store, smallRecord, small, smallRecord.path, { patchJournal: s.journal })
    assert.is.not(statSync(join(s.root, 'small.bin')).ino, small.inode)
    const much = await localFile(s, 'much.bin', randomBytes(6 * MiB))
    const muchRecord = await nextVersion(s, much, edit(readFileSync(join(s.root, 'much.bin')), 0, 2 * MiB))
    await applyRecord(s.root, s.store, muchRecord, much, muchRecord.path, { patchJournal: s.journal })
    assert.is.not(statSync(join(s.root, 'much.bin')).ino, much.inode)
    const otherDir = await setup()
    try {
      const bytes = randomBytes(6 * MiB)
      writeFileSync(join(otherDir.root, 'c.bin'), bytes)
      const st = statSync(join(otherDir.root, 'c.bin'))
      const h = hashBytes(bytes)
      const unstored: StoredRecord = { path: 'c.bin', kind: 'file', sizeBytes: bytes.length, mtimeMs: Math.floor(st.mtimeMs), mode: 0o644, vector: { aa: 1 }, isDeleted: false, blocks: h.blocks, hash: h.hash, linkTarget: '', modifiedBy: 'aa', sequence: 1, inode: st.ino }
      const edited = edit(bytes, 2_000_000)
      const next = await nextVersion(otherDir, unstored, edited)
      await applyRecord(otherDir.root, otherDir.store, next, unstored, next.path, { patchJournal: otherDir.journal })
      assert.is.not(statSync(join(otherDir.root, 'c.bin')).ino, st.ino, 'no undo possible: not patched')
      assert.ok(readFileSync(join(otherDir.root, 'c.bin')).equals(edited))
      assert.is(otherDir.begun.length, 0)
    } finally {
      await otherDir.store.close()
    }
    assert.is(s.begun.length, 0, 'none of these was patched')
    for (const [name, r] of [['b.bin', linkedRecord], ['small.bin', smallRecord], ['much.bin', muchRecord]] as const) {
      assert.ok(readFileSync(join(s.root, name)).equals(Buffer.concat(await blocksOf(s.store, r))), `${name} holds the new version`)
    }
  } finally {
    await s.store.close()
  }
})

async function blocksOf (store: Store, record: FileRecord): Promise<Uint8Array[]> {
  const out: Uint8Array[] = []
  for await (const b of store.getBlocks(record.blocks.map(x => x.hash))) out.push(b!)
  return out
}

test('a patch cut short is undone on restart: the old bytes, mode and mtime back; a file written since is left as it is', async () => {
  const s = await setup()
  try {
    const { old, local, edited, record } = await bigFileEdited(s, 4_000_000)
    // The patch is written and synced, and then the agent dies before the undo entry is dropped.
    const dying: PatchJournal = { begin: s.journal.begin, end: async () => { throw new Error('killed') } }
    try { await applyRecord(s.root, s.store, record, local, record.path, { patchJournal: dying }); assert.unreachable() } catch (err: any) { assert.match(err.message, /killed/) }
    const full = join(s.root, 'big.bin')
    assert.ok(readFileSync(full).equals(edited))
    // Only the start of the region new, as a crash between two writes would leave it.
    const [entry] = await collect(s.store)
    assert.is(entry.path, 'big.bin')
    const region = entry.undo.regions[0]
    const fd = openSync(full, 'r+')
    writeSync(fd, old.subarray(region.offset, region.offset + 8192), 0, 8192, region.offset)
    writeSync(fd, edited.subarray(region.offset, region.offset + 100), 0, 100, region.offset)
    closeSync(fd)
    assert.is(await undoInterruptedPatch(full, s.store, 'big.bin', entry.undo), 'undone')
    const st = statSync(full)
    assert.ok(readFileSync(full).equals(old), 'the old version, byte for byte')
    assert.is(Math.floor(st.mtimeMs), local.mtimeMs)
    assert.is(st.mode & 0o7777, local.mode)
    assert.is(st.ino, local.inode)

    // Written by someone after the crash (a later mtime): left alone.
    const later = edit(old, 10)
    writeFileSync(full, later)
    utimesSync(full, new Date(), new Date(entry.undo.startedMs + 3_600_000))
    assert.is(await undoInterruptedPatch(full, s.store, 'big.bin', entry.undo), 'changed')
    assert.ok(readFileSync(full).equals(later))
    // Gone, or another file at the path: left alone too.
    utimesSync(full, utimesSeconds(local.mtimeMs), utimesSeconds(local.mtimeMs))
    assert.is(await undoInterruptedPatch(join(s.root, 'gone.bin'), s.store, 'gone.bin', entry.undo), 'changed')
    assert.is(await undoInterruptedPatch(full, s.store, 'big.bin', { ...entry.undo, inode: entry.undo.inode + 1 }), 'changed')
    assert.ok(readFileSync(full).equals(later))
  } finally {
    await s.store.close()
  }
})

test.after(cleanupAll)
test.run()
