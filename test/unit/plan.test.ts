import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { planFolder, planPath, needSummary, isCopyNeeded, type Action } from '../../src/core/plan.js'
import { compareVectors, bumpVector } from '../../src/core/clock.js'
import { conflictName, isConflictName } from '../../src/core/conflict.js'
import type { DeviceShort, FileRecord, VersionVector } from '../../src/core/types.js'

const EMPTY = new Uint8Array(32)
const label = (d: DeviceShort): string => d.slice(0, 7).toUpperCase()
const LOCAL = 'aaaaaaaaaaaaaaaa'
const REMOTE = 'bbbbbbbbbbbbbbbb'

function file (path: string, content: number, vector: VersionVector, over: Partial<FileRecord> = {}): FileRecord {
  return {
    path, kind: 'file', sizeBytes: 10 + content, mtimeMs: 1_700_000_000_000, mode: 0o644, vector, isDeleted: false,
    blocks: [{ hash: new Uint8Array([content]), sizeBytes: 10 + content }], hash: new Uint8Array([content]), linkTarget: '',
    modifiedBy: LOCAL, sequence: 1, ...over
  }
}
function dir (path: string, vector: VersionVector, over: Partial<FileRecord> = {}): FileRecord {
  return file(path, 0, vector, { kind: 'dir', sizeBytes: 0, blocks: [], hash: EMPTY, mode: 0o755, ...over })
}
function link (path: string, target: string, vector: VersionVector, over: Partial<FileRecord> = {}): FileRecord {
  return file(path, 0, vector, { kind: 'symlink', sizeBytes: 0, blocks: [], hash: EMPTY, linkTarget: target, mode: 0o777, ...over })
}
function gone (r: FileRecord, vector: VersionVector, over: Partial<FileRecord> = {}): FileRecord {
  return { ...r, vector, isDeleted: true, sizeBytes: 0, blocks: [], hash: EMPTY, linkTarget: '', ...over }
}
function plan1 (local: FileRecord | undefined, remote: FileRecord): Action | undefined {
  const actions = planFolder({ local: p => p === remote.path ? local : undefined, remote: [remote], localDevice: LOCAL, deviceLabel: label })
  assert.ok(actions.length <= 1)
  return actions[0]
}
const dominates = (v: VersionVector, ...others: VersionVector[]): boolean =>
  others.every(o => ['after', 'equal'].includes(compareVectors(v, o)))

// --- Remote newer, no local record, local newer ---

test('no local record: a live remote record is pulled, a tombstone adopted', () => {
  const r = file('a.txt', 1, { b: 1 })
  assert.equal(plan1(undefined, r), { type: 'pull', remote: r, local: undefined, record: r, isMetadataOnly: false })
  const t = gone(r, { b: 2 })
  assert.equal(plan1(undefined, t), { type: 'adopt', remote: t, local: undefined, record: t })
})

test('local newer or equal: nothing, whatever the content says', () => {
  assert.is(plan1(file('a', 1, { a: 2 }), file('a', 2, { a: 1 })), undefined)
  assert.is(plan1(file('a', 1, { a: 2 }), file('a', 1, { a: 2 })), undefined)
  assert.is(plan1(gone(file('a', 1, {}), { a: 3, b: 1 }), file('a', 2, { b: 1 })), undefined)
})

test('equal vectors, different bytes (two copies given one name): a conflict, both kept, the same everywhere', () => {
  const path = 'a.sync-conflict-20261130-182538-AAAAAAA.txt'
  const x = { ...file(path, 1, { a: 1 }), mtimeMs: 1000 }
  const y = { ...file(path, 2, { a: 1 }), mtimeMs: 1500 }
  const onX = planPath(x, y, LOCAL, short => short.slice(0, 7)) as any
  const onY = planPath(y, x, REMOTE, short => short.slice(0, 7)) as any
  assert.is(onX.type, 'conflict')
  assert.is(onY.type, 'conflict')
  assert.is(onX.winner, 'remote', 'the newer one keeps the name')
  assert.is(onY.winner, 'local')
  assert.is(onX.copy.path, onY.copy.path, 'the loser gets one new name on both devices')
  assert.is.not(onX.copy.path, path)
  assert.equal(onX.copy.hash, x.hash)
  assert.equal(onX.copy.vector, onY.copy.vector)
  // Only for live files with other bytes: equal vectors otherwise still mean nothing to do.
  assert.is(planPath(x, { ...x, mtimeMs: 5 }, LOCAL, s => s), undefined)
})

test('remote newer: pull new content, kind changes, metadata-only changes', () => {
  const local = file('a', 1, { a: 1 })
  const cases: Array<[string, FileRecord, boolean]> = [
    ['content', file('a', 2, { a: 1, b: 2 }), false],
    ['mode only', file('a', 1, { a: 1, b: 2 }, { mode: 0o600 }), true],
    ['mtime only', file('a', 1, { a: 1, b: 2 }, { mtimeMs: 5 }), true],
    ['file to dir', dir('a', { a: 1, b: 2 }), false],
    ['file to symlink', link('a', 't', { a: 1, b: 2 }), false]
  ]
  for (const [name, remote, isMetadataOnly] of cases) {
    assert.equal(plan1(local, remote), { type: 'pull', remote, local, record: remote, isMetadataOnly }, name)
  }
  // A previously deleted path comes back.
  const t = gone(local, { a: 2 })
  const back = file('a', 3, { a: 2, b: 3 })
  assert.equal(plan1(t, back), { type: 'pull', remote: back, local: t, record: back, isMetadataOnly: false })
})

