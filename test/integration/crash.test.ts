// kill -9 of the receiver at each step of its write path, then restart (crash-writer.test.ts: the
// sender and the scanning device): nothing is lost, nothing half-written is
// recorded, and the devices converge. The agent kills itself (SIGKILL) at a named crash point
// (src/fault.ts), so every step is hit for certain, not by timing luck. Every scenario ends with
// the ledger's invariant checks (test/helpers/ledger.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { cleanupAll, waitFor } from '../helpers/cli.js'
import { makeCluster, type Device } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'
import type { CrashPoint } from '../../src/fault.js'

async function killedAt (device: Device, point: CrashPoint): Promise<void> {
  const agent = device.agent
  if (agent === undefined) throw new Error(`${device.name} is not running`)
  await waitFor(() => agent.child.signalCode === 'SIGKILL', { timeoutMs: 30_000, what: `${device.name} to die at ${point}\n${agent.output()}` })
  assert.match(agent.output(), new RegExp(`crash point ${point} reached`))
  device.agent = undefined
}

/** Files of several blocks and of one, so a crash lands between blocks as well as between files. */
function writeSome (ledger: Ledger, device: Device, tag: string): void {
  ledger.write(device, `big-${tag}.bin`, randomBytes(1024 * 1024 + 123))
  ledger.write(device, `dir/small-${tag}.txt`, `small ${tag}`)
  ledger.write(device, `dir/sub/other-${tag}.txt`, `other ${tag}`)
}

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

test.after(cleanupAll)
test.run()
