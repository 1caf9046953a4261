// kill -9 of the sending device, while it serves blocks and between storing a scan's blocks and
// committing it, then restart (crash.test.ts: the receiver): nothing is lost, nothing half-written is
// recorded, and the devices converge. The agent kills itself (SIGKILL) at a named crash point
// (src/fault.ts), so every step is hit for certain, not by timing luck. Every scenario ends with
// the ledger's invariant checks (test/helpers/ledger.ts).
import { test } from 'uvu'
import { cleanupAll } from '../helpers/cli.js'
import { makeCluster } from '../helpers/cluster.js'
import { killedAt, writeSome } from '../helpers/crash.js'
import { Ledger } from '../helpers/ledger.js'

test('the sender killed while serving a block recovers on restart', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  const ledger = new Ledger([a, b])
  await b.start()
  await a.start({ env: { LANSYNC_CRASH_AT: 'serve:block@3' } })
  writeSome(ledger, a, '1')
  await killedAt(a, 'serve:block')
  await a.start()
  await ledger.check()
  await a.stop(); await b.stop()
})

test('the writer killed between storing blocks and committing a scan records the file on restart', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  const ledger = new Ledger([a, b])
  await b.start()
  // The first scan commits nothing (an empty folder); the crash comes with the first new file.
  await a.start({ env: { LANSYNC_CRASH_AT: 'scan:blocks-stored' } })
  writeSome(ledger, a, '1')
  await killedAt(a, 'scan:blocks-stored')
  await a.start()
  for (const entry of ledger.entries) await ledger.recorded(a, entry)
  // Both sides edit after the restart: history keeps both devices' versions.
  ledger.write(b, 'dir/small-1.txt', 'small 1, edited on b')
  await ledger.check()
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