test('remote newer with the same state: only the vector is adopted', () => {
  const cases: Array<[FileRecord, FileRecord]> = [
    [file('a', 1, { a: 1 }), file('a', 1, { a: 1, b: 2 }, { modifiedBy: REMOTE })],
    [dir('d', { a: 1 }), dir('d', { a: 1, b: 2 }, { mtimeMs: 42 })], // a dir's mtime does not count
    [link('l', 't', { a: 1 }), link('l', 't', { a: 1, b: 3 }, { mtimeMs: 42 })],
    [gone(file('a', 1, {}), { a: 1 }), gone(file('a', 2, {}), { a: 1, b: 2 })]
  ]
  for (const [local, remote] of cases) {
    assert.equal(plan1(local, remote), { type: 'adopt', remote, local, record: remote })
  }
})

test('remote tombstone newer: delete; a directory carries the record to keep if it still holds files', () => {
  const f = file('a', 1, { a: 1 })
  const t = gone(f, { a: 1, b: 2 }, { modifiedBy: REMOTE })
  assert.equal(plan1(f, t), { type: 'delete', remote: t, local: f, record: t })

  const d = dir('d', { a: 1 })
  const dt = gone(d, { a: 1, b: 2 }, { modifiedBy: REMOTE })
  const action = plan1(d, dt)
  assert.ok(action?.type === 'delete')
  if (action?.type !== 'delete') return
  const keep = action.keepIfNotEmpty
  assert.ok(keep !== undefined)
  if (keep === undefined) return
  assert.is(keep.isDeleted, false)
  assert.is(keep.kind, 'dir')
  assert.is(keep.modifiedBy, LOCAL)
  // Strictly newer than the tombstone: a peer holding the tombstone recreates the directory.
  assert.is(compareVectors(keep.vector, dt.vector), 'after')
  assert.equal(plan1(dt, { ...keep, modifiedBy: LOCAL }), { type: 'pull', remote: keep, local: dt, record: keep, isMetadataOnly: false })
})

// --- Concurrent ---
// Vectors here use the real device keys, since resolutions bump the local device's counter.
const L = LOCAL
const R = REMOTE

test('concurrent, same content: adopt the merged vector with the winner\'s metadata, no bump', () => {
  const local = file('a', 1, { [L]: 2 }, { mtimeMs: 5000, modifiedBy: L })
  const remote = file('a', 1, { [R]: 2 }, { mtimeMs: 5000, modifiedBy: R })
  const action = plan1(local, remote)
  assert.equal(action, { type: 'adopt', remote, local, record: { ...remote, vector: { [L]: 2, [R]: 2 } } })
})

test('concurrent, same bytes but other metadata: the winner\'s metadata, no conflict copy', () => {
  const local = file('a', 1, { [L]: 2 }, { mtimeMs: 5000, mode: 0o600 })
  const newerRemote = file('a', 1, { [R]: 2 }, { mtimeMs: 6000, modifiedBy: R })
  // A resolution between different states is a new event here: merged, then bumped by us.
  const resolved = { [L]: 3, [R]: 2 }
  assert.equal(plan1(local, newerRemote), { type: 'pull', remote: newerRemote, local, record: { ...newerRemote, vector: resolved }, isMetadataOnly: true })
  const olderRemote = file('a', 1, { [R]: 2 }, { mtimeMs: 4000, modifiedBy: R })
  assert.equal(plan1(local, olderRemote), { type: 'announce', remote: olderRemote, local, record: { ...local, vector: resolved } })
  // Two directories with other modes: no conflict copy of a directory, ever.
  const d1 = dir('d', { [L]: 1 }, { mode: 0o700, mtimeMs: 1 })
  const d2 = dir('d', { [R]: 1 }, { mode: 0o755, mtimeMs: 2, modifiedBy: R })
  assert.equal(plan1(d1, d2), { type: 'pull', remote: d2, local: d1, record: { ...d2, vector: { [L]: 2, [R]: 1 } }, isMetadataOnly: true })
})

test('concurrent, both deleted: adopt', () => {
  const local = gone(file('a', 1, {}), { [L]: 2 }, { mtimeMs: 1 })
  const remote = gone(file('a', 1, {}), { [R]: 2 }, { mtimeMs: 2, modifiedBy: R })
  assert.equal(plan1(local, remote), { type: 'adopt', remote, local, record: { ...remote, vector: { [L]: 2, [R]: 2 } } })
})

