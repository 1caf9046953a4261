import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { resolve } from 'node:path'
import { isInsideFolder, joinFolderPath, normaliseWirePath, toWirePath } from '../../src/core/paths.js'
import { isLansyncError } from '../../src/errors.js'

const valid: Array<[string, string]> = [
  ['a', 'a'],
  ['a/b/c.txt', 'a/b/c.txt'],
  ['.hidden', '.hidden'],
  ['...', '...'],
  ['a/.lansync', 'a/.lansync'], // only the folder root's marker is reserved
  ['.lansyncignore', '.lansyncignore'],
  ['x.lansync-tmp-1', 'x.lansync-tmp-1'],
  ['caf\u0065\u0301', 'caf\u00e9'], // NFD in, NFC out
  ['日本/ファイル.txt', '日本/ファイル.txt'],
  ['emoji 😀', 'emoji 😀'],
  ['a'.repeat(255), 'a'.repeat(255)],
  ['語'.repeat(255), '語'.repeat(255)], // 765 UTF-8 bytes: a legal NTFS name
  ['del\u007fchar', 'del\u007fchar']
]
for (const [input, expected] of valid) {
  test(`accepts ${JSON.stringify(input).slice(0, 40)}`, () => {
    assert.is(normaliseWirePath(input), expected)
  })
}

const invalid: Array<[string, RegExp]> = [
  ['', /is empty/],
  ['/etc/passwd', /is absolute/],
  ['/', /is absolute/],
  ['.', /'\.' segment/],
  ['..', /'\.\.' segment/],
  ['../x', /'\.\.' segment/],
  ['a/../../x', /'\.\.' segment/],
  ['a/./b', /'\.' segment/],
  ['a//b', /empty segment/],
  ['a/', /ends with \//],
  ['a\\b', /backslash/],
  ['..\\x', /backslash/],
  ['a\u0000b', /NUL/],
  ['a\nb', /control character/],
  ['a\u001fb', /control character/],
  ['bad\ud800', /unpaired surrogate/],
  ['a'.repeat(1025), /longer than 1024 bytes/],
  ['é'.repeat(513), /longer than 1024 bytes/], // 1026 UTF-8 bytes in 513 characters
  [Array(2049).fill('a').join('/'), /longer than 4096 bytes/],
  ['.lansync', /\.lansync directory/],
  ['.lansync/index', /\.lansync directory/],
  ['.LanSync/x', /\.lansync directory/],
  ['.lansync-tmp-123', /temp file/],
  ['dir/.lansync-tmp-abc.part', /temp file/],
  ['dir/.LANSYNC-TMP-abc', /temp file/]
]
for (const [input, pattern] of invalid) {
  test(`rejects ${JSON.stringify(input).slice(0, 40)}`, () => {
    try {
      normaliseWirePath(input)
    } catch (err) {
      assert.ok(isLansyncError(err, 'PATH_INVALID'), String(err))
      assert.match((err as Error).message, pattern)
      assert.ok((err as Error).message.length < 400, 'message stays short')
      return
    }
    assert.unreachable('accepted')
  })
}

test('toWirePath normalises an OS relative path', () => {
  assert.is(toWirePath('a/b'), 'a/b')
  assert.is(toWirePath('caf\u0065\u0301/x'), 'caf\u00e9/x')
  // On POSIX a backslash is part of a name, which the wire cannot carry.
  assert.throws(() => toWirePath('a\\b'), (err: unknown) => isLansyncError(err, 'PATH_INVALID'))
})

test('isInsideFolder is lexical and includes the root itself', () => {
  assert.ok(isInsideFolder('/data/f', '/data/f'))
  assert.ok(isInsideFolder('/data/f', '/data/f/a/b'))
  assert.ok(isInsideFolder('/data/f/', '/data/f/a'))
  assert.ok(isInsideFolder('/data/f', '/data/f/..x'))
  assert.not.ok(isInsideFolder('/data/f', '/data/fx'))
  assert.not.ok(isInsideFolder('/data/f', '/data'))
  assert.not.ok(isInsideFolder('/data/f', '/data/f/../g'))
  assert.not.ok(isInsideFolder('/data/f', '/'))
  assert.throws(() => isInsideFolder('relative', '/x'), TypeError)
})

test('joinFolderPath resolves below the root and refuses anything else', () => {
  assert.is(joinFolderPath('/data/f', 'a/b.txt'), '/data/f/a/b.txt')
  assert.is(joinFolderPath('/data/f/', 'caf\u0065\u0301'), '/data/f/caf\u00e9')
  for (const bad of ['../x', '/etc/passwd', 'a/../../x', '', '.', 'a\u0000']) {
    assert.throws(() => joinFolderPath('/data/f', bad), (err: unknown) => isLansyncError(err, 'PATH_INVALID'), bad)
  }
  assert.throws(() => joinFolderPath('relative/root', 'a'), TypeError)
})

test('accepted paths are fixed points and never escape a root (bounded random check)', () => {
  let seed = 12345
  const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n }
  const parts = ['a', 'b', '.', '..', '', '/', '\\', 'é', 'e\u0301', '\u0000', '.lansync', '.lansync-tmp-', 'x y']
  for (let i = 0; i < 5000; i++) {
    let p = ''
    for (let j = rand(6); j >= 0; j--) p += parts[rand(parts.length)]
    let wire: string
    try { wire = normaliseWirePath(p) } catch (err) {
      assert.ok(isLansyncError(err, 'PATH_INVALID'), String(err))
      continue
    }
    assert.is(normaliseWirePath(wire), wire)
    assert.is(wire, wire.normalize('NFC'))
    const full = joinFolderPath('/root/folder', wire)
    assert.ok(full.startsWith('/root/folder/'), `${p} -> ${full}`)
    // The join is exactly what resolving the segments gives, under any spelling of the root.
    for (const root of ['/root/folder', '/root/folder/', '/root/x/../folder', '/']) {
      assert.is(joinFolderPath(root, wire), resolve(root, ...wire.split('/')), `${root} + ${wire}`)
    }
  }
})

