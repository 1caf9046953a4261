import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { appendFileSync, mkdirSync, renameSync, truncateSync, writeFileSync } from 'node:fs'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { hashBytes, hashFile, hashFileStable, hashSmallFileStable, sha256, SYNC_READ_MAX_BYTES, WHOLE_READ_MAX_BYTES, WORKER_WHOLE_HASH_MIN_BYTES } from '../../src/fs/hasher.js'
import { MAX_BLOCK_BYTES, MIN_BLOCK_BYTES } from '../../src/core/chunker.js'
import { isLansyncError } from '../../src/errors.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const plainSha = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex')

/** Spans several 4 MiB reads, with a block straddling every read boundary, and an odd tail. */
const DATA = randomBytes(9 * 1024 * 1024 + 12345)

async function rejectsWith (p: Promise<unknown>, code: string): Promise<Error> {
  try {
    await p
  } catch (err) {
    assert.ok(isLansyncError(err), `expected LansyncError, got ${String(err)}`)
    assert.is((err as { code: string }).code, code)
    return err as Error
  }
  assert.unreachable(`expected ${code}`)
  throw new Error('unreachable')
}

test('hashSmallFileStable (synchronous reads) gives what hashFileStable gives, up to its size; bigger files are left to it', async () => {
  const dir = tempDir()
  for (const size of [0, 1, 4096, 100_000 % SYNC_READ_MAX_BYTES, SYNC_READ_MAX_BYTES]) {
    const path = join(dir, `f${size}`)
    writeFileSync(path, DATA.subarray(0, size))
    const blocks: string[] = []
    const sync = await hashSmallFileStable(path, { onBlock: (h, bytes) => { blocks.push(`${hex(h)}:${plainSha(bytes)}`) } })
    const async = await hashFileStable(path)
    assert.ok(sync !== undefined, `${size} bytes read`)
    assert.equal([hex(sync.hash), sync.sizeBytes, sync.blocks.map(b => hex(b.hash))], [hex(async.hash), async.sizeBytes, async.blocks.map(b => hex(b.hash))], `${size} bytes`)
    assert.equal(blocks, sync.blocks.map(b => `${hex(b.hash)}:${hex(b.hash)}`), 'onBlock saw each block and its exact bytes')
    assert.is(sync.stat.ino, async.stat.ino)
    assert.ok(sync.readMs >= 0)
  }
  const big = join(dir, 'big')
  writeFileSync(big, DATA.subarray(0, SYNC_READ_MAX_BYTES + 1))
  assert.is(await hashSmallFileStable(big), undefined)
  await rejectsWith(hashSmallFileStable(join(dir, 'nope')), 'PATH_NOT_FOUND')
  mkdirSync(join(dir, 'sub'))
  await rejectsWith(hashSmallFileStable(join(dir, 'sub')), 'PATH_UNREADABLE')
  execFileSync('mkfifo', [join(dir, 'fifo')])
  await rejectsWith(hashSmallFileStable(join(dir, 'fifo')), 'PATH_UNREADABLE')
})

test.after(cleanupAll)

