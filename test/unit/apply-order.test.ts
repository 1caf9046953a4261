import { test } from 'uvu'
import * as assert from 'uvu/assert'
import type { FileRecord } from '../../src/core/types.js'
import { applyOrder, forEachAtOnce, groupAt, GROUP_MAX_BYTES, GROUP_MAX_FILES } from '../../src/sync/apply-order.js'

function rec (path: string, over: Partial<FileRecord> = {}): FileRecord {
  return { path, kind: 'file', sizeBytes: 10, mtimeMs: 0, mode: 0o644, vector: { a: 1 }, isDeleted: false, blocks: [], hash: new Uint8Array(32), linkTarget: '', modifiedBy: 'a', sequence: 1, ...over }
}
const paths = (rs: FileRecord[]): string[] => rs.map(r => r.path)

test('applyOrder: directories shallow first, then files and links, then deletions deepest first', () => {
  const batch = [rec('x/y', { isDeleted: true }), rec('b.txt'), rec('d/e', { kind: 'dir' }), rec('x', { isDeleted: true, kind: 'dir' }), rec('d', { kind: 'dir' }), rec('l', { kind: 'symlink' })]
  assert.equal(paths(applyOrder(batch)), ['d', 'd/e', 'b.txt', 'l', 'x/y', 'x'])
})

test('groupAt: a run of new or changed files whose blocks are in, each path once, within the limits', () => {
  const all = (n: number): boolean[] => Array.from({ length: n }, () => true)
  const files = ['a', 'b', 'c', 'd'].map(p => rec(p))
  assert.equal(paths(groupAt(files, 0, all(4))), ['a', 'b', 'c', 'd'])
  assert.equal(paths(groupAt(files, 1, all(4))), ['b', 'c', 'd'])
  assert.equal(paths(groupAt(files, 0, [true, true, false, true])), ['a', 'b'], 'stops at a file whose blocks are not in yet')
  assert.equal(paths(groupAt([rec('a'), rec('l', { kind: 'symlink' }), rec('b')], 0, all(3))), ['a'], 'stops at a non-file')
  assert.equal(paths(groupAt([rec('a'), rec('b'), rec('a')], 0, all(3))), ['a', 'b'], 'a path repeated ends the group')
  assert.equal(paths(groupAt([rec('a'), rec('g', { isDeleted: true })], 0, all(2))), ['a'], 'deletions are never in a group')
  assert.equal(paths(groupAt([rec('d', { kind: 'dir' }), rec('a')], 0, all(2))), ['d'], 'directories and files never share a group')
  assert.equal(paths(groupAt([rec('d', { kind: 'dir' }), rec('d/e', { kind: 'dir' }), rec('a')], 0, all(3))), ['d', 'd/e'], 'directories that appear group together, in order')
  assert.equal(paths(groupAt([rec('d', { kind: 'dir' }), rec('x', { kind: 'dir', isDeleted: true })], 0, all(2))), ['d'], 'a deleted directory is never in a group')
  assert.equal(paths(groupAt([rec('l', { kind: 'symlink' }), rec('m', { kind: 'symlink' })], 0, all(2))), ['l'], 'links apply alone')
  const big = [rec('a', { sizeBytes: GROUP_MAX_BYTES - 5 }), rec('b', { sizeBytes: 5 }), rec('c', { sizeBytes: 1 })]
  assert.equal(paths(groupAt(big, 0, all(3))), ['a', 'b'], 'bytes bounded')
  assert.equal(paths(groupAt([rec('huge', { sizeBytes: 2 * GROUP_MAX_BYTES })], 0, all(1))), ['huge'], 'the first file is in whatever its size')
  const many = Array.from({ length: GROUP_MAX_FILES + 5 }, (_, i) => rec(`f${i}`))
  assert.is(groupAt(many, 0, all(many.length)).length, GROUP_MAX_FILES, 'files bounded')
})

test('forEachAtOnce: every item once, never more than the limit at a time', async () => {
  let running = 0
  let most = 0
  const done: number[] = []
  await forEachAtOnce(Array.from({ length: 20 }, (_, i) => i), 3, async i => {
    running += 1
    most = Math.max(most, running)
    await new Promise(resolve => setImmediate(resolve))
    done.push(i)
    running -= 1
  })
  assert.equal(done.sort((a, b) => a - b), Array.from({ length: 20 }, (_, i) => i))
  assert.is(most, 3)
})

test.run()
