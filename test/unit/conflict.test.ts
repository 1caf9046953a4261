import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { chooseWinner, conflictName, conflictOriginal, isConflictName, keptCopyName } from '../../src/core/conflict.js'
import type { FileKind, FileRecord } from '../../src/core/types.js'

const T = Date.UTC(2026, 10, 25, 10, 15, 0) // 2026-11-25 10:15:00 UTC
const S = '.sync-conflict-20261125-101500-ABCDEFG'

const names: Array<[string, string]> = [
  ['a/b/report.final.pdf', `a/b/report.final${S}.pdf`],
  ['report.pdf', `report${S}.pdf`],
  ['README', `README${S}`],
  ['.bashrc', `.bashrc${S}`],
  ['home/.bashrc', `home/.bashrc${S}`],
  ['x/.config.json', `x/.config${S}.json`],
  ['archive.tar.gz', `archive.tar${S}.gz`],
  ['dir.d/Makefile', `dir.d/Makefile${S}`],
  ['trailing.', `trailing.${S}`],
  ['ünï cödé/naïve file.txt', `ünï cödé/naïve file${S}.txt`],
  // Copies of copies are renamed from the original stem: the name does not grow.
  ['a/report.sync-conflict-20250101-000000-XYZ1234.pdf', `a/report${S}.pdf`],
  ['.bashrc.sync-conflict-20250101-000000-XYZ1234', `.bashrc${S}`],
  ['README.sync-conflict-20250101-000000-XYZ1234', `README${S}`],
  // ...unless that gives back the same path: then it grows once rather than colliding with itself.
  [`r${S}.pdf`, `r${S}${S}.pdf`]
]
for (const [path, expected] of names) {
  test(`conflictName ${path}`, () => {
    const name = conflictName(path, T, 'ABCDEFG')
    assert.is(name, expected)
    assert.ok(isConflictName(name))
  })
}

// The original a copy belongs to: the path itself, except for copies of copies (their first original).
const originals: Record<string, string> = {
  'a/report.sync-conflict-20250101-000000-XYZ1234.pdf': 'a/report.pdf',
  '.bashrc.sync-conflict-20250101-000000-XYZ1234': '.bashrc',
  'README.sync-conflict-20250101-000000-XYZ1234': 'README'
}
for (const [path] of names) {
  test(`conflictOriginal of the copy of ${path}`, () => {
    assert.is(conflictOriginal(conflictName(path, T, 'ABCDEFG')), originals[path] ?? path)
  })
}

test('conflictOriginal: paths without a marker have none', () => {
  for (const path of ['a.txt', 'a/b.sync-conflict.txt', 'x.sync-conflict-2026-1-D.txt', '.sync-conflict-20261125-101500-D']) {
    assert.is(conflictOriginal(path), undefined, path)
  }
})

test('keptCopyName: "name (from LABEL).ext" beside the original, numbered when taken, label cleaned', () => {
  assert.is(keptCopyName('d/plan.txt', 'laptop', () => false), 'd/plan (from laptop).txt')
  assert.is(keptCopyName('README', 'a/b.c', () => false), 'README (from abc)')
  assert.is(keptCopyName('.bashrc', '', () => false), '.bashrc (from device)')
  const taken = new Set(['plan (from pc).txt', 'plan (from pc 2).txt'])
  assert.is(keptCopyName('plan.txt', 'pc', p => taken.has(p)), 'plan (from pc 3).txt')
  assert.is(keptCopyName('plan.txt', 'pc', () => true, 5), undefined)
})

test('conflictName: UTC seconds of the loser mtime, milliseconds dropped', () => {
  assert.is(conflictName('f.txt', T + 999, 'D'), 'f.sync-conflict-20261125-101500-D.txt')
  assert.is(conflictName('f.txt', 0, 'D'), 'f.sync-conflict-19700101-000000-D.txt')
  assert.is(conflictName('f.txt', Date.UTC(2024, 1, 29, 23, 59, 59), 'D'), 'f.sync-conflict-20240229-235959-D.txt')
  // Out-of-range or invalid mtimes still give a parseable 8-digit date.
  assert.ok(isConflictName(conflictName('f.txt', -5, 'D')))
  assert.ok(isConflictName(conflictName('f.txt', 1e18, 'D')))
  assert.ok(isConflictName(conflictName('f.txt', Number.NaN, 'D')))
})

test('conflictName: the label can add no separator, dot or NUL', () => {
  assert.is(conflictName('d/f.txt', T, 'AB/C.D E\0'), 'd/f.sync-conflict-20261125-101500-ABCDE.txt')
  assert.is(conflictName('d/f.txt', T, '../..'), 'd/f.sync-conflict-20261125-101500-device.txt')
})

test('isConflictName', () => {
  assert.ok(isConflictName(`a/b${S}.txt`))
  assert.ok(isConflictName(`b${S}`))
  assert.not.ok(isConflictName('a/b.txt'))
  assert.not.ok(isConflictName(`a${S}.txt/b.txt`)) // only the last segment counts
  assert.not.ok(isConflictName('b.sync-conflict-2026-101500-X.txt'))
  assert.not.ok(isConflictName(`b${S}.tar.gz`)) // our copies keep one extension only
})

