// Receive-only local changes in the store and the scanner: the first local change of a path keeps
// the cluster's record beside it, a record that is not a local change drops it, both atomically
// with the index; the manifest sender never sends a local change. Send-only ignored records.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { mkdirSync, writeFileSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { EventEmitter } from 'node:events'
import { Store, type StoredRecord } from '../../src/store/store.js'
import { Scanner } from '../../src/fs/scanner.js'
import { ManifestSender } from '../../src/sync/manifest-sender.js'
import { FolderRunner } from '../../src/sync/folder-runner.js'
import type { FolderConfig } from '../../src/config.js'
import { cleanupAll, tempDir, waitFor } from '../helpers/cli.js'

const DEVICE = 'aaaaaaaaaaaaaaaa'

async function setup (isLocalOnly: () => boolean) {
  const dir = tempDir()
  const root = join(dir, 'folder')
  mkdirSync(join(root, '.lansync'), { recursive: true })
  const store = await Store.open(join(dir, 'db'))
  const scanner = new Scanner({ folderId: 'f1', root, store, device: DEVICE, isLocalOnly })
  return { root, store, scanner }
}

async function localChanges (store: Store): Promise<Array<[string, string | null]>> {
  const out: Array<[string, string | null]> = []
  for await (const { path, base } of store.localChanges('f1')) out.push([path, base === null ? null : Buffer.from(base.hash).toString('hex').slice(0, 8)])
  return out
}

test('a local change keeps the record it replaced (null for a new path) until a non-local record replaces it', async () => {
  let isReceiveOnly = false
  const { root, store, scanner } = await setup(() => isReceiveOnly)
  writeFileSync(join(root, 'x.txt'), 'cluster')
  await scanner.scanAll()
  const cluster = await store.getRecord('f1', 'x.txt') as StoredRecord
  assert.is(cluster.isLocalOnly, undefined, 'a send-and-receive change is an ordinary one')

  isReceiveOnly = true
  writeFileSync(join(root, 'x.txt'), 'edit 1')
  writeFileSync(join(root, 'new.txt'), 'added')
  await scanner.scanAll()
  assert.is((await store.getRecord('f1', 'x.txt'))?.isLocalOnly, true)
  assert.equal(await localChanges(store), [['new.txt', null], ['x.txt', Buffer.from(cluster.hash).toString('hex').slice(0, 8)]])
  // A second edit keeps the first base: the cluster's record, not the first edit.
  writeFileSync(join(root, 'x.txt'), 'edit 2, longer')
  rmSync(join(root, 'new.txt'))
  await scanner.scanAll()
  const base = await store.localBase('f1', 'x.txt')
  assert.equal(base?.hash, cluster.hash)
  assert.equal(base?.vector, cluster.vector)
  assert.is(await store.localBase('f1', 'new.txt'), null)
  assert.is((await store.getRecord('f1', 'new.txt'))?.isDeleted, true)
  // The base's blocks stay referenced for GC (revert writes them back).
  const referenced = new Set<string>()
  for await (const h of store.referencedBlockHashes()) referenced.add(h)
  assert.ok(referenced.has(Buffer.from(cluster.blocks[0].hash).toString('hex')))

  // A remote version (not local-only) drops the base with the flag.
  const current = await store.getRecord('f1', 'x.txt') as StoredRecord
  await store.commit('f1', [{ record: { ...current, isLocalOnly: false, vector: { bbbbbbbbbbbbbbbb: 9 } }, origin: 'remote' }])
  assert.is((await store.getRecord('f1', 'x.txt'))?.isLocalOnly, undefined)
  assert.is(await store.localBase('f1', 'x.txt'), undefined)
  assert.equal(await localChanges(store), [['new.txt', null]])
  await store.close()
})

test('the manifest sender skips local changes, in the initial manifest and live', async () => {
  const { root, store, scanner } = await setup(() => true)
  writeFileSync(join(root, 'local.txt'), 'mine')
  await scanner.scanAll()
  const remote = { ...(await store.getRecord('f1', 'local.txt')) as StoredRecord, path: 'remote.txt', isLocalOnly: false }
  await store.commit('f1', [{ record: remote, origin: 'remote' }])
  const runner = Object.assign(new EventEmitter(), { folder: { id: 'f1' } }) as unknown as FolderRunner // only its 'changed' events
  const sent: string[] = []
  const sender = new ManifestSender({ runner, store, sinceSequence: 0, send: async records => { sent.push(...records.map(r => r.path)) } })
  await sender.start()
  assert.equal(sent, ['remote.txt'])
  writeFileSync(join(root, 'local2.txt'), 'mine too')
  scanner.once('committed', records => runner.emit('changed', records))
  await scanner.scanAll()
  const other = await store.commit('f1', [{ record: { ...remote, path: 'remote2.txt' }, origin: 'remote' }])
  runner.emit('changed', other)
  // Live batches go out in order: once the later one is sent, the local change was handled (skipped).
  await waitFor(() => sent.length >= 2, { what: 'the live update' })
  assert.equal(sent, ['remote.txt', 'remote2.txt'])
  sender.close()
  await store.close()
})

