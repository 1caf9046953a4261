import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { decideRemote, isOutOfSync, mergeIgnored, overrideChange, overrideRecord, revertAction, revertChange, type FolderType } from '../../src/core/folder-type.js'
import { compareVectors } from '../../src/core/clock.js'
import { planPath } from '../../src/core/plan.js'
import type { FileRecord, VersionVector } from '../../src/core/types.js'

const EMPTY = new Uint8Array(32)
const A = 'aaaaaaaaaaaaaaaa' // this device
const B = 'bbbbbbbbbbbbbbbb'
const label = (d: string): string => d.slice(0, 7)

function file (path: string, content: number, vector: VersionVector, over: Partial<FileRecord> = {}): FileRecord {
  return {
    path, kind: 'file', sizeBytes: 10 + content, mtimeMs: 1_700_000_000_000 + content, mode: 0o644, vector, isDeleted: false,
    blocks: [{ hash: new Uint8Array([content]), sizeBytes: 10 + content }], hash: new Uint8Array([content]), linkTarget: '',
    modifiedBy: B, sequence: 1, ...over
  }
}
function gone (r: FileRecord, vector: VersionVector): FileRecord {
  return { ...r, vector, isDeleted: true, sizeBytes: 0, blocks: [], hash: EMPTY, linkTarget: '' }
}
const decide = (type: FolderType, local: FileRecord | undefined, remote: FileRecord, base?: FileRecord | null) =>
  decideRemote({ type, local, remote, base, localDevice: A, deviceLabel: label })

// --- send and receive: the planner, unchanged ---

test('sendreceive decides exactly as the planner', () => {
  const cases: Array<[FileRecord | undefined, FileRecord]> = [
    [undefined, file('x', 1, { b: 1 })],
    [file('x', 1, { a: 1 }), file('x', 2, { a: 1, b: 1 })],
    [file('x', 1, { a: 2 }), file('x', 2, { a: 1, b: 1 })],
    [file('x', 1, { a: 1 }), gone(file('x', 1, {}), { a: 1, b: 1 })],
    [file('x', 1, { a: 2 }), file('x', 2, { a: 2 })]
  ]
  for (const [local, remote] of cases) {
    const expected = planPath(local, remote, A, label)
    const got = decide('sendreceive', local, remote)
    assert.equal(got, expected === undefined ? { kind: 'none' } : { kind: 'apply', action: expected })
  }
})

// --- send-only ---

test('sendonly: a remote change that would touch the disk is ignored', () => {
  const local = file('x', 1, { a: 1 })
  assert.equal(decide('sendonly', local, file('x', 2, { a: 1, b: 1 })), { kind: 'ignore' }, 'newer content')
  assert.equal(decide('sendonly', local, gone(local, { a: 1, b: 1 })), { kind: 'ignore' }, 'a delete')
  assert.equal(decide('sendonly', undefined, file('y', 2, { b: 1 })), { kind: 'ignore' }, 'a new file')
  assert.equal(decide('sendonly', local, file('x', 2, { a: 0, b: 1 })), { kind: 'ignore' }, 'a conflict (even one this device would win: its copy is a write)')
})

test('sendonly: index-only changes apply; older records change nothing', () => {
  const local = file('x', 1, { a: 1 })
  assert.equal(decide('sendonly', local, file('x', 1, { a: 1, b: 1 })).kind, 'apply', 'same state, newer vector: adopt')
  assert.equal(decide('sendonly', undefined, gone(file('z', 1, {}), { b: 2 })).kind, 'apply', 'a tombstone of a path never here: adopt')
  assert.equal(decide('sendonly', file('x', 1, { a: 3 }), file('x', 2, { a: 1 })), { kind: 'none' })
  // Delete vs edit where the local edit wins: only the index moves (announce), the disk stays.
  const announced = decide('sendonly', file('x', 1, { a: 2 }), gone(file('x', 1, {}), { a: 1, b: 1 }))
  assert.ok(announced.kind === 'apply' && announced.action.type === 'announce')
})