/**
 * normaliseWirePath as it was before its printable-ASCII fast path: every check made on every path.
 * The fast path must give the same answer (the same result, or an error with the same message).
 */
function referenceNormalise (p: string): string {
  const fail = (why: string): never => { throw new Error(`path ${JSON.stringify(p)} ${why}`) }
  if (p === '') fail('is empty')
  if (/[\u0000-\u001f]/.test(p)) fail(p.includes('\u0000') ? 'contains a NUL character' : 'contains a control character')
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(p)) fail('contains an unpaired surrogate (not valid Unicode)')
  if (p.includes('\\')) fail('contains a backslash')
  if (p.startsWith('/')) fail('is absolute')
  const path = p.normalize('NFC')
  if (Buffer.byteLength(path, 'utf8') > 4096) fail('is longer than 4096 bytes')
  const segments = path.split('/')
  for (const [i, segment] of segments.entries()) {
    if (segment === '') fail(i === segments.length - 1 ? 'ends with /' : 'has an empty segment')
    if (segment === '.' || segment === '..') fail(`has a '${segment}' segment`)
    if (Buffer.byteLength(segment, 'utf8') > 1024) fail('has a name longer than 1024 bytes')
    const lower = segment.toLowerCase()
    if (i === 0 && lower === '.lansync') fail('is inside the .lansync directory, which is never synced')
    if (lower.startsWith('.lansync-tmp-')) fail('names a .lansync-tmp- temp file, which is never synced')
  }
  return path
}

test('the printable-ASCII fast path answers as the full checks do (bounded random check)', () => {
  let seed = 777
  const rand = (n: number): number => { seed = (Math.imul(seed, 1103515245) + 12345) >>> 0; return seed % n }
  const parts = ['a', 'Z', ' ', '~', '.', '..', '/', '\\', '\u007f', '\t', '\u0000', 'é', 'e\u0301', '\ud800', '😀', '.LANSYNC', '.lansync-TMP-', 'x'.repeat(1020), 'y'.repeat(700)]
  for (let i = 0; i < 20_000; i++) {
    let p = ''
    for (let j = rand(8); j >= 0; j--) p += parts[rand(parts.length)]
    let expected: string | Error
    try { expected = referenceNormalise(p) } catch (err) { expected = err as Error }
    try {
      const actual = normaliseWirePath(p)
      assert.ok(typeof expected === 'string', `${JSON.stringify(p).slice(0, 80)}: accepted, the full checks refuse it: ${String(expected)}`)
      assert.is(actual, expected)
    } catch (err) {
      if (!isLansyncError(err, 'PATH_INVALID')) throw err
      assert.ok(expected instanceof Error, `${JSON.stringify(p).slice(0, 80)}: refused (${(err as Error).message.slice(0, 120)}), the full checks accept it`)
      // Same reason: the message names the path the same way and ends with the same words.
      assert.ok((err as Error).message.endsWith(expected.message.slice(expected.message.lastIndexOf('" ') + 2)), `${(err as Error).message.slice(-80)} / ${expected.message.slice(-80)}`)
    }
  }
})

test.run()
