// A big file that keeps changing while it is hashed and while it is sent (GitHub issue 5): the
// writer appends to it and overwrites parts of it in place (and once rewrites it whole, so that it
// is half-written for a while), ten times 200 ms apart, first while its scan reads it and then while
// the receiver fetches it. No device may ever record a state that was never complete (a half-written
// or mixed version: the ledger's check 2), and both end with the last content (checks 1 to 5).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { appendFileSync, closeSync, existsSync, openSync, readdirSync, readFileSync, writeFileSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, cli, waitFor } from '../helpers/cli.js'
import { makeCluster, type Device } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const MiB = 1024 * 1024
const WRITES = 10
const PAUSE_MS = 200
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))

/**
 * Changes `path` on `device` in place `WRITES` times, `PAUSE_MS` apart, noting each complete state
 * as passing (check 2 accepts its bytes; it may be gone before anyone sees it). Returns the content.
 */
async function keepChanging (ledger: Ledger, device: Device, path: string, content: Buffer): Promise<Buffer> {
  const full = join(device.folder, path)
  for (let i = 0; i < WRITES; i++) {
    if (i % 3 === 0) {
      // Append a block's worth and a bit.
      const more = randomBytes(MiB + 17)
      appendFileSync(full, more)
      content = Buffer.concat([content, more])
    } else if (i === 5) {
      // Rewrite it whole in place: truncated first, then written through, half-written meanwhile.
      // The truncated (empty) file really is on disk for a moment, and a scan released by the
      // watcher's 2 s deadline may record it, as it would record a file a person emptied: that
      // state is noted too. A half-written one (some but not all of the new bytes) never may be.
      ledger.noteWritten(device, path, Buffer.alloc(0), { isPassing: true })
      content = randomBytes(content.length)
      writeFileSync(full, content)
    } else {
      // Overwrite two regions in place, far apart: a reader between them would see a mix.
      const fd = openSync(full, 'r+')
      try {
        for (const offset of [Math.floor(content.length * 0.8), Math.floor(content.length * 0.1)]) {
          const patch = randomBytes(64 * 1024)
          writeSync(fd, patch, 0, patch.length, offset)
          patch.copy(content, offset)
        }
      } finally { closeSync(fd) }
    }
    ledger.noteWritten(device, path, content, { isPassing: true })
    await sleep(PAUSE_MS)
  }
  return content
}

test('a 64 MiB file changed while hashed and while sent: no device records a state never complete, both end with the last', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  const ledger = new Ledger([a, b])
  await a.start(); await b.start()
  // While a hashes it. The first state is changed within 200 ms, so it too is only passing.
  let content: Buffer = randomBytes(64 * MiB)
  ledger.noteWritten(a, 'big.bin', Buffer.alloc(0), { isPassing: true }) // created empty, then written (see keepChanging)
  writeFileSync(join(a.folder, 'big.bin'), content)
  ledger.noteWritten(a, 'big.bin', content, { isPassing: true })
  content = await keepChanging(ledger, a, 'big.bin', content)
  // While b fetches it (once b is pulling; if it already finished, the changes are just new versions).
  const isPulling = await waitFor(async () => existsSync(join(b.folder, 'big.bin')) || readdirSync(b.folder).some(n => n.startsWith('.lansync-tmp-')) || (await b.status()).folders[0].needBytes > 0,
    { timeoutMs: 30_000, intervalMs: 20, what: 'b to start pulling big.bin' }).catch(() => false)
  content = await keepChanging(ledger, a, 'big.bin', content)
  // The last state stays: it must be kept and reach b.
  const last = ledger.noteWritten(a, 'big.bin', content)
  await ledger.recorded(a, last, 60_000)
  await ledger.check({ timeoutMs: 90_000 })
  assert.is(createHash('sha256').update(readFileSync(join(b.folder, 'big.bin'))).digest('hex'), last.hash, 'b ends with the last content')
  const counts = await Promise.all([a, b].map(async d => (await cli(d.home, ['history', join(d.folder, 'big.bin'), '--json'])).json.versions.length))
  console.log(`  (b was pulling before the second round: ${String(isPulling)}; versions in history: a ${counts[0]}, b ${counts[1]})`)
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
