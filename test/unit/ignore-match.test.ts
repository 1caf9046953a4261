import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { IgnoreMatcher, type RuleSource } from '../../src/core/ignore-match.js'

const BUILT_IN = { markerDir: '.lansync', tempPrefix: '.lansync-tmp-' }
const shared = (text: string): RuleSource => ({ layer: 'shared', file: '.lansyncignore', text })
const local = (text: string): RuleSource => ({ layer: 'local', file: '.lansync/ignore', text })

test('built-in rules: the marker dir and temp files, whatever the user rules say', () => {
  const m = new IgnoreMatcher([shared('!.lansync\n!*')], BUILT_IN)
  for (const p of ['.lansync', '.lansync/ignore', 'a/.lansync-tmp-123']) {
    const v = m.explain(p)
    assert.ok(v.isIgnored, p)
    assert.is(v.layer, 'built-in')
    assert.is(v.line, 0)
  }
  assert.not.ok(m.isIgnored('a/.lansync-other'))
})

test('no rules: nothing ignored, no rule named', () => {
  const m = new IgnoreMatcher([], BUILT_IN)
  assert.equal(m.explain('a/b.txt'), { isIgnored: false })
  assert.not.ok(m.isIgnored('a', true))
})

test('the deciding rule is named with layer, file, line and pattern (comments and blanks count as lines)', () => {
  const m = new IgnoreMatcher([shared('# build output\n\n*.log\nbuild/\n')], BUILT_IN)
  assert.equal(m.explain('x/debug.log'), { isIgnored: true, layer: 'shared', file: '.lansyncignore', line: 3, pattern: '*.log', isNegation: false })
  const dir = m.explain('build', true)
  assert.is(dir.line, 4)
  const under = m.explain('build/out/a.o')
  assert.ok(under.isIgnored)
  assert.is(under.pattern, 'build/')
  assert.is(under.viaDirectory, 'build')
  // A file called `build` is not a directory: `build/` does not match it.
  assert.not.ok(m.isIgnored('build', false))
})

test('local rules apply on top of shared ones: a local ! re-includes a file the shared layer ignores', () => {
  const m = new IgnoreMatcher([shared('*.log\n'), local('!keep.log\nsecret.txt\n')], BUILT_IN)
  assert.not.ok(m.isIgnored('keep.log'))
  assert.equal(m.explain('keep.log'), { isIgnored: false, layer: 'local', file: '.lansync/ignore', line: 1, pattern: '!keep.log', isNegation: true })
  assert.ok(m.isIgnored('other.log'))
  assert.is(m.explain('other.log').layer, 'shared')
  assert.is(m.explain('secret.txt').layer, 'local')
  assert.is(m.explain('secret.txt').line, 2)
})

test('layer order: a local rule wins over a shared negation', () => {
  const m = new IgnoreMatcher([shared('*.log\n!important.log\n'), local('important.log\n')], BUILT_IN)
  assert.ok(m.isIgnored('important.log'))
  assert.is(m.explain('important.log').layer, 'local')
})

test('gitignore: nothing under an ignored directory can be re-included, not even by a local !', () => {
  const m = new IgnoreMatcher([shared('cache/\n'), local('!cache/keep.txt\n')], BUILT_IN)
  assert.ok(m.isIgnored('cache/keep.txt'))
  const v = m.explain('cache/keep.txt')
  assert.is(v.layer, 'shared')
  assert.is(v.viaDirectory, 'cache')
  // With `cache/*` the directory itself is not excluded, so the file can come back.
  const m2 = new IgnoreMatcher([shared('cache/*\n'), local('!cache/keep.txt\n')], BUILT_IN)
  assert.not.ok(m2.isIgnored('cache/keep.txt'))
  assert.ok(m2.isIgnored('cache/other.txt'))
  assert.is(m2.explain('cache/keep.txt').layer, 'local')
})

test('CRLF rule files and anchored patterns', () => {
  const m = new IgnoreMatcher([shared('/top.txt\r\nsub/*.tmp\r\n')], BUILT_IN)
  assert.ok(m.isIgnored('top.txt'))
  assert.not.ok(m.isIgnored('a/top.txt'))
  assert.ok(m.isIgnored('sub/x.tmp'))
  assert.not.ok(m.isIgnored('other/sub/x.tmp'))
  assert.is(m.explain('sub/x.tmp').line, 2)
})

test('a walk of 100,000 paths: verdicts stay right, and what the matcher caches stays bounded', () => {
  const m = new IgnoreMatcher([shared('*.log\nbuild/\n!keep.log')], BUILT_IN)
  let ignored = 0
  for (let i = 0; i < 100_000; i++) {
    const dir = `d${Math.floor(i / 1000)}`
    const name = i % 10 === 0 ? `f${i}.log` : i % 10 === 1 ? 'keep.log' : `f${i}.txt`
    if (m.isIgnored(`${dir}/${name}`)) ignored += 1
    assert.is(m.isIgnored(`${dir}/build/f${i}.txt`), true)
  }
  assert.is(ignored, 10_000)
  assert.is(m.explain('d5/keep.log').isNegation, true)
  // The `ignore` package keeps a verdict for every path it was asked about (its private caches);
  // it is rebuilt often enough that they never hold more than a few thousand.
  const caches = (m as any).matcher
  const cached = Object.keys(caches._ignoreCache).length + Object.keys(caches._testCache).length
  assert.ok(cached < 20_000, `${cached} paths cached`)
})

test.run()
