import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, writeFileSync, rmSync, renameSync, symlinkSync, chmodSync, existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { Store } from '../../src/store/store.js'
import { Scanner } from '../../src/fs/scanner.js'
import { randomBytes } from 'node:crypto'
import { hashBytes } from '../../src/fs/hasher.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

async function setup () {
  const dir = tempDir()
  const root = join(dir, 'folder')
  mkdirSync(join(root, '.lansync'), { recursive: true })
  const store = await Store.open(join(dir, 'db'))
  const scanner = new Scanner({ folderId: 'f1', root, store, device: 'aaaaaaaaaaaaaaaa' })
  return { root, store, scanner }
}

test('scan detects add, modify, delete and rename; unchanged files are not rehashed', async () => {
  const { root, store, scanner } = await setup()
  writeFileSync(join(root, 'a.txt'), 'alpha')
  mkdirSync(join(root, 'sub'))
  writeFileSync(join(root, 'sub', 'b.bin'), Buffer.alloc(100_000, 7))
  symlinkSync('a.txt', join(root, 'link'))
  let r = await scanner.scanAll()
  assert.equal(r.added.sort(), ['a.txt', 'link', 'sub', 'sub/b.bin'])
  assert.is(r.filesHashed, 2)

  r = await scanner.scanAll()
  assert.equal([r.added, r.modified, r.deleted], [[], [], []])
  assert.is(r.filesHashed, 0, 'nothing rehashed when size, mtime and inode are unchanged')

  writeFileSync(join(root, 'a.txt'), 'alpha, changed')
  r = await scanner.scanAll()
  assert.equal(r.modified, ['a.txt'])
  const a = await store.getRecord('f1', 'a.txt')
  // A path new to the index starts at the index's epoch, then the device's own counter counts.
  const { epoch } = await store.folderMeta('f1')
  assert.equal(a?.vector, { [epoch]: 1, aaaaaaaaaaaaaaaa: 2 })

  const before = await store.getRecord('f1', 'sub/b.bin')
  renameSync(join(root, 'sub', 'b.bin'), join(root, 'c.bin'))
  r = await scanner.scanAll()
  assert.equal(r.renamed, [{ from: 'sub/b.bin', to: 'c.bin' }])
  assert.equal(r.deleted, ['sub/b.bin'])
  assert.is(r.filesHashed, 0, 'a renamed file (same inode, size, mtime) is not read again')
  assert.equal((await store.getRecord('f1', 'c.bin'))?.blocks, before?.blocks)
  assert.ok((await store.getRecord('f1', 'sub/b.bin'))?.isDeleted)

  rmSync(join(root, 'sub'), { recursive: true })
  r = await scanner.scanPaths(['sub'])
  assert.equal(r.deleted, ['sub'])
  await store.close()
})

test('a removed directory tombstones everything under it; ignore rules and our own files are skipped', async () => {
  const { root, store, scanner } = await setup()
  mkdirSync(join(root, 'd', 'e'), { recursive: true })
  writeFileSync(join(root, 'd', 'e', 'x'), 'x')
  writeFileSync(join(root, 'd', 'y'), 'y')
  writeFileSync(join(root, 'skip.log'), 'log')
  writeFileSync(join(root, '.lansync-tmp-partial'), 'temp')
  writeFileSync(join(root, '.lansyncignore'), '*.log\n')
  let r = await scanner.scanAll()
  assert.equal(r.added.sort(), ['.lansyncignore', 'd', 'd/e', 'd/e/x', 'd/y'])
  rmSync(join(root, 'd'), { recursive: true })
  r = await scanner.scanPaths(['d'])
  assert.equal(r.deleted.sort(), ['d', 'd/e', 'd/e/x', 'd/y'])
  await store.close()
})

test('the scan refuses a folder whose marker is gone and records no deletion', async () => {
  const { root, store, scanner } = await setup()
  writeFileSync(join(root, 'keep.txt'), 'keep')
  await scanner.scanAll()
  rmSync(join(root, '.lansync'), { recursive: true })
  rmSync(join(root, 'keep.txt'))
  try {
    await scanner.scanAll()
    assert.unreachable('should refuse')
  } catch (err: any) {
    assert.is(err.code, 'FOLDER_MARKER_MISSING')
  }
  assert.is((await store.getRecord('f1', 'keep.txt'))?.isDeleted, false)
  await store.close()
})

