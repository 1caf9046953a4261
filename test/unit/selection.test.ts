import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { Selection, isKnownNews, parseSelectionPatterns, vectorOverKnown } from '../../src/core/selection.js'
import { compareVectors } from '../../src/core/clock.js'
import type { FileRecord } from '../../src/core/types.js'
import { isLansyncError } from '../../src/errors.js'

const cases: Array<[string[], string, 'file' | 'dir', boolean]> = [
  [[], 'anything/at/all.txt', 'file', true],
  [['docs/**'], 'docs/a.txt', 'file', true],
  [['docs/**'], 'docs/deep/er/a.txt', 'file', true],
  [['docs/**'], 'docs', 'dir', true], // the way to what is selected
  [['docs/**'], 'docs/sub', 'dir', true],
  [['docs/**'], 'other/x.txt', 'file', false],
  [['docs/**'], 'other', 'dir', false],
  [['docs/**'], 'docs.txt', 'file', false],
  [['docs/**'], 'a/docs/x.txt', 'file', false], // a pattern with a '/' is anchored at the root
  [['a/b/c/**'], 'a', 'dir', true],
  [['a/b/c/**'], 'a/b', 'dir', true],
  [['a/b/c/**'], 'a/x', 'dir', false],
  [['a/b/c/**'], 'a/file.txt', 'file', false],
  [['photos/2024/'], 'photos/2024/x.jpg', 'file', true],
  [['photos/2024/'], 'photos', 'dir', true],
  [['*.pdf'], 'deep/in/x.pdf', 'file', true],
  [['*.pdf'], 'deep/in/x.txt', 'file', false],
  [['*.pdf'], 'deep', 'dir', true], // could hold a PDF
  [['docs/**', 'notes/todo.txt'], 'notes/todo.txt', 'file', true],
  [['docs/**', 'notes/todo.txt'], 'notes', 'dir', true],
  [['docs/**', 'notes/todo.txt'], 'notes/other.txt', 'file', false],
  [['docs/**', '!docs/big/**'], 'docs/big/x.iso', 'file', false],
  [['docs/**', '!docs/big/**'], 'docs/small.txt', 'file', true]
]

for (const [patterns, path, kind, expected] of cases) {
  test(`Selection ${JSON.stringify(patterns)}: ${path} (${kind}) → ${String(expected)}`, () => {
    assert.is(new Selection(patterns).isSelected(path, kind), expected)
  })
}

test('Selection: paths held always, whatever the patterns', () => {
  const s = new Selection(['docs/**'], { always: ['.lansyncignore'] })
  assert.ok(s.isSelected('.lansyncignore'))
  assert.not.ok(s.isSelected('sub/.lansyncignore'))
  assert.not.ok(new Selection(['docs/**']).isSelected('.lansyncignore'))
})

test('parseSelectionPatterns: refuses what is not a relative pattern, with ARG_INVALID', () => {
  for (const bad of [[], [''], ['  '], ['#x'], ['../up/**'], ['a/../b'], ['a\\b'], ['!'], [3]]) {
    try {
      parseSelectionPatterns(bad as unknown[])
      assert.unreachable(JSON.stringify(bad))
    } catch (err) {
      assert.ok(isLansyncError(err, 'ARG_INVALID'), `${JSON.stringify(bad)}: ${String(err)}`)
    }
  }
  assert.equal(parseSelectionPatterns(['docs/**', ' docs/** ', '*.pdf']), ['docs/**', '*.pdf'])
})

const rec = (vector: Record<string, number>): FileRecord => ({
  path: 'x', kind: 'file', sizeBytes: 0, mtimeMs: 0, mode: 0o644, vector, isDeleted: false, blocks: [], hash: new Uint8Array(32), linkTarget: '', modifiedBy: 'a', sequence: 1
})

test('isKnownNews: a remote version is kept only when newer than (or concurrent with) what is known and what the index has', () => {
  assert.ok(isKnownNews(rec({ a: 1 }), undefined, undefined))
  assert.ok(isKnownNews(rec({ a: 2 }), rec({ a: 1 }), undefined))
  assert.not.ok(isKnownNews(rec({ a: 1 }), rec({ a: 1 }), undefined))
  assert.not.ok(isKnownNews(rec({ a: 1 }), rec({ a: 2 }), undefined))
  assert.not.ok(isKnownNews(rec({ a: 1 }), undefined, rec({ a: 1, b: 1 })))
  assert.ok(isKnownNews(rec({ a: 2 }), rec({ a: 1 }), rec({ a: 1, b: 1 }))) // concurrent with the index
})

test('vectorOverKnown: new content at a known path is concurrent with the known version, and never repeats a vector', () => {
  const known = { a: 3, b: 2 }
  const v = vectorOverKnown(known, 'epoch1', 'b')
  assert.is(compareVectors(v, known), 'concurrent')
  assert.is(v.b, 3)
  // Over this device's own last version it is simply newer.
  assert.is(compareVectors(vectorOverKnown({ epoch1: 1, b: 4 }, 'epoch1', 'b'), { epoch1: 1, b: 4 }), 'after')
})

test.run()