test('mergeIgnored keeps the newest remote knowledge; concurrent ones merge their vectors', () => {
  const r1 = file('x', 1, { b: 1 })
  const r2 = file('x', 2, { b: 2 })
  const c = file('x', 3, { c: 1 })
  assert.is(mergeIgnored(undefined, r1), r1)
  assert.is(mergeIgnored(r1, r2), r2)
  assert.is(mergeIgnored(r2, r1), r2)
  const merged = mergeIgnored(r2, c)
  assert.equal(merged.vector, { b: 2, c: 1 })
  assert.equal(merged.hash, c.hash)
})

test('isOutOfSync: until the local record dominates (or holds the same state)', () => {
  const ignored = file('x', 2, { a: 1, b: 1 })
  assert.ok(isOutOfSync(file('x', 1, { a: 1 }), ignored, A))
  assert.ok(isOutOfSync(undefined, ignored, A))
  assert.ok(isOutOfSync(file('x', 1, { a: 2 }), ignored, A), 'a later local edit is concurrent: still different')
  assert.not.ok(isOutOfSync(file('x', 1, { a: 2, b: 1 }), ignored, A), 'overridden')
  assert.not.ok(isOutOfSync(file('x', 2, { a: 1 }, { mtimeMs: ignored.mtimeMs }), ignored, A), 'same state')
})

test('overrideRecord: local content (or a tombstone) with a vector that dominates both, bumped here', () => {
  const local = file('x', 1, { a: 1 }, { modifiedBy: A })
  const ignored = file('x', 2, { a: 1, b: 5 })
  const r = overrideRecord(local, ignored, A, 99, EMPTY)
  assert.equal(r.hash, local.hash)
  assert.is(r.isDeleted, false)
  assert.is(compareVectors(r.vector, ignored.vector), 'after')
  assert.is(compareVectors(r.vector, local.vector), 'after')
  assert.is(r.modifiedBy, A)
  // The peer holding `ignored` pulls it.
  assert.is(planPath(ignored, r, B, label)?.type, 'pull')

  const added = file('new', 3, { b: 1 })
  const t = overrideRecord(undefined, added, A, 99, EMPTY)
  assert.is(t.isDeleted, true)
  assert.is(t.path, 'new')
  assert.is(compareVectors(t.vector, added.vector), 'after')
  assert.is(planPath(added, t, B, label)?.type, 'delete')
  assert.not.ok(isOutOfSync(r, ignored, A))
  assert.not.ok(isOutOfSync(t, added, A))
})

// --- receive-only ---

test('receiveonly: a path not locally changed follows the planner', () => {
  const local = file('x', 1, { b: 1 })
  const remote = file('x', 2, { b: 2 })
  assert.equal(decide('receiveonly', local, remote), { kind: 'apply', action: planPath(local, remote, A, label) as any })
})

test('receiveonly: a remote record not newer than the base leaves the local change alone', () => {
  const base = file('x', 1, { b: 1 })
  const local = file('x', 9, { a: 1, b: 1 }, { modifiedBy: A })
  assert.equal(decide('receiveonly', local, base, base), { kind: 'none' })
  assert.equal(decide('receiveonly', local, file('x', 0, { b: 0 }), base), { kind: 'none' })
})

test('receiveonly: a newer remote record replaces the local change (no conflict copy)', () => {
  const base = file('x', 1, { b: 1 })
  const local = file('x', 9, { a: 1, b: 1 }, { modifiedBy: A })
  const remote = file('x', 2, { b: 2 })
  const d = decide('receiveonly', local, remote, base)
  assert.equal(d, { kind: 'apply', action: { type: 'pull', remote, local, record: remote, isMetadataOnly: false } })
  // The planner alone would call this a conflict (the local vector is concurrent).
  assert.is(planPath(local, remote, A, label)?.type, 'conflict')
  // A concurrent one (another peer's) too.
  const other = file('x', 3, { c: 1 })
  const d2 = decide('receiveonly', local, other, base)
  assert.ok(d2.kind === 'apply' && d2.action.type === 'pull' && d2.action.record === other)
})