test('send-only ignored records: kept, listed, dropped', async () => {
  const { root, store, scanner } = await setup(() => false)
  writeFileSync(join(root, 'x.txt'), 'x')
  await scanner.scanAll()
  const r = await store.getRecord('f1', 'x.txt') as StoredRecord
  await store.putIgnored('f1', [{ ...r, path: 'a' }, { ...r, path: 'b' }])
  assert.equal((await store.getIgnored('f1', 'a'))?.hash, r.hash)
  const paths: string[] = []
  for await (const i of store.ignoredRecords('f1')) paths.push(i.path)
  assert.equal(paths, ['a', 'b'])
  await store.dropIgnored('f1', ['a'])
  assert.is(await store.getIgnored('f1', 'a'), undefined)
  await store.forgetFolder('f1')
  assert.is(await store.getIgnored('f1', 'b'), undefined)
  await store.close()
})

test('a type changed while the agent was off is settled at start: local changes released, ignored records and peer progress dropped', async () => {
  const { root, store } = await setup(() => false)
  const folder: FolderConfig = { id: 'f1', label: 'f1', path: root, type: 'receiveonly', sharedWith: [], retention: { mode: 'all' }, isPaused: false, maxDeleteShare: 0.5, selection: [] }
  const before = new FolderRunner({ folder, store, device: DEVICE, isWatching: false })
  writeFileSync(join(root, 'mine.txt'), 'local')
  await before.start()
  assert.is((await store.getRecord('f1', 'mine.txt'))?.isLocalOnly, true)
  await before.close()
  const remote = await store.getRecord('f1', 'mine.txt') as StoredRecord
  await store.putIgnored('f1', [{ ...remote, path: 'theirs.txt' }])
  await store.setPeerState('f1', 'bbbbbbbbbbbbbbbb', { epoch: 'e', sequence: 7 })

  const after = new FolderRunner({ folder: { ...folder, type: 'sendreceive' }, store, device: DEVICE, isWatching: false })
  const announced: string[] = []
  after.on('changed', records => announced.push(...records.map(r => r.path)))
  await after.start()
  const released = await store.getRecord('f1', 'mine.txt')
  assert.is(released?.isLocalOnly, undefined)
  assert.equal(await localChanges(store), [])
  assert.equal(announced, ['mine.txt'], 'released changes are announced like new ones')
  assert.is(await store.getIgnored('f1', 'theirs.txt'), undefined)
  assert.is(await store.getPeerState('f1', 'bbbbbbbbbbbbbbbb'), undefined, 'peers send their manifests again')
  await after.close()
  await store.close()
})

test('live, the manifest sender leaves out a peer\'s own versions applied as it sent them, for that peer only', async () => {
  const { root, store, scanner } = await setup(() => false)
  writeFileSync(join(root, 'mine.txt'), 'mine')
  await scanner.scanAll()
  const runner = Object.assign(new EventEmitter(), { folder: { id: 'f1' } }) as unknown as FolderRunner // only its 'changed' events
  const sent = { p: [] as Array<[string[], number]>, q: [] as Array<[string[], number]> }
  const senders = (['p', 'q'] as const).map(peer => new ManifestSender({ runner, store, sinceSequence: 0, peer, send: async (records, sequence) => { sent[peer].push([records.map(r => r.path), sequence]) } }))
  for (const s of senders) await s.start()
  const mine = await store.getRecord('f1', 'mine.txt') as StoredRecord
  const fromP = await store.commit('f1', [{ record: { ...mine, path: 'from-p.txt', vector: { p: 1 }, modifiedBy: 'p' }, origin: 'remote' }, { record: { ...mine, path: 'merged.txt', vector: { p: 1, [DEVICE]: 1 } }, origin: 'remote' }])
  runner.emit('changed', fromP, { peer: 'p', paths: new Set(['from-p.txt']) })
  const later = await store.commit('f1', [{ record: { ...mine, path: 'later.txt', vector: { [DEVICE]: 2 } }, origin: 'local' }])
  runner.emit('changed', later)
  await waitFor(() => sent.p.length >= 3 && sent.q.length >= 3, { what: 'the live updates' })
  assert.equal(sent.p.map(([paths]) => paths), [['mine.txt'], ['merged.txt'], ['later.txt']], 'p is not sent its own version back')
  assert.equal(sent.q.map(([paths]) => paths), [['mine.txt'], ['from-p.txt', 'merged.txt'], ['later.txt']])
  assert.equal(sent.p.map(([, sequence]) => sequence), sent.q.map(([, sequence]) => sequence), 'each batch carries the sequence of its last record')
  for (const s of senders) s.close()
  await store.close()
})

test.after(cleanupAll)
test.run()