test('delete vs edit: the edit wins on both sides, even when the delete is newer', () => {
  const edit = file('a', 7, { [L]: 1, [R]: 2 }, { modifiedBy: R, mtimeMs: 1000 })
  const tomb = gone(file('a', 1, {}), { [L]: 2 }, { mtimeMs: 9000 })
  const resolved = { [L]: 3, [R]: 2 }
  // The edit is remote: pull it, with a vector that dominates our tombstone.
  assert.equal(plan1(tomb, edit), { type: 'pull', remote: edit, local: tomb, record: { ...edit, vector: resolved }, isMetadataOnly: false })
  // The edit is local: announce it so the peer pulls it.
  const localEdit = { ...edit, modifiedBy: L }
  const remoteTomb = { ...tomb, modifiedBy: R }
  assert.equal(plan1(localEdit, remoteTomb), { type: 'announce', remote: remoteTomb, local: localEdit, record: { ...localEdit, vector: resolved } })
  // A directory changed here (mode) against a remote delete: kept.
  const d = dir('d', { [L]: 2 })
  const dt = gone(dir('d', {}), { [R]: 2 }, { modifiedBy: R, mtimeMs: 9e12 })
  assert.is(plan1(d, dt)?.type, 'announce')
})

test('concurrent edits: newer mtime wins, the loser becomes a conflict copy named by its mtime and device', () => {
  const t = Date.UTC(2026, 10, 25, 10, 15, 0)
  const local = file('a/b/report.final.pdf', 1, { [LOCAL]: 2, [REMOTE]: 1 }, { mtimeMs: t, modifiedBy: LOCAL, sequence: 17 })
  const remote = file('a/b/report.final.pdf', 2, { [LOCAL]: 1, [REMOTE]: 2 }, { mtimeMs: t + 1000, modifiedBy: REMOTE })
  const resolved = { [LOCAL]: 3, [REMOTE]: 2 }
  assert.equal(plan1(local, remote), {
    type: 'conflict',
    winner: 'remote',
    remote,
    local,
    record: { ...remote, vector: resolved },
    loser: local,
    conflictPath: 'a/b/report.final.sync-conflict-20261125-101500-AAAAAAA.pdf',
    // The copy's vector names only its author: the same on every device that makes this copy.
    copy: { ...local, path: 'a/b/report.final.sync-conflict-20261125-101500-AAAAAAA.pdf', vector: { [LOCAL]: 1 }, sequence: 0 }
  })
  const olderRemote = { ...remote, mtimeMs: t - 1000 }
  const action = plan1(local, olderRemote)
  assert.ok(action?.type === 'conflict' && action.winner === 'local')
  if (action?.type !== 'conflict') return
  assert.equal(action.record, { ...local, vector: resolved })
  assert.equal(action.loser, olderRemote)
  assert.equal(action.copy?.vector, { [REMOTE]: 1 })
  assert.is(action.conflictPath, 'a/b/report.final.sync-conflict-20261125-101459-BBBBBBB.pdf')
})

test('concurrent edits with equal mtimes: the larger device wins', () => {
  const local = file('x', 1, { a: 2 }, { mtimeMs: 7, modifiedBy: LOCAL })
  const remote = file('x', 2, { b: 2 }, { mtimeMs: 7, modifiedBy: REMOTE })
  const action = plan1(local, remote)
  assert.ok(action?.type === 'conflict' && action.winner === 'remote')
  const action2 = planPath(remote, local, REMOTE, label)
  assert.ok(action2?.type === 'conflict' && action2.winner === 'local')
})

test('directory vs file: the directory keeps the path, the file becomes a conflict copy', () => {
  const localDir = dir('p', { a: 2 }, { mtimeMs: 1 })
  const remoteFile = file('p', 3, { b: 2 }, { mtimeMs: 9000, modifiedBy: REMOTE })
  const here = plan1(localDir, remoteFile)
  assert.ok(here?.type === 'conflict' && here.winner === 'local' && here.loser === remoteFile)
  // And on the other device, the directory comes in (shallow-first phase) after the file is kept aside.
  const there = planPath(remoteFile, localDir, REMOTE, label)
  assert.ok(there?.type === 'conflict' && there.winner === 'remote' && there.loser === remoteFile)
  if (here?.type !== 'conflict' || there?.type !== 'conflict') return
  // Both devices keep the same state; their two resolutions then only merge vectors.
  assert.equal({ ...here.record, vector: {} }, { ...there.record, vector: {} })
  assert.is(planPath(here.record, there.record, LOCAL, label)?.type, 'adopt')
  assert.is(here.conflictPath, there.conflictPath)
  assert.ok(isConflictName(here.conflictPath))
})

test('symlink vs file: an ordinary conflict; a symlink loser is kept as a symlink copy', () => {
  const l = link('s', 'target', { a: 2 }, { mtimeMs: 1000 })
  const f = file('s', 4, { b: 2 }, { mtimeMs: 2000, modifiedBy: REMOTE })
  const action = plan1(l, f)
  assert.ok(action?.type === 'conflict' && action.winner === 'remote')
  if (action?.type !== 'conflict') return
  assert.is(action.loser.kind, 'symlink')
  assert.is(action.loser.linkTarget, 'target')
  // Two symlinks with other targets conflict too.
  const l2 = link('s', 'elsewhere', { b: 2 }, { mtimeMs: 500, modifiedBy: REMOTE })
  const a2 = plan1(l, l2)
  assert.ok(a2?.type === 'conflict' && a2.winner === 'local')
})