test('sha256 is SHA-256', () => {
  assert.is(hex(sha256(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855')
  assert.is(hex(sha256(Buffer.from('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
})

test('hashBytes: blocks cover the bytes and are named by their SHA-256', () => {
  const r = hashBytes(DATA)
  assert.is(r.sizeBytes, DATA.length)
  assert.is(hex(r.hash), plainSha(DATA))
  let offset = 0
  for (const b of r.blocks) {
    assert.ok(b.sizeBytes <= MAX_BLOCK_BYTES)
    assert.is(hex(b.hash), plainSha(DATA.subarray(offset, offset + b.sizeBytes)))
    offset += b.sizeBytes
  }
  assert.is(offset, DATA.length)
  assert.ok(r.blocks.length > 100)
})

test('hashFile equals hashBytes on the same data', async () => {
  const path = join(tempDir(), 'data.bin')
  writeFileSync(path, DATA)
  const fromFile = await hashFile(path)
  const fromBytes = hashBytes(DATA)
  assert.is(fromFile.sizeBytes, fromBytes.sizeBytes)
  assert.is(hex(fromFile.hash), hex(fromBytes.hash))
  assert.equal(fromFile.blocks.map(b => [hex(b.hash), b.sizeBytes]), fromBytes.blocks.map(b => [hex(b.hash), b.sizeBytes]))
})

test('onBlock receives the exact bytes, in order, one call at a time', async () => {
  const path = join(tempDir(), 'data.bin')
  writeFileSync(path, DATA)
  const received: Array<{ hash: string, bytes: Uint8Array }> = []
  let inFlight = 0
  let maxInFlight = 0
  const r = await hashFile(path, {
    onBlock: async (hash, bytes) => {
      inFlight += 1
      maxInFlight = Math.max(maxInFlight, inFlight)
      await new Promise(resolve => setImmediate(resolve)) // a store write takes a turn of the loop
      // Copied before the call settles, as the contract asks: the hasher reads on into that memory.
      received.push({ hash: hex(hash), bytes: Buffer.from(bytes) })
      inFlight -= 1
    }
  })
  assert.is(maxInFlight, 1, 'each onBlock is awaited before the next')
  assert.equal(received.map(x => x.hash), r.blocks.map(b => hex(b.hash)))
  // Checked only now, after all reads: the bytes were whole and right while each call lasted.
  for (const x of received) assert.is(plainSha(x.bytes), x.hash)
  assert.ok(Buffer.concat(received.map(x => x.bytes)).equals(DATA))
})

test('empty and tiny files', async () => {
  const dir = tempDir()
  writeFileSync(join(dir, 'empty'), '')
  writeFileSync(join(dir, 'tiny'), 'hello')
  const calls: number[] = []
  const empty = await hashFile(join(dir, 'empty'), { onBlock: (_h, b) => { calls.push(b.length) } })
  assert.equal(empty.blocks, [])
  assert.is(empty.sizeBytes, 0)
  assert.is(hex(empty.hash), plainSha(new Uint8Array(0)))
  assert.equal(calls, [])
  assert.equal(hashBytes(new Uint8Array(0)), empty)
  const tiny = await hashFileStable(join(dir, 'tiny'), { onBlock: (_h, b) => { calls.push(b.length) } })
  assert.equal(tiny.blocks.map(b => b.sizeBytes), [5])
  assert.is(hex(tiny.blocks[0].hash), plainSha(Buffer.from('hello')))
  assert.is(tiny.stat.size, 5)
  assert.equal(calls, [5])
})

test('a file of one forced-cut block size per read buffer boundary hashes like the bytes', async () => {
  // All zeros: every block is cut at the maximum, so block ends land exactly on read boundaries.
  const zeros = new Uint8Array(4 * 1024 * 1024 * 2 + MAX_BLOCK_BYTES)
  const path = join(tempDir(), 'zeros')
  writeFileSync(path, zeros)
  const r = await hashFile(path)
  assert.equal(r, hashBytes(zeros))
  assert.ok(r.blocks.every(b => b.sizeBytes === MAX_BLOCK_BYTES))
})

test('missing paths are PATH_NOT_FOUND, naming the path', async () => {
  const dir = tempDir()
  writeFileSync(join(dir, 'file'), 'x')
  const err = await rejectsWith(hashFile(join(dir, 'nope')), 'PATH_NOT_FOUND')
  assert.match(err.message, join(dir, 'nope'))
  await rejectsWith(hashFile(join(dir, 'file', 'below-a-file')), 'PATH_NOT_FOUND')
  await rejectsWith(hashFileStable(join(dir, 'nope')), 'PATH_NOT_FOUND')
})

test('what cannot be read as a file is PATH_UNREADABLE (directory, FIFO), even as root', async () => {
  const dir = tempDir()
  mkdirSync(join(dir, 'sub'))
  const err = await rejectsWith(hashFile(join(dir, 'sub')), 'PATH_UNREADABLE')
  assert.match(err.message, join(dir, 'sub'))
  await rejectsWith(hashFileStable(join(dir, 'sub')), 'PATH_UNREADABLE')
  // A FIFO with no writer would block a plain open forever.
  execFileSync('mkfifo', [join(dir, 'fifo')])
  await rejectsWith(hashFileStable(join(dir, 'fifo')), 'PATH_UNREADABLE')
})

test('an error from onBlock passes through unchanged', async () => {
  const path = join(tempDir(), 'data.bin')
  writeFileSync(path, DATA)
  const boom = new Error('store full')
  let calls = 0
  try {
    await hashFile(path, { onBlock: async () => { calls += 1; if (calls === 3) throw boom } })
    assert.unreachable()
  } catch (err) {
    assert.is(err, boom)
  }
  assert.is(calls, 3)
})

test('an abort signal stops hashing with its reason', async () => {
  const path = join(tempDir(), 'data.bin')
  writeFileSync(path, DATA)
  const pre = new AbortController()
  pre.abort(new Error('stopped early'))
  try { await hashFile(path, { signal: pre.signal }); assert.unreachable() } catch (err) { assert.is((err as Error).message, 'stopped early') }
  const mid = new AbortController()
  let calls = 0
  try {
    await hashFile(path, { signal: mid.signal, onBlock: () => { calls += 1; if (calls === 1) mid.abort() } })
    assert.unreachable()
  } catch (err) {
    assert.is((err as Error).name, 'AbortError')
  }
  // Aborts take effect at the next read: at most one read buffer's worth of blocks is still handed out.
  assert.ok(calls < 4 * 1024 * 1024 / MIN_BLOCK_BYTES + 2, `${calls} calls`)
})

test('a file that changes while being hashed is re-read, never recorded half-written', async () => {
  const path = join(tempDir(), 'growing.bin')
  writeFileSync(path, DATA)
  let calls = 0
  const r = await hashFileStable(path, {
    onBlock: () => {
      calls += 1
      if (calls === 1) appendFileSync(path, 'more') // a writer is still at work during the first read
    }
  })
  const final = Buffer.concat([DATA, Buffer.from('more')])
  assert.equal({ hash: hex(r.hash), sizeBytes: r.sizeBytes }, { hash: plainSha(final), sizeBytes: final.length })
  assert.equal(r.blocks, hashBytes(final).blocks)
  assert.is(r.stat.size, final.length)
  assert.ok(calls > r.blocks.length, 'the discarded first read also handed out blocks')
})

test('a file replaced by rename while being hashed is re-read', async () => {
  const dir = tempDir()
  const path = join(dir, 'doc.bin')
  writeFileSync(path, DATA)
  const replacement = randomBytes(100_000)
  let calls = 0
  const r = await hashFileStable(path, {
    onBlock: () => {
      calls += 1
      if (calls === 1) { writeFileSync(join(dir, 'tmp'), replacement); renameSync(join(dir, 'tmp'), path) }
    }
  })
  // Unlinking the old inode bumps its ctime; the path now naming another inode is checked too.
  assert.is(hex(r.hash), plainSha(replacement))
  assert.is(r.sizeBytes, replacement.length)
})

test('a file that never holds still is PATH_CHANGING after maxTries reads', async () => {
  const path = join(tempDir(), 'log.bin')
  writeFileSync(path, DATA.subarray(0, 1_000_000))
  let appends = 0
  await rejectsWith(hashFileStable(path, {
    maxTries: 2,
    onBlock: () => { appends += 1; appendFileSync(path, 'x') }
  }), 'PATH_CHANGING')
  assert.ok(appends >= 2)
  try { await hashFileStable(path, { maxTries: 0 }); assert.unreachable() } catch (err) { assert.instance(err, TypeError) }
})

test('a big file (whole hash on the worker thread) hashes like its bytes; grown or replaced while hashed, it is re-read', async () => {
  const dir = tempDir()
  const big = Buffer.concat([randomBytes(WORKER_WHOLE_HASH_MIN_BYTES), DATA.subarray(0, 54321)])
  const path = join(dir, 'big.bin')
  writeFileSync(path, big)
  const r = await hashFileStable(path)
  assert.equal({ hash: hex(r.hash), sizeBytes: r.sizeBytes }, { hash: plainSha(big), sizeBytes: big.length })
  assert.equal(r.blocks, hashBytes(big).blocks)

  let calls = 0
  const grown = await hashFileStable(path, { onBlock: () => { calls += 1; if (calls === 1) appendFileSync(path, 'more') } })
  const final = Buffer.concat([big, Buffer.from('more')])
  assert.equal({ hash: hex(grown.hash), sizeBytes: grown.sizeBytes }, { hash: plainSha(final), sizeBytes: final.length })

  const replacement = Buffer.concat([DATA, randomBytes(WORKER_WHOLE_HASH_MIN_BYTES)])
  calls = 0
  const replaced = await hashFileStable(path, {
    onBlock: () => {
      calls += 1
      if (calls === 1) { writeFileSync(join(dir, 'tmp'), replacement); renameSync(join(dir, 'tmp'), path) }
    }
  })
  assert.equal({ hash: hex(replaced.hash), sizeBytes: replaced.sizeBytes }, { hash: plainSha(replacement), sizeBytes: replacement.length })
  assert.equal(replaced.blocks, hashBytes(replacement).blocks)
})

test('guided by the blocks it held before, a file hashes to exactly the blocks of chunking every byte, whatever changed', async () => {
  const dir = tempDir()
  const base = Buffer.concat([randomBytes(6 * 1024 * 1024), Buffer.alloc(700_000), randomBytes(2_345_678)]) // zeros: repeated max-size blocks
  const edits: Array<[string, (b: Buffer) => Buffer]> = [
    ['unchanged', b => b],
    ['4 KiB overwritten in the middle', b => { const c = Buffer.from(b); randomBytes(4096).copy(c, 3_000_000); return c }],
    ['overwritten at two places and in the last block', b => { const c = Buffer.from(b); randomBytes(100).copy(c, 10); randomBytes(5000).copy(c, 7_000_000); c[c.length - 5] ^= 1; return c }],
    ['100 B inserted at the start', b => Buffer.concat([randomBytes(100), b])],
    ['1 MiB cut out of the middle', b => Buffer.concat([b.subarray(0, 2_000_000), b.subarray(3_048_576)])],
    ['appended to', b => Buffer.concat([b, randomBytes(300_000)])],
    ['truncated inside a block', b => b.subarray(0, 5_555_555)],
    ['blocks swapped', b => Buffer.concat([b.subarray(4_000_000), b.subarray(0, 4_000_000)])]
  ]
  const path = join(dir, 'f.bin')
  for (const [what, edit] of edits) {
    const now = edit(base)
    writeFileSync(path, now)
    const expected = hashBytes(now)
    const handed: Buffer[] = []
    const r = await hashFileStable(path, { previous: hashBytes(base).blocks, onBlock: (_h, bytes) => { handed.push(Buffer.from(bytes)) } })
    assert.equal(r.blocks, expected.blocks, what)
    assert.is(hex(r.hash), hex(expected.hash), what)
    assert.ok(Buffer.concat(handed).equals(now), `${what}: onBlock saw the bytes in order`)
  }
  // A guide that is wrong (other hashes, sizes no chunker makes) changes nothing either.
  writeFileSync(path, base)
  const wrong = [{ hash: sha256(Buffer.from('x')), sizeBytes: 0 }, { hash: sha256(Buffer.from('y')), sizeBytes: MAX_BLOCK_BYTES * 3 }, ...hashBytes(base).blocks.slice(5).map(b => ({ ...b, sizeBytes: b.sizeBytes + 1 }))]
  for (const previous of [wrong, hashBytes(base).blocks.slice(1), hashBytes(base).blocks.slice(0, 1)]) {
    assert.equal((await hashFileStable(path, { previous })).blocks, hashBytes(base).blocks)
  }
})

test('files read whole (small) and streamed (large) hash like the bytes, at and around the cut-over size', async () => {
  const dir = tempDir()
  for (const size of [1, MIN_BLOCK_BYTES - 1, MIN_BLOCK_BYTES + 1, 300_000, WHOLE_READ_MAX_BYTES, WHOLE_READ_MAX_BYTES + 1]) {
    const data = DATA.subarray(0, size)
    const path = join(dir, `f${size}`)
    writeFileSync(path, data)
    const handed: Buffer[] = []
    const r = await hashFileStable(path, { onBlock: (_h, bytes) => { handed.push(Buffer.from(bytes)) } })
    assert.equal({ hash: hex(r.hash), sizeBytes: r.sizeBytes, blocks: r.blocks }, { hash: plainSha(data), sizeBytes: size, blocks: hashBytes(data).blocks }, `size ${size}`)
    assert.ok(Buffer.concat(handed).equals(data), `size ${size}: onBlock saw the bytes in order`)
  }
})

test('a small file that grows or shrinks while it is read is re-read, never recorded half-written', async () => {
  const dir = tempDir()
  const grow = join(dir, 'grow.txt')
  writeFileSync(grow, DATA.subarray(0, 50_000))
  let calls = 0
  const grown = await hashFileStable(grow, { onBlock: () => { calls += 1; if (calls === 1) appendFileSync(grow, 'tail') } })
  const final = Buffer.concat([DATA.subarray(0, 50_000), Buffer.from('tail')])
  assert.equal({ hash: hex(grown.hash), sizeBytes: grown.sizeBytes }, { hash: plainSha(final), sizeBytes: final.length })
  assert.ok(calls > grown.blocks.length, 'the first read was discarded')

  const shrink = join(dir, 'shrink.txt')
  writeFileSync(shrink, DATA.subarray(0, 200_000))
  calls = 0
  const shrunk = await hashFileStable(shrink, { onBlock: () => { calls += 1; if (calls === 1) truncateSync(shrink, 1000) } })
  assert.equal({ hash: hex(shrunk.hash), sizeBytes: shrunk.sizeBytes }, { hash: plainSha(DATA.subarray(0, 1000)), sizeBytes: 1000 })
})

test.run()