test('a mode change is a new version; a touch with the same content is not', async () => {
  const { root, store, scanner } = await setup()
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\n')
  await scanner.scanAll()
  chmodSync(join(root, 'run.sh'), 0o755)
  let r = await scanner.scanAll()
  assert.equal(r.modified, ['run.sh'])
  writeFileSync(join(root, 'run.sh'), '#!/bin/sh\n') // same bytes, new mtime
  r = await scanner.scanAll()
  assert.equal(r.modified, [])
  assert.is((await store.versions('f1', 'run.sh')).length, 2)
  await store.close()
})

test('names that cannot go on the wire are reported per file and never indexed', async () => {
  const { root, store, scanner } = await setup()
  writeFileSync(join(root, 'fine.txt'), 'ok')
  writeFileSync(join(root, 'back\\slash.txt'), 'x')
  writeFileSync(join(root, 'tab\tname.txt'), 'x')
  writeFileSync(join(root, 'cafe\u0301.txt'), 'x') // NFD: a peer would store it as café.txt
  mkdirSync(join(root, 'dir\\with'))
  writeFileSync(join(root, 'dir\\with', 'inner.txt'), 'x')
  const r = await scanner.scanAll()
  assert.equal(r.added, ['fine.txt'])
  assert.equal(r.problems.map(p => [p.path, p.code]).sort(), [
    ['back\\slash.txt', 'PATH_UNSYNCABLE'], ['cafe\u0301.txt', 'PATH_UNSYNCABLE'], ['dir\\with', 'PATH_UNSYNCABLE'], ['tab\tname.txt', 'PATH_UNSYNCABLE']
  ].sort())
  assert.match(r.problems.find(p => p.path === 'back\\slash.txt')?.message ?? '', /contains a backslash; rename it to sync it/)
  assert.match(r.problems.find(p => p.path === 'cafe\u0301.txt')?.message ?? '', /not in Unicode NFC/)
  const indexed: string[] = []
  for await (const rec of store.records('f1')) indexed.push(rec.path)
  assert.equal(indexed, ['fine.txt'])
  const again = await scanner.scanAll()
  assert.equal([again.added, again.deleted], [[], []], 'nothing is ever taken as deleted either')
  await store.close()
})

test('temp files older than the process are removed (a write cut short); newer ones and look-alikes are kept', async () => {
  const dir = tempDir()
  const root = join(dir, 'folder')
  mkdirSync(join(root, '.lansync'), { recursive: true })
  mkdirSync(join(root, 'sub'))
  const store = await Store.open(join(dir, 'db'))
  try {
    writeFileSync(join(root, 'sub', '.lansync-tmp-report.pdf-0a1b2c3d'), 'half of a file')
    writeFileSync(join(root, 'keep.txt'), 'mine')
    const stale = statSync(join(root, 'sub', '.lansync-tmp-report.pdf-0a1b2c3d')).ctimeMs
    const early = new Scanner({ folderId: 'f1', root, store, device: 'aaaaaaaaaaaaaaaa', staleTempsBeforeMs: stale - 1 })
    let r = await early.scanAll()
    assert.equal(r.staleTempsRemoved, [], 'a temp file touched after the process started may be a write in progress')
    assert.ok(existsSync(join(root, 'sub', '.lansync-tmp-report.pdf-0a1b2c3d')))
    assert.equal(r.added.sort(), ['keep.txt', 'sub'], 'temp files are never indexed')
    const later = new Scanner({ folderId: 'f1', root, store, device: 'aaaaaaaaaaaaaaaa', staleTempsBeforeMs: stale + 1 })
    r = await later.scanAll()
    assert.equal(r.staleTempsRemoved, ['sub/.lansync-tmp-report.pdf-0a1b2c3d'])
    assert.not.ok(existsSync(join(root, 'sub', '.lansync-tmp-report.pdf-0a1b2c3d')))
    assert.ok(existsSync(join(root, 'keep.txt')))
    assert.equal([r.added, r.modified, r.deleted], [[], [], []])
  } finally {
    await store.close()
  }
})