const segment = fc.stringMatching(/^[a-z.\-]{1,8}$/).filter(s => s !== '.' && s !== '..')
const relPath = fc.array(segment, { minLength: 1, maxLength: 3 }).map(s => s.join('/'))
const label = fc.stringMatching(/^[A-Z0-9]{1,7}$/)
const mtime = fc.integer({ min: 0, max: 4102444800000 })

test('property: a conflict copy stays in the same directory, keeps the extension, and is a conflict name', () => {
  fc.assert(fc.property(relPath, mtime, label, (path, t, l) => {
    const name = conflictName(path, t, l)
    const dir = path.slice(0, path.lastIndexOf('/') + 1)
    assert.ok(name.startsWith(dir))
    assert.not.ok(name.slice(dir.length).includes('/'))
    assert.ok(isConflictName(name))
    assert.is.not(name, path)
    if (!isConflictName(path)) {
      const base = path.slice(dir.length)
      const dot = base.lastIndexOf('.')
      if (dot > 0 && dot < base.length - 1) assert.ok(name.endsWith(base.slice(dot)))
    }
  }), { numRuns: 200 })
})

test('property: copies of copies do not grow', () => {
  fc.assert(fc.property(relPath, mtime, label, mtime, label, (path, t1, l1, t2, l2) => {
    fc.pre(!isConflictName(path))
    const first = conflictName(path, t1, l1)
    const second = conflictName(first, t2, l2)
    if (second !== conflictName(path, t2, l2)) {
      // Only when the second marker is the first one again, to avoid naming the copy like its source.
      assert.is(conflictName(path, t2, l2), first)
    }
    assert.ok(second.length <= first.length * 2)
  }), { numRuns: 200 })
})

const EMPTY = new Uint8Array(32)
function rec (over: Partial<FileRecord>): FileRecord {
  return {
    path: 'f', kind: 'file', sizeBytes: 1, mtimeMs: 1000, mode: 0o644, vector: { a: 1 }, isDeleted: false,
    blocks: [], hash: new Uint8Array([1]), linkTarget: '', modifiedBy: 'a', sequence: 0, ...over
  }
}

test('chooseWinner: the edit beats the delete, a dir beats a file, then mtime, then device', () => {
  const older = rec({ mtimeMs: 1000, modifiedBy: 'z' })
  const newer = rec({ mtimeMs: 2000, modifiedBy: 'a', hash: new Uint8Array([2]) })
  assert.is(chooseWinner(older, newer), 'b')
  assert.is(chooseWinner(newer, older), 'a')
  const small = rec({ modifiedBy: 'aaaa', hash: new Uint8Array([9]) })
  const large = rec({ modifiedBy: 'bbbb', hash: new Uint8Array([1]) })
  assert.is(chooseWinner(small, large), 'b')
  assert.is(chooseWinner(large, small), 'a')
  const tombstone = rec({ isDeleted: true, mtimeMs: 9999, modifiedBy: 'zz', hash: EMPTY })
  assert.is(chooseWinner(tombstone, older), 'b')
  assert.is(chooseWinner(older, tombstone), 'a')
  const dir = rec({ kind: 'dir', mtimeMs: 1, hash: EMPTY, sizeBytes: 0 })
  assert.is(chooseWinner(newer, dir), 'b')
  assert.is(chooseWinner(dir, newer), 'a')
  const link = rec({ kind: 'symlink', linkTarget: 't', hash: EMPTY, mtimeMs: 3000 })
  assert.is(chooseWinner(newer, link), 'b') // symlink vs file: plain mtime order
})

const kind = fc.constantFrom<FileKind>('file', 'dir', 'symlink')
const anyRecord = fc.record({
  kind,
  isDeleted: fc.boolean(),
  mtimeMs: fc.integer({ min: 0, max: 3 }),
  modifiedBy: fc.constantFrom('a', 'b', 'c'),
  hash: fc.constantFrom(new Uint8Array([1]), new Uint8Array([2]), new Uint8Array([1, 0])),
  linkTarget: fc.constantFrom('', 'x'),
  mode: fc.constantFrom(0o644, 0o755)
}).map(r => rec(r))

test('property: chooseWinner is a total order (antisymmetric, transitive)', () => {
  fc.assert(fc.property(anyRecord, anyRecord, anyRecord, (a, b, c) => {
    const ab = chooseWinner(a, b)
    const ba = chooseWinner(b, a)
    if (ab === 'a' && ba === 'a') {
      // Indistinguishable: only when every ranked field is equal.
      assert.equal([a.isDeleted, a.kind, a.mtimeMs, a.modifiedBy, [...a.hash], a.linkTarget, a.mode],
        [b.isDeleted, b.kind, b.mtimeMs, b.modifiedBy, [...b.hash], b.linkTarget, b.mode])
    } else {
      assert.is.not(ab, ba)
    }
    const beats = (x: FileRecord, y: FileRecord): boolean => chooseWinner(x, y) === 'a'
    if (beats(a, b) && beats(b, c)) assert.ok(beats(a, c))
  }), { numRuns: 300 })
})

test.run()
