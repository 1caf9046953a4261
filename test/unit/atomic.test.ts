// The atomic write: a file's mtime must read back as the very ms the record holds, and a user's
// save that lands between the last check and the replacement is never overwritten.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import { readdirSync, readFileSync, renameSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { linkIfUnchanged, utimesSeconds, writeFileAtomically, TargetChangedError, type ExpectedFile } from '../../src/fs/atomic.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

const remote = Buffer.from('the remote version')
async function * chunksOf (bytes: Uint8Array): AsyncGenerator<Uint8Array> { yield bytes }
const facts = (file: string): ExpectedFile => { const s = statSync(file); return { inode: s.ino, sizeBytes: s.size, mtimeMs: Math.floor(s.mtimeMs) } }

/** Writes `remote` over `target`, running `meanwhile` after the last check and before the replacement. */
async function replaceWhile (target: string, expectedTarget: 'absent' | ExpectedFile, meanwhile: () => void): Promise<unknown> {
  try {
    await writeFileAtomically({
      target, chunks: chunksOf(remote), expectedHash: createHash('sha256').update(remote).digest(), mode: 0o644, mtimeMs: 1_700_000_000_000,
      beforeRename: async () => { meanwhile() },
      expectedTarget
    })
    return undefined
  } catch (err) { return err }
}

test('expected absent: a file saved there meanwhile is kept, not replaced', async () => {
  const dir = tempDir()
  const target = join(dir, 'new.txt')
  const err = await replaceWhile(target, 'absent', () => { writeFileSync(join(dir, 'scratch'), 'saved by the user'); renameSync(join(dir, 'scratch'), target) })
  assert.instance(err, TargetChangedError)
  assert.is(readFileSync(target, 'utf8'), 'saved by the user')
  assert.equal(readdirSync(dir), ['new.txt'], 'no temp file left')
})

test('expected file: written in place meanwhile (same inode) → kept', async () => {
  const dir = tempDir()
  const target = join(dir, 'f.txt')
  writeFileSync(target, 'old')
  utimesSync(target, 1_600_000_000, 1_600_000_000)
  const err = await replaceWhile(target, facts(target), () => { writeFileSync(target, 'edited in place') })
  assert.instance(err, TargetChangedError)
  assert.is(readFileSync(target, 'utf8'), 'edited in place')
  assert.equal(readdirSync(dir), ['f.txt'], 'no temp or aside file left')
})

test('expected file: replaced by a rename meanwhile (another inode) → kept', async () => {
  const dir = tempDir()
  const target = join(dir, 'f.txt')
  writeFileSync(target, 'old')
  const expected = facts(target)
  const err = await replaceWhile(target, expected, () => { writeFileSync(join(dir, 'scratch'), 'old'); renameSync(join(dir, 'scratch'), target) })
  assert.instance(err, TargetChangedError)
  assert.is.not(statSync(target).ino, expected.inode)
  assert.equal(readdirSync(dir), ['f.txt'])
})

test('expected file: deleted meanwhile → not recreated', async () => {
  const dir = tempDir()
  const target = join(dir, 'f.txt')
  writeFileSync(target, 'old')
  const err = await replaceWhile(target, facts(target), () => { renameSync(target, join(dir, 'elsewhere')) })
  assert.instance(err, TargetChangedError)
  assert.equal(readdirSync(dir), ['elsewhere'])
})

test('nothing changed meanwhile: replaced, with no file left beside it', async () => {
  const dir = tempDir()
  const existing = join(dir, 'f.txt')
  writeFileSync(existing, 'old')
  assert.is(await replaceWhile(existing, facts(existing), () => {}), undefined)
  assert.is(await replaceWhile(join(dir, 'g.txt'), 'absent', () => {}), undefined)
  assert.is(readFileSync(existing, 'utf8'), remote.toString())
  assert.is(readFileSync(join(dir, 'g.txt'), 'utf8'), remote.toString())
  assert.is(statSync(existing).nlink, 1)
  assert.equal(readdirSync(dir).sort(), ['f.txt', 'g.txt'])
})

test('utimesSeconds: every ms reads back floored to itself (ms / 1000 misses about half)', () => {
  const file = join(tempDir(), 'f')
  writeFileSync(file, 'x')
  const off: number[] = []
  for (let i = 0; i < 1000; i++) {
    const ms = 1_796_055_286_000 + i
    utimesSync(file, utimesSeconds(ms), utimesSeconds(ms))
    if (Math.floor(statSync(file).mtimeMs) !== ms) off.push(ms)
  }
  assert.equal(off, [])
  // A value that converts exactly is given as is: whole seconds read back exactly.
  utimesSync(file, utimesSeconds(1_577_934_245_000), utimesSeconds(1_577_934_245_000))
  assert.is(statSync(file).mtimeMs, 1_577_934_245_000)
})

test('linkIfUnchanged: a second name of the same inode only while the source is what the index says, never over a file', async () => {
  const dir = tempDir()
  const source = join(dir, 'old.bin')
  writeFileSync(source, 'content')
  const expected = facts(source)
  // Unchanged: linked (same inode), and the facts returned are the source's.
  const linked = await linkIfUnchanged(source, join(dir, 'sub', 'new.bin'), expected)
  assert.equal(linked, { sizeBytes: expected.sizeBytes, inode: expected.inode, mtimeMs: expected.mtimeMs })
  assert.is(statSync(join(dir, 'sub', 'new.bin')).ino, expected.inode)
  // A file already at the target: untouched, nothing linked.
  writeFileSync(join(dir, 'taken.bin'), 'the user\'s')
  assert.is(await linkIfUnchanged(source, join(dir, 'taken.bin'), expected), undefined)
  assert.is(readFileSync(join(dir, 'taken.bin'), 'utf8'), 'the user\'s')
  // The source changed (written in place: another size and mtime) or replaced (another inode): not linked.
  writeFileSync(source, 'content, edited')
  assert.is(await linkIfUnchanged(source, join(dir, 'edited.bin'), expected), undefined)
  writeFileSync(join(dir, 'scratch'), 'content')
  utimesSync(join(dir, 'scratch'), expected.mtimeMs / 1000, expected.mtimeMs / 1000)
  renameSync(join(dir, 'scratch'), source)
  assert.is(await linkIfUnchanged(source, join(dir, 'replaced.bin'), expected), undefined)
  // Gone: not linked.
  assert.is(await linkIfUnchanged(join(dir, 'nothing'), join(dir, 'x.bin'), expected), undefined)
  assert.equal(readdirSync(dir).sort(), ['old.bin', 'sub', 'taken.bin'])
})

test.after(cleanupAll)
test.run()