test('receiveonly: the local change against deletes, additions, metadata', () => {
  const base = file('x', 1, { b: 1 })
  const localDeleted = gone(base, { a: 1, b: 1 })
  // Deleted here, edited on the peer: the file comes back with the peer's content.
  const edited = file('x', 2, { b: 2 })
  const back = decide('receiveonly', localDeleted, edited, base)
  assert.ok(back.kind === 'apply' && back.action.type === 'pull' && back.action.isMetadataOnly === false)
  // Deleted here and on the peer: only the index.
  const both = decide('receiveonly', localDeleted, gone(base, { b: 2 }), base)
  assert.ok(both.kind === 'apply' && both.action.type === 'adopt')
  // Edited here, deleted on the peer: removed here (the edit stays in history).
  const del = decide('receiveonly', file('x', 5, { a: 1, b: 1 }), gone(base, { b: 2 }), base)
  assert.ok(del.kind === 'apply' && del.action.type === 'delete')
  // Added here (no base): any remote record for the path replaces it.
  const addedHere = file('n', 4, { e: 1 }, { modifiedBy: A })
  const theirs = file('n', 6, { b: 1 })
  const r = decide('receiveonly', addedHere, theirs, null)
  assert.ok(r.kind === 'apply' && r.action.type === 'pull')
  // Only the mode changed here: a newer remote with the same bytes is metadata only.
  const modeOnly = file('x', 1, { a: 1, b: 1 }, { mode: 0o600 })
  const m = decide('receiveonly', modeOnly, file('x', 1, { b: 2 }), base)
  assert.ok(m.kind === 'apply' && m.action.type === 'pull' && m.action.isMetadataOnly)
})

test('revertAction puts the cluster record back, or removes a local addition', () => {
  const base = file('x', 1, { b: 1 })
  const edited = file('x', 5, { a: 1, b: 1 }, { modifiedBy: A })
  assert.equal(revertAction(edited, base, EMPTY), { type: 'pull', remote: base, local: edited, record: base, isMetadataOnly: false })
  const deleted = gone(base, { a: 1, b: 1 })
  const restored = revertAction(deleted, base, EMPTY)
  assert.ok(restored.type === 'pull' && restored.record === base)
  const added = file('n', 4, { e: 1 }, { modifiedBy: A })
  const removed = revertAction(added, null, EMPTY)
  assert.ok(removed.type === 'delete' && removed.record.isDeleted && removed.record.path === 'n')
  assert.equal(removed.record.vector, added.vector)
  const baseGone = gone(base, { b: 2 })
  const r = revertAction(file('x', 3, { a: 1, b: 2 }), baseGone, EMPTY)
  assert.ok(r.type === 'delete' && r.record === baseGone)
  const same = revertAction(deleted, baseGone, EMPTY)
  assert.ok(same.type === 'adopt' && same.record === baseGone)
})

test('overrideChange and revertChange say what happens to a path', () => {
  const live = file('x', 1, { a: 1 })
  const dead = gone(live, { a: 2 })
  assert.is(overrideChange(live, file('x', 2, { b: 1 })), 'replace')
  assert.is(overrideChange(live, dead), 'restore')
  assert.is(overrideChange(undefined, live), 'delete')
  assert.is(overrideChange(dead, live), 'delete')
  assert.is(overrideChange(undefined, dead), 'index')
  const base = file('x', 1, { b: 1 })
  assert.is(revertChange(revertAction(file('x', 5, { a: 1, b: 1 }), base, EMPTY)), 'replace')
  assert.is(revertChange(revertAction(gone(base, { a: 1, b: 1 }), base, EMPTY)), 'restore')
  assert.is(revertChange(revertAction(file('n', 4, { e: 1 }), null, EMPTY)), 'delete')
  assert.is(revertChange(revertAction(gone(base, { a: 1, b: 1 }), gone(base, { b: 2 }), EMPTY)), 'index')
})

test.run()