test('a conflict on a conflict copy does not grow the name', () => {
  const path = 'r.sync-conflict-20250101-000000-CCCCCCC.txt'
  const local = file(path, 1, { a: 2 }, { mtimeMs: Date.UTC(2026, 0, 1) })
  const remote = file(path, 2, { b: 2 }, { mtimeMs: Date.UTC(2026, 0, 2), modifiedBy: REMOTE })
  const action = plan1(local, remote)
  assert.ok(action?.type === 'conflict')
  if (action?.type !== 'conflict') return
  assert.is(action.conflictPath, 'r.sync-conflict-20260101-000000-AAAAAAA.txt')
})

// --- Resolution is the same on both devices ---

const devices = ['a', 'b', 'c']
const vector = fc.dictionary(fc.constantFrom(...devices), fc.integer({ min: 1, max: 4 }), { maxKeys: 3 })
const arbRecord = (path: string): fc.Arbitrary<FileRecord> => fc.record({
  kind: fc.constantFrom<'file' | 'dir' | 'symlink'>('file', 'dir', 'symlink'),
  content: fc.integer({ min: 1, max: 3 }),
  isDeleted: fc.boolean(),
  mtimeMs: fc.constantFrom(0, 1000, 2000),
  mode: fc.constantFrom(0o644, 0o600),
  modifiedBy: fc.constantFrom(...devices),
  vector
}).map(({ kind, content, isDeleted, vector: drawn, ...over }) => {
  // As in real records, the author has a counter in the vector.
  const vector = { ...drawn, [over.modifiedBy]: drawn[over.modifiedBy] ?? 1 }
  let r = kind === 'file' ? file(path, content, vector, over) : kind === 'dir' ? dir(path, vector, over) : link(path, `t${content}`, vector, over)
  if (isDeleted) r = gone(r, vector)
  return r
})

test('property: two devices planning the same pair reach the same record, loser and copy name', () => {
  fc.assert(fc.property(arbRecord('p/x.txt'), arbRecord('p/x.txt'), (x, y) => {
    const onX = planPath(x, y, 'a', label)
    const onY = planPath(y, x, 'b', label)
    const order = compareVectors(x.vector, y.vector)
    // Equal vectors are nothing to do, unless both are files with other bytes (then a conflict, below).
    const isLiveFiles = !x.isDeleted && !y.isDeleted && x.kind === 'file' && y.kind === 'file'
    const isEqualButDifferent = order === 'equal' && isLiveFiles && Buffer.compare(x.hash, y.hash) !== 0
    if (order === 'equal' && !isEqualButDifferent) { assert.is(onX, undefined); assert.is(onY, undefined); return }
    if (order !== 'concurrent' && !isEqualButDifferent) return
    assert.ok(onX !== undefined && onY !== undefined)
    if (onX === undefined || onY === undefined) return
    // The same state on both devices (vectors differ only by who resolved).
    assert.equal({ ...onX.record, vector: {} }, { ...onY.record, vector: {} })
    assert.ok(dominates(onX.record.vector, x.vector, y.vector))
    assert.ok(dominates(onY.record.vector, x.vector, y.vector))
    assert.is(onX.type === 'conflict', onY.type === 'conflict')
    if (onX.type === 'conflict' && onY.type === 'conflict') {
      assert.is.not(onX.winner, onY.winner)
      assert.equal(onX.loser, onY.loser)
      assert.is(onX.conflictPath, onY.conflictPath)
      // The copy is the same record on both devices, so the two copies never conflict with each other.
      assert.equal(onX.copy, onY.copy)
      assert.equal(onX.copy, { ...onX.loser, path: onX.conflictPath, vector: { [onX.loser.modifiedBy]: 1 }, sequence: 0 })
      assert.is.not(onX.loser.kind, 'dir')
      assert.not.ok(onX.loser.isDeleted)
    }
    // After both applied their resolution, one more exchange merges the vectors and ends it.
    if (onX.type === 'adopt') {
      // Same state: merged only, so both devices already hold the identical record.
      assert.equal(onX.record, onY.record)
      assert.is(planPath(onX.record, onY.record, 'a', label), undefined)
      return
    }
    const onXAgain = planPath(onX.record, onY.record, 'a', label)
    assert.is(onXAgain?.type, 'adopt')
    if (onXAgain === undefined) return
    const onYAgain = planPath(onY.record, onXAgain.record, 'b', label)
    assert.is(onYAgain?.type, 'adopt')
    assert.equal(onYAgain?.record, onXAgain.record)
    assert.is(planPath(onXAgain.record, onYAgain?.record ?? onXAgain.record, 'a', label), undefined)
  }), { numRuns: 300 })
})

// --- Batches: order, duplicates, lookups, summary ---

