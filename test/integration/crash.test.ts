// kill -9 of the receiver at each step of its write path, then restart (crash-writer.test.ts: the
// sender and the scanning device): nothing is lost, nothing half-written is
// recorded, and the devices converge. The agent kills itself (SIGKILL) at a named crash point
// (src/fault.ts), so every step is hit for certain, not by timing luck. Every scenario ends with
// the ledger's invariant checks (test/helpers/ledger.ts).
import { test } from 'uvu'
import { randomBytes } from 'node:crypto'
import { cleanupAll } from '../helpers/cli.js'
import { makeCluster } from '../helpers/cluster.js'
import { killedAt, writeSome } from '../helpers/crash.js'
import { Ledger } from '../helpers/ledger.js'
import type { CrashPoint } from '../../src/fault.js'

const receiverPoints: CrashPoint[] = ['pull:block-stored', 'apply:temp-written', 'apply:renamed']

for (const point of receiverPoints) {
  test(`the receiver killed at ${point} recovers on restart`, async () => {
    const [a, b] = await makeCluster(['a', 'b'])
    const ledger = new Ledger([a, b])
    await a.start()
    await b.start({ env: { LANSYNC_CRASH_AT: point } })
    writeSome(ledger, a, '1')
    await killedAt(b, point)
    // Meanwhile the sender edits on: a version b has not seen yet.
    const edit = ledger.write(a, 'dir/small-1.txt', 'small 1, edited while b was down')
    await ledger.recorded(a, edit)
    await b.start()
    await ledger.check()
    await a.stop(); await b.stop()
  })
}

test('the receiver killed while patching a big file in place puts the old bytes back on restart, then takes the new version', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  const ledger = new Ledger([a, b])
  await a.start()
  await b.start()
  const old = randomBytes(6 * 1024 * 1024)
  const first = ledger.write(a, 'big.bin', old)
  await ledger.recorded(b, first)
  await b.stop()
  await b.start({ env: { LANSYNC_CRASH_AT: 'apply:patching' } })
  // 4 KiB overwritten at two places: b patches its copy in place, two ranges, and dies after
  // writing the first, leaving a mix of the two versions that no device ever wrote.
  const edited = Buffer.from(old)
  randomBytes(4096).copy(edited, 1_000_000)
  randomBytes(4096).copy(edited, 5_000_000)
  ledger.write(a, 'big.bin', edited)
  await killedAt(b, 'apply:patching')
  await b.start()
  // No mix of the two versions is ever recorded (check 2), and b ends with a's edit.
  await ledger.check()
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
