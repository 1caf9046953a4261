// Writing a file's mtime: it must read back as the very ms the record holds.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { utimesSeconds } from '../../src/fs/atomic.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

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

test.after(cleanupAll)
test.run()