test('batch order: dirs shallow-first, then files, then removals deepest-first', () => {
  const v = { a: 1, b: 5 }
  const local = new Map<string, FileRecord>([
    ['old', dir('old', { a: 1 })],
    ['old/sub', dir('old/sub', { a: 1 })],
    ['old/sub/f', file('old/sub/f', 1, { a: 1 })],
    ['old/g', file('old/g', 1, { a: 1 })],
    ['was-dir', dir('was-dir', { a: 1 })],
    ['was-file', file('was-file', 1, { a: 1 })]
  ])
  const remote = [
    gone(local.get('old')!, v),
    file('new/deep/x', 1, v),
    gone(local.get('old/g')!, v),
    dir('new/deep', v),
    gone(local.get('old/sub/f')!, v),
    file('top', 2, v),
    dir('new', v),
    link('was-dir', 'x', v), // a directory replaced by a symlink goes with the removals
    dir('was-file', v), // a file replaced by a directory goes with the directories
    gone(local.get('old/sub')!, v)
  ]
  const seen: string[] = []
  const actions = planFolder({ local: p => { seen.push(p); return local.get(p) }, remote, localDevice: LOCAL, deviceLabel: label })
  assert.equal(actions.map(a => `${a.type} ${a.record.path}`), [
    'pull new', 'pull was-file', 'pull new/deep',
    'pull new/deep/x', 'pull top',
    'delete old/sub/f', 'delete old/g', 'delete old/sub', 'delete old', 'pull was-dir'
  ])
  // The local side is only asked about the batch's paths, once each.
  assert.equal(seen.sort(), remote.map(r => r.path).sort())
})

test('property: applying a batch in the returned order never writes under a missing dir or removes a non-empty one', () => {
  const names = ['a', 'a/b', 'a/b/c', 'd', 'd/e']
  const state = fc.array(fc.constantFrom('none', 'file', 'dir', 'gone'), { minLength: names.length, maxLength: names.length })
  fc.assert(fc.property(state, state, fc.boolean(), (before, after, reverse) => {
    // Only consistent trees: a live entry needs a live directory parent.
    const valid = (s: string[]): boolean => names.every((n, i) => {
      if (s[i] !== 'file' && s[i] !== 'dir') return true
      const parent = names.indexOf(n.slice(0, n.lastIndexOf('/')))
      return parent === -1 || s[parent] === 'dir'
    })
    // The peer knows every path we know (it sends a tombstone, never silence, for what it removed).
    fc.pre(valid(before) && valid(after) && before.every((s, i) => s === 'none' || after[i] !== 'none'))
    const make = (n: string, s: string, v: VersionVector): FileRecord | undefined =>
      s === 'file' ? file(n, 1, v) : s === 'dir' ? dir(n, v) : s === 'gone' ? gone(file(n, 1, {}), v) : undefined
    const local = new Map<string, FileRecord>()
    const disk = new Map<string, string>()
    names.forEach((n, i) => {
      const r = make(n, before[i], { a: 1 })
      if (r !== undefined) local.set(n, r)
      if (before[i] === 'file' || before[i] === 'dir') disk.set(n, before[i])
    })
    let remote = names.flatMap((n, i) => { const r = make(n, after[i], { a: 1, b: 2 }); return r === undefined ? [] : [r] })
    if (reverse) remote = remote.reverse()
    const actions = planFolder({ local: p => local.get(p), remote, localDevice: LOCAL, deviceLabel: label })
    for (const action of actions) {
      const p = action.record.path
      const parent = p.includes('/') ? p.slice(0, p.lastIndexOf('/')) : ''
      if (action.type === 'pull' || action.type === 'delete') {
        const isRemoval = action.type === 'delete' || (disk.get(p) === 'dir' && action.record.kind !== 'dir')
        if (isRemoval && disk.get(p) === 'dir') {
          assert.not.ok([...disk.keys()].some(k => k.startsWith(p + '/')), `removing non-empty ${p}`)
        }
        if (action.type === 'delete') disk.delete(p)
        else {
          if (parent !== '') assert.is(disk.get(parent), 'dir', `${p} written before its parent`)
          disk.set(p, action.record.kind)
        }
      }
    }
  }), { numRuns: 200 })
})

test('a path listed twice in a batch counts once, with its last record', () => {
  const local = file('a', 1, { a: 1 })
  const first = file('a', 2, { a: 1, b: 2 })
  const second = file('a', 3, { a: 1, b: 3 })
  const actions = planFolder({ local: p => p === 'a' ? local : undefined, remote: [first, file('z', 1, { b: 1 }), second], localDevice: LOCAL, deviceLabel: label })
  assert.equal(actions.map(a => a.record), [second, file('z', 1, { b: 1 })])
})