test('a moved file is committed with its old path\'s tombstone (one batch for peers), however big', async () => {
  const dir = tempDir()
  const root = join(dir, 'folder')
  mkdirSync(join(root, '.lansync'), { recursive: true })
  const store = await Store.open(join(dir, 'db'))
  // Commits after 64 KiB hashed: the file alone is bigger.
  const scanner = new Scanner({ folderId: 'f1', root, store, device: 'aaaaaaaaaaaaaaaa', batchBytes: 64 * 1024 })
  writeFileSync(join(root, 'big.bin'), Buffer.alloc(300_000, 3))
  await scanner.scanAll()
  const commits: string[][] = []
  scanner.on('committed', records => commits.push(records.map(r => `${r.path}${r.isDeleted ? ' (deleted)' : ''}`).sort()))
  renameSync(join(root, 'big.bin'), join(root, 'moved.bin'))
  await scanner.scanAll()
  assert.equal(commits, [['big.bin (deleted)', 'moved.bin']])
  await store.close()
})

test('every block a scan stores holds its own bytes, for a big file read in reused buffers and after an edit inside it', async () => {
  const { root, store, scanner } = await setup()
  const content = randomBytes(12 * 1024 * 1024)
  writeFileSync(join(root, 'big.bin'), content)
  await scanner.scanAll()
  const check = async (expected: Buffer): Promise<void> => {
    const record = await store.getRecord('f1', 'big.bin')
    assert.ok(record !== undefined && record.blocks.length > 20)
    let offset = 0
    for (const block of record.blocks) {
      const bytes = await store.getBlock(block.hash) // checked against its hash: STORE_CORRUPT if not
      assert.ok(bytes !== undefined && Buffer.from(bytes).equals(expected.subarray(offset, offset + block.sizeBytes)))
      offset += block.sizeBytes
    }
    assert.is(offset, expected.length)
  }
  await check(content)
  randomBytes(4096).copy(content, 6_000_000)
  writeFileSync(join(root, 'big.bin'), content)
  const r = await scanner.scanAll()
  assert.equal(r.modified, ['big.bin'])
  await check(content)
  await store.close()
})

test.after(cleanupAll)
test('files hashed several at once give the records of one at a time, committed in walk order', async () => {
  const { root, store, scanner } = await setup()
  const contents = new Map<string, Buffer>()
  for (let d = 0; d < 3; d++) {
    mkdirSync(join(root, `d${d}`))
    for (let i = 0; i < 40; i++) contents.set(`d${d}/f${i}`, randomBytes(1 + (i * 7919) % 70_000))
  }
  contents.set('big.bin', randomBytes(3 * 1024 * 1024)) // streamed, alone
  contents.set('d1/empty', Buffer.alloc(0))
  for (const [p, bytes] of contents) writeFileSync(join(root, p), bytes)
  const committed: string[] = []
  scanner.on('committed', records => committed.push(...records.map(r => r.path)))
  const r = await scanner.scanAll()
  // Pre-order, names sorted in each directory: what the one-at-a-time walk recorded.
  const walk = ['big.bin', ...[0, 1, 2].flatMap(d => [`d${d}`, ...[...contents.keys()].filter(p => p.startsWith(`d${d}/`)).sort()])]
  assert.equal(r.added, walk)
  assert.equal(committed, walk)
  const { epoch } = await store.folderMeta('f1')
  for (const [p, bytes] of contents) {
    const rec = await store.getRecord('f1', p)
    const expected = hashBytes(bytes)
    assert.equal({ size: rec?.sizeBytes, hash: Buffer.from(rec?.hash ?? []).toString('hex'), blocks: rec?.blocks, vector: rec?.vector },
      { size: bytes.length, hash: Buffer.from(expected.hash).toString('hex'), blocks: expected.blocks, vector: { [epoch]: 1 } }, p)
    for (const b of expected.blocks) assert.ok(await store.hasBlock(b.hash), `${p}: its blocks are stored`)
  }
  const again = await scanner.scanAll()
  assert.equal([again.added, again.modified, again.deleted, again.filesHashed], [[], [], [], 0])
  await store.close()
})

