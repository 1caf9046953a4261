// Block deltas on the wire, and a transfer interrupted by kill -9 that resumes on restart.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { openSync, writeSync, closeSync, renameSync, readdirSync, readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes, createHash } from 'node:crypto'
import { cleanupAll, waitFor } from '../helpers/cli.js'
import { makeCluster, waitConverged, type Device } from '../helpers/cluster.js'

const MiB = 1024 * 1024

function writeRandomFile (path: string, sizeBytes: number): string {
  const fd = openSync(path, 'w')
  const hash = createHash('sha256')
  for (let done = 0; done < sizeBytes; done += 4 * MiB) {
    const chunk = randomBytes(Math.min(4 * MiB, sizeBytes - done))
    hash.update(chunk)
    writeSync(fd, chunk)
  }
  closeSync(fd)
  return hash.digest('hex')
}

async function received (d: Device): Promise<{ bytes: number, blockBytes: number }> {
  const s = await d.status()
  const p = s.peers[0]
  return { bytes: p.bytesReceived, blockBytes: p.blockBytesReceived }
}

test('rename sends no block data; a 4 KiB edit and a 100-byte insert in 64 MiB send under 512 KiB, their blocks as deltas, and nothing comes back', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  writeRandomFile(join(a.folder, 'big.bin'), 64 * MiB)
  await a.start(); await b.start()
  await waitConverged([a, b], { timeoutMs: 60_000 })

  let before = await received(b)
  renameSync(join(a.folder, 'big.bin'), join(a.folder, 'renamed.bin'))
  await waitConverged([a, b])
  let after = await received(b)
  assert.is(after.blockBytes - before.blockBytes, 0, 'a rename moves no block data')

  before = after
  const echoBefore = await received(a)
  const fd = openSync(join(a.folder, 'renamed.bin'), 'r+')
  writeSync(fd, randomBytes(4096), 0, 4096, 20 * MiB)
  closeSync(fd)
  await waitConverged([a, b])
  after = await received(b)
  assert.ok(after.bytes - before.bytes < 512 * 1024, `4 KiB edit cost ${after.bytes - before.bytes} bytes (${after.blockBytes - before.blockBytes} of block data)`)
  // The changed block comes as a delta against the one it replaced: the 4 KiB and the parts of
  // the 2 KiB pieces it touched, not the 16–256 KiB block.
  assert.ok(after.blockBytes - before.blockBytes <= 4096 + 4 * 2048, `4 KiB edit sent ${after.blockBytes - before.blockBytes} bytes of block data`)
  // b does not announce a's version back to a: its record alone (1,000 block hashes) is ~40 kB.
  await new Promise(resolve => setTimeout(resolve, 1000))
  const echoAfter = await received(a)
  assert.ok(echoAfter.bytes - echoBefore.bytes < 8 * 1024, `a got ${echoAfter.bytes - echoBefore.bytes} bytes back from b for its own edit`)

  before = after
  const content = readFileSync(join(a.folder, 'renamed.bin'))
  const fd2 = openSync(join(a.folder, 'renamed.bin.new'), 'w')
  writeSync(fd2, randomBytes(100))
  writeSync(fd2, content)
  closeSync(fd2)
  renameSync(join(a.folder, 'renamed.bin.new'), join(a.folder, 'renamed.bin'))
  await waitConverged([a, b])
  after = await received(b)
  assert.ok(after.bytes - before.bytes < 512 * 1024, `100-byte insert cost ${after.bytes - before.bytes} bytes (${after.blockBytes - before.blockBytes} of block data)`)
  assert.ok(after.blockBytes - before.blockBytes <= 100 + 2 * 2048, `100-byte insert sent ${after.blockBytes - before.blockBytes} bytes of block data`)
  await a.stop(); await b.stop()
})

test('killing the sender mid-transfer leaves the old file or the new one; a restart completes without refetching', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  const hash = writeRandomFile(join(a.folder, 'movie.bin'), 200 * MiB)
  await a.start(); await b.start()
  await waitFor(async () => (await received(b)).blockBytes > 20 * MiB, { timeoutMs: 60_000, intervalMs: 20, what: 'the transfer to start' })
  await a.stop('SIGKILL')
  const partial = (await received(b)).blockBytes
  // Nothing half-written is visible: the file is either absent (the old state) or complete.
  const names = readdirSync(b.folder).filter(n => n !== '.lansync')
  assert.ok(names.length === 0 || (names.length === 1 && names[0] === 'movie.bin'), `left: ${names.join(', ')}`)
  if (existsSync(join(b.folder, 'movie.bin'))) {
    assert.is(createHash('sha256').update(readFileSync(join(b.folder, 'movie.bin'))).digest('hex'), hash)
  }
  await a.start()
  await waitConverged([a, b], { timeoutMs: 90_000 })
  assert.is(createHash('sha256').update(readFileSync(join(b.folder, 'movie.bin'))).digest('hex'), hash)
  const total = (await received(b)).blockBytes
  assert.ok(total < 200 * MiB + 16 * MiB, `resumed: ${total} block bytes in all (had ${partial} before the kill)`)
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