test('a conflict copy already made, or deleted or edited since, is not made again', () => {
  const local = file('x', 1, { [LOCAL]: 2 }, { mtimeMs: 2000 })
  const remote = file('x', 2, { [LOCAL]: 1, [REMOTE]: 3 }, { mtimeMs: 1000, modifiedBy: REMOTE })
  const copyPath = 'x.sync-conflict-19700101-000001-BBBBBBB'
  const copy = { ...remote, path: copyPath, vector: { [REMOTE]: 1 }, sequence: 0 }
  const plan = (atCopy: FileRecord | undefined): Action[] =>
    planFolder({ local: p => p === 'x' ? local : p === copyPath ? atCopy : undefined, remote: [remote], localDevice: LOCAL, deviceLabel: label })
  const first = plan(undefined)[0]
  assert.ok(first.type === 'conflict')
  if (first.type !== 'conflict') return
  assert.equal(first.copy, copy)
  const cases: Array<[string, FileRecord, boolean]> = [
    ['the same copy', copy, false],
    ['the same bytes from elsewhere', { ...copy, vector: { c: 9 } }, false],
    ['deleted since', gone(copy, bumpVector(copy.vector, LOCAL)), false],
    ['edited since', file(copyPath, 9, bumpVector(copy.vector, 'c')), false],
    ['edited by its author since', file(copyPath, 9, bumpVector(copy.vector, REMOTE)), false],
    ['an unrelated tombstone', gone(copy, { c: 1 }), true],
    ['an unrelated file (the applier will refuse to overwrite it)', file(copyPath, 5, { c: 1 }), true]
  ]
  for (const [name, atCopy, isNeeded] of cases) {
    assert.is(isCopyNeeded(copy, atCopy), isNeeded, name)
    const action = plan(atCopy)[0]
    assert.ok(action.type === 'conflict', name)
    if (action.type === 'conflict') assert.equal(action.copy, isNeeded ? copy : undefined, name)
  }
  // Without a lookup the planner cannot know: the copy is always given (the applier checks).
  const bare = planPath(local, remote, LOCAL, label)
  assert.ok(bare?.type === 'conflict' && bare.copy !== undefined)
})

test('needSummary counts content to fetch: pulls of files, the remote side of conflicts', () => {
  const localFile = file('c', 1, { a: 2 }, { mtimeMs: 1 })
  const madeCopy = file('j.sync-conflict-19700101-000000-BBBBBBB', 8, { b: 2 })
  const index: Record<string, FileRecord> = {
    m: file('m', 1, { a: 1 }),
    c: localFile,
    d: file('d', 1, { a: 1 }),
    k: { ...localFile, path: 'k' },
    j: { ...localFile, path: 'j' },
    [madeCopy.path]: madeCopy
  }
  const actions = planFolder({
    local: p => index[p],
    remote: [
      file('j', 8, { b: 2 }, { mtimeMs: 0, modifiedBy: REMOTE }), // local wins, the copy is here already
      file('n', 5, { b: 1 }), // new file: 15 bytes
      file('m', 1, { a: 1, b: 2 }, { mode: 0o600 }), // metadata only: nothing to fetch
      file('c', 6, { b: 2 }, { mtimeMs: 2, modifiedBy: REMOTE }), // remote wins: 16 bytes
      file('k', 7, { b: 2 }, { mtimeMs: 0, modifiedBy: REMOTE }), // local wins: the copy needs 17 bytes
      dir('e', { b: 1 }),
      gone(file('d', 1, {}), { a: 1, b: 2 })
    ],
    localDevice: LOCAL,
    deviceLabel: label
  })
  assert.equal(needSummary(actions), { files: 3, bytes: 15 + 16 + 17 })
  assert.equal(needSummary([]), { files: 0, bytes: 0 })
})

// --- Convergence: devices editing offline and exchanging manifests in random orders ---

interface Device { id: DeviceShort, records: Map<string, FileRecord>, clockOffsetMs: number }
interface World {
  devices: Device[]
  clockMs: number
  nextContent: number
  written: Set<string>
  /** Contents a user replaced or deleted while looking at them: causally superseded, not lost. */
  superseded: Set<string>
  /** Every version a user made, per path: the converged record must have seen all of them. */
  versions: Array<{ path: string, vector: VersionVector }>
}

type Step =
  | { kind: 'write' | 'symlink' | 'mkdir' | 'chmod' | 'delete', device: number, pick: number }
  | { kind: 'sync', link: number, isBatch: boolean, isMutual: boolean }

const POOL = ['a.txt', 'b', 'd/c.md']
const IDS = ['1aaaaaaa00000000', '2bbbbbbb00000000', '3ccccccc00000000']
// Device clocks disagree (so mtimes do not follow causality), but never land on the same second:
// the world clock moves 3 s per step and the offsets differ modulo 3 s.
const CLOCK_OFFSETS_MS = [0, -38_000, 26_000]

function contentKey (r: FileRecord): string | undefined {
  if (r.isDeleted || r.kind === 'dir') return undefined
  return r.kind === 'symlink' ? `L:${r.linkTarget}` : `F:${Buffer.from(r.hash).toString('hex')}`
}