test('a file renamed back onto its old name (a tombstone there) is a rename, not read again', async () => {
  const { root, store, scanner } = await setup()
  writeFileSync(join(root, 'a.bin'), randomBytes(200_000))
  await scanner.scanAll()
  const first = await store.getRecord('f1', 'a.bin')
  renameSync(join(root, 'a.bin'), join(root, 'b.bin'))
  let r = await scanner.scanAll()
  assert.equal(r.renamed, [{ from: 'a.bin', to: 'b.bin' }])
  const tombstone = await store.getRecord('f1', 'a.bin')
  assert.ok(tombstone?.isDeleted)
  renameSync(join(root, 'b.bin'), join(root, 'a.bin'))
  r = await scanner.scanAll()
  assert.equal([r.renamed, r.filesHashed], [[{ from: 'b.bin', to: 'a.bin' }], 0])
  const back = await store.getRecord('f1', 'a.bin')
  assert.equal({ isDeleted: back?.isDeleted, blocks: back?.blocks, hash: back?.hash }, { isDeleted: false, blocks: first?.blocks, hash: first?.hash })
  assert.is(back?.vector.aaaaaaaaaaaaaaaa, (tombstone?.vector.aaaaaaaaaaaaaaaa ?? 0) + 1, 'the path\'s history goes on from its tombstone')
  await store.close()
})

test('a first scan applies what it finds as it walks: all of a big tree is recorded, in path order', async () => {
  const { root, store, scanner } = await setup()
  for (let d = 0; d < 3; d++) {
    mkdirSync(join(root, `d${d}`, 'inner'), { recursive: true })
    for (let i = 0; i < 700; i++) writeFileSync(join(root, `d${d}`, `f${String(i).padStart(3, '0')}`), `${d}/${i}`)
    writeFileSync(join(root, `d${d}`, 'inner', 'x'), 'x')
  }
  const r = await scanner.scanAll()
  assert.is(r.added.length, 3 * 703) // each dN: itself, 700 files, inner, inner/x
  assert.equal(r.added, [...r.added].sort(), 'a directory, then its subtree, then its next sibling')
  assert.is((await store.folderTotals('f1')).files, 3 * 701)
  // The next scan of the same tree holds candidates to the end (a gone file may have moved).
  rmSync(join(root, 'd0', 'f000'))
  renameSync(join(root, 'd1', 'f001'), join(root, 'd2', 'moved'))
  const again = await scanner.scanAll()
  assert.equal(again.renamed, [{ from: 'd1/f001', to: 'd2/moved' }])
  assert.equal(again.deleted.sort(), ['d0/f000', 'd1/f001'])
})

test('stop(): a scan under way ends with SCAN_STOPPED, keeps what it committed, and the next scan finds the rest', async () => {
  const { root, store } = await setup()
  for (let d = 0; d < 8; d++) {
    mkdirSync(join(root, `d${d}`))
    for (let i = 0; i < 500; i++) writeFileSync(join(root, `d${d}`, `f${i}`), randomBytes(64))
  }
  const scanner = new Scanner({ folderId: 'f1', root, store, device: 'aaaaaaaaaaaaaaaa', batchChanges: 100 })
  let committed = 0
  scanner.on('committed', records => {
    committed += records.length
    if (committed >= 300) scanner.stop()
  })
  try {
    await scanner.scanAll()
    assert.unreachable('the scan should have stopped')
  } catch (err: any) {
    assert.is(err.code, 'SCAN_STOPPED')
  }
  const kept = (await store.folderTotals('f1')).files
  assert.ok(kept >= 250 && kept < 4000, `${kept} files recorded before the stop`)
  const again = await scanner.scanAll().then(() => 'scanned', (err: any) => err.code)
  assert.is(again, 'SCAN_STOPPED', 'a stopped scanner scans no more')
  const next = new Scanner({ folderId: 'f1', root, store, device: 'aaaaaaaaaaaaaaaa' })
  const r = await next.scanAll()
  assert.ok(r.added.length > 0 && r.added.length <= 4008 - kept, `${r.added.length} added by the next scan`)
  const totals = await store.folderTotals('f1')
  assert.equal([totals.files, totals.dirs], [4000, 8])
})

test.run()
