// The scanner under selective sync: a removed copy outside the selection is forgotten (no
// tombstone, its version kept as known); new content at a known path is concurrent with it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { Store } from '../../src/store/store.js'
import { Scanner } from '../../src/fs/scanner.js'
import { Selection } from '../../src/core/selection.js'
import { compareVectors } from '../../src/core/clock.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

const DEVICE = 'aaaaaaaaaaaaaaaa'

async function setup () {
  const dir = tempDir()
  const root = join(dir, 'folder')
  mkdirSync(join(root, '.lansync'), { recursive: true })
  const store = await Store.open(join(dir, 'db'))
  const selection = new Selection(['docs/**'])
  const scanner = new Scanner({ folderId: 'f1', root, store, device: DEVICE, isSelected: (p, k) => selection.isSelected(p, k) })
  return { root, store, scanner }
}

test('a removed copy outside the selection is forgotten, a selected one is a tombstone', async () => {
  const { root, store, scanner } = await setup()
  mkdirSync(join(root, 'docs')); mkdirSync(join(root, 'other'))
  writeFileSync(join(root, 'docs', 'a.txt'), 'a')
  writeFileSync(join(root, 'other', 'x.txt'), 'x')
  let r = await scanner.scanAll()
  assert.equal(r.added.sort(), ['docs', 'docs/a.txt', 'other', 'other/x.txt'], 'files outside the selection are still indexed and sent')
  const x = await store.getRecord('f1', 'other/x.txt')
  const { sequence } = await store.folderMeta('f1')

  rmSync(join(root, 'other'), { recursive: true })
  rmSync(join(root, 'docs', 'a.txt'))
  r = await scanner.scanAll()
  assert.equal(r.deleted, ['docs/a.txt'])
  assert.equal(r.forgotten.sort(), ['other', 'other/x.txt'])
  assert.is(await store.getRecord('f1', 'other/x.txt'), undefined)
  assert.equal((await store.getKnown('f1', 'other/x.txt'))?.vector, x?.vector)
  // Only the tombstone of docs/a.txt is new in the manifest.
  const since = []
  for await (const rec of store.recordsSince('f1', sequence)) since.push(rec.path)
  assert.equal(since, ['docs/a.txt'])
  // Scanning again changes nothing.
  r = await scanner.scanAll()
  assert.equal([r.added, r.deleted, r.forgotten], [[], [], []])

  // Content made again at the forgotten path is this device's next version of it.
  mkdirSync(join(root, 'other'))
  writeFileSync(join(root, 'other', 'x.txt'), 'x again')
  r = await scanner.scanAll()
  const again = await store.getRecord('f1', 'other/x.txt')
  assert.is(compareVectors(again!.vector, x!.vector), 'after')
})

test('content made at a path known only from a peer is concurrent with the peer\'s version', async () => {
  const { root, store, scanner } = await setup()
  const peer = { path: 'other/y.txt', kind: 'file' as const, sizeBytes: 1, mtimeMs: 1, mode: 0o644, vector: { bbbbbbbbbbbbbbbb: 3 }, isDeleted: false, blocks: [], hash: new Uint8Array(32), linkTarget: '', modifiedBy: 'bbbbbbbbbbbbbbbb', sequence: 9 }
  await store.putKnown('f1', [peer])
  mkdirSync(join(root, 'other'))
  writeFileSync(join(root, 'other', 'y.txt'), 'mine')
  await scanner.scanAll()
  const mine = await store.getRecord('f1', 'other/y.txt')
  assert.is(compareVectors(mine!.vector, peer.vector), 'concurrent')
})

test.after(cleanupAll)
test.run()