function userStep (w: World, step: Extract<Step, { device: number }>): void {
  const d = w.devices[step.device % w.devices.length]
  const live = [...d.records.values()].filter(r => !r.isDeleted).map(r => r.path)
  const paths = [...new Set([...POOL, ...live])].sort()
  const path = paths[step.pick % paths.length]
  const prev = d.records.get(path)
  const isLive = prev !== undefined && !prev.isDeleted
  w.clockMs += 3000
  const base = { path, vector: bumpVector(prev?.vector ?? {}, d.id), modifiedBy: d.id, mtimeMs: w.clockMs + d.clockOffsetMs, sequence: 0 }
  let next: FileRecord
  switch (step.kind) {
    case 'write': {
      const n = w.nextContent++
      next = file(path, 0, base.vector, { ...base, hash: new Uint8Array([n >> 8, n & 255]), sizeBytes: n })
      break
    }
    case 'symlink': next = link(path, `target-${w.nextContent++}`, base.vector, base); break
    case 'mkdir': next = dir(path, base.vector, base); break
    case 'chmod':
      if (!isLive) return
      next = { ...prev, ...base, mode: prev.mode ^ 0o100 }
      break
    case 'delete':
      if (!isLive) return
      next = gone(prev, base.vector, base)
      break
  }
  if (isLive && step.kind !== 'chmod') {
    const old = contentKey(prev)
    if (old !== undefined) w.superseded.add(old)
  }
  const key = contentKey(next)
  if (key !== undefined) w.written.add(key)
  w.versions.push({ path, vector: next.vector })
  d.records.set(path, next)
}

/** `to` plans `remote` (a peer's whole manifest) and applies the result, as the puller does. */
function exchange (remote: FileRecord[], to: Device, isBatch: boolean): void {
  if (isBatch) {
    const actions = planFolder({ local: p => to.records.get(p), remote, localDevice: to.id, deviceLabel: label })
    // Like the applier: an action planned on a state that moved meanwhile is skipped (re-planned later).
    for (const action of actions) if (to.records.get(action.record.path) === action.local) apply(to, action)
  } else {
    for (const r of remote) {
      for (const action of planFolder({ local: p => to.records.get(p), remote: [r], localDevice: to.id, deviceLabel: label })) apply(to, action)
    }
  }
}

/** One direction, or both at once: each side plans the other's manifest as it was before either applied anything. */
function sync (x: Device, y: Device, isBatch: boolean, isMutual: boolean): void {
  const fromX = [...x.records.values()]
  const fromY = [...y.records.values()]
  exchange(fromX, y, isBatch)
  if (isMutual) exchange(fromY, x, isBatch)
}

function apply (to: Device, action: Action): void {
  if (action.type === 'conflict' && action.copy !== undefined) {
    // Like the applier: re-checked against the index as it is now (a batch may have moved it).
    const existing = to.records.get(action.conflictPath)
    if (isCopyNeeded(action.copy, existing)) {
      // Never over another live file: that would be data loss (the applier refuses it).
      assert.ok(existing === undefined || existing.isDeleted, `conflict copy ${action.conflictPath} collides`)
      to.records.set(action.conflictPath, action.copy)
    }
  }
  to.records.set(action.record.path, action.record)
}

function canonical (d: Device): string {
  const rows = [...d.records.values()].sort((x, y) => x.path < y.path ? -1 : 1).map(r => JSON.stringify({
    ...r,
    sequence: 0,
    hash: Buffer.from(r.hash).toString('hex'),
    blocks: r.blocks.map(b => [Buffer.from(b.hash).toString('hex'), b.sizeBytes]),
    vector: Object.entries(r.vector).sort()
  }))
  return rows.join('\n')
}

function runWorld (deviceCount: number, links: Array<[number, number]>, steps: Step[], finalOrder: number[]): World {
  const w: World = {
    devices: IDS.slice(0, deviceCount).map((id, i) => ({ id, records: new Map(), clockOffsetMs: CLOCK_OFFSETS_MS[i] })),
    clockMs: Date.UTC(2026, 0, 1),
    nextContent: 1,
    written: new Set(),
    superseded: new Set(),
    versions: []
  }
  for (const step of steps) {
    if (step.kind === 'sync') {
      const [x, y] = links[step.link % links.length]
      sync(w.devices[x], w.devices[y], step.isBatch, step.isMutual)
    } else userStep(w, step)
  }
  // Then everyone comes online: exchange along every link, in a random order, until a whole round
  // changes nothing. A bound on rounds catches endless ping-pong.
  const directed = links.flatMap(([x, y]) => [[x, y], [y, x]])
  const order = finalOrder.map(i => directed[i % directed.length])
  for (const pair of directed) if (!order.includes(pair)) order.push(pair)
  for (let round = 0; ; round++) {
    assert.ok(round < 4 * deviceCount + 4, 'no quiescence: the devices keep changing each other')
    const before = w.devices.map(canonical)
    for (const [x, y] of order) sync(w.devices[x], w.devices[y], round % 2 === 0, round % 3 !== 2)
    if (w.devices.every((d, i) => canonical(d) === before[i])) break
  }
  return w
}

function assertConverged (w: World): void {
  const first = canonical(w.devices[0])
  for (const d of w.devices) assert.fixture(canonical(d), first, `device ${d.id} differs`)
  const records = w.devices[0].records
  const live = new Set([...records.values()].map(contentKey).filter(k => k !== undefined))
  for (const key of w.written) {
    assert.ok(live.has(key) || w.superseded.has(key), `edit ${key} was lost`)
  }
  for (const { path, vector } of w.versions) {
    // Each path's final record has seen every version made there, so a later edit anywhere is
    // causally after it (and wins by vector, whatever the device clocks say).
    const final = records.get(path)
    assert.ok(final !== undefined && dominates(final.vector, vector), `${path} forgot a version`)
  }
  for (const r of records.values()) {
    // Conflict copies of conflict copies do not nest.
    assert.ok(r.path.split('.sync-conflict-').length <= 3, r.path)
  }
}

const stepArb = (linkCount: number): fc.Arbitrary<Step> => fc.oneof(
  fc.record({ kind: fc.constantFrom('write', 'write', 'symlink', 'mkdir', 'chmod', 'delete', 'delete') as fc.Arbitrary<'write'>, device: fc.nat(2), pick: fc.nat(7) }),
  fc.record({ kind: fc.constant('sync' as const), link: fc.nat(linkCount - 1), isBatch: fc.boolean(), isMutual: fc.boolean() })
)

const topologies: Array<[string, number, Array<[number, number]>]> = [
  ['2 devices', 2, [[0, 1]]],
  ['3 devices, all linked', 3, [[0, 1], [1, 2], [0, 2]]],
  ['3 devices, chained A-B-C', 3, [[0, 1], [1, 2]]]
]
for (const [name, count, links] of topologies) {
  test(`property: ${name} converge to the same records and lose no edit`, () => {
    fc.assert(fc.property(fc.array(stepArb(links.length), { minLength: 4, maxLength: 40, size: 'max' }), fc.array(fc.nat(5), { maxLength: 6 }), (steps, finalOrder) => {
      assertConverged(runWorld(count, links, steps, finalOrder))
    }), { numRuns: 200 })
  })
}

test('scenario: offline edits on two devices give the same winner and conflict copy on both', () => {
  const w = runWorld(2, [[0, 1]], [
    { kind: 'write', device: 0, pick: 0 }, // a.txt on device 0
    { kind: 'sync', link: 0, isBatch: false, isMutual: false },
    { kind: 'write', device: 0, pick: 0 },
    { kind: 'write', device: 1, pick: 0 } // device 1's clock is 38 s behind: device 0 wins
  ], [1, 0])
  assertConverged(w)
  const paths = [...w.devices[1].records.keys()].sort()
  assert.equal(paths, ['a.sync-conflict-20251231-235931-2BBBBBB.txt', 'a.txt'])
  assert.is(w.devices[1].records.get('a.txt')?.modifiedBy, IDS[0])
})

test('scenario: delete vs edit keeps the edit on every device of a chain', () => {
  const w = runWorld(3, [[0, 1], [1, 2]], [
    { kind: 'write', device: 0, pick: 0 },
    { kind: 'sync', link: 0, isBatch: true, isMutual: false },
    { kind: 'sync', link: 1, isBatch: true, isMutual: false },
    { kind: 'write', device: 2, pick: 0 }, // C edits
    { kind: 'delete', device: 0, pick: 0 } // A deletes later
  ], [0, 1, 2, 3])
  assertConverged(w)
  for (const d of w.devices) {
    const r = d.records.get('a.txt')
    assert.ok(r !== undefined && !r.isDeleted && r.modifiedBy === IDS[2])
    assert.equal([...d.records.keys()], ['a.txt'])
  }
})

test('scenario: a resolution is a new event, so one vector never names two contents', () => {
  // B resolves A's x1 over its own x2; A (which never saw x2) deletes x1; C (which has x2, not x1)
  // meets A's delete first. With merged-only vectors B (x1) and C (x2) would both end at {A:2, B:1}.
  const w = runWorld(3, [[0, 1], [1, 2], [0, 2]], [
    { kind: 'write', device: 0, pick: 0 },
    { kind: 'write', device: 1, pick: 0 },
    { kind: 'sync', link: 1, isBatch: false, isMutual: false }, // B -> C: C has x2
    { kind: 'sync', link: 0, isBatch: false, isMutual: false }, // A -> B: B keeps x1 (newer), copies x2
    { kind: 'delete', device: 0, pick: 0 },
    { kind: 'sync', link: 2, isBatch: false, isMutual: false }, // A -> C: delete vs x2, x2 stays
    { kind: 'sync', link: 0, isBatch: false, isMutual: false } // A -> B: delete vs x1, x1 stays
  ], [])
  assertConverged(w)
  const records = w.devices[2].records
  assert.is(contentKey(records.get('a.txt')!), 'F:0001')
  const copies = [...records.values()].filter(r => isConflictName(r.path))
  assert.equal(copies.map(contentKey), ['F:0002'])
})

test('scenario: two devices resolving the same conflict at once agree, and send nothing more', () => {
  const w = runWorld(2, [[0, 1]], [
    { kind: 'write', device: 0, pick: 0 },
    { kind: 'write', device: 1, pick: 0 },
    { kind: 'sync', link: 0, isBatch: true, isMutual: true }
  ], [])
  assertConverged(w)
  const [x, y] = w.devices
  assert.is(canonical(x), canonical(y))
  assert.equal(planFolder({ local: p => x.records.get(p), remote: [...y.records.values()], localDevice: x.id, deviceLabel: label }), [])
})

test('conflict copies in the simulation are named like conflictName says', () => {
  assert.is(conflictName('a.txt', Date.UTC(2026, 0, 1, 0, 0, 9) - 38_000, label(IDS[1])), 'a.sync-conflict-20251231-235931-2BBBBBB.txt')
})

test.run()
