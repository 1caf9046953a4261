// Five devices in a full mesh on 127.0.0.1 (GitHub issue 5, "Nothing lost under faults"): all five
// edit at once — files of their own and one file everybody changes — and still converge with every
// version kept (the ledger's invariant checks, test/helpers/ledger.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { readdirSync } from 'node:fs'
import { cleanupAll } from '../helpers/cli.js'
import { makeCluster } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

test('five devices editing at once converge, every version kept', async () => {
  const devices = await makeCluster(['a', 'b', 'c', 'd', 'e'], { isSetUpInProcess: true })
  const ledger = new Ledger(devices)
  const shared = ledger.write(devices[0], 'shared.txt', 'shared v0')
  await Promise.all(devices.map(async d => await d.start()))
  await ledger.recorded(devices[0], shared)
  // All at once: three files each (one of several blocks), and an edit of the shared file.
  for (const d of devices) {
    ledger.write(d, `${d.name}/notes.txt`, `notes of ${d.name}`)
    ledger.write(d, `${d.name}/big.bin`, randomBytes(700_000))
    ledger.write(d, `top-${d.name}.txt`, `top of ${d.name}`)
    ledger.write(d, 'shared.txt', `shared, edited on ${d.name}`)
  }
  try {
    await ledger.check({ timeoutMs: 90_000 })
  } catch (err) {
    // The trees alone do not say why: add the end of every agent's log.
    const tails = devices.map(d => `--- ${d.name} ---\n${(d.agent?.output() ?? '').split('\n').slice(-40).join('\n')}`)
    throw new Error(`${(err as Error).message}\n${tails.join('\n')}`)
  }
  // The shared file has one winner; every losing edit that reached a peer is kept as a copy or in history.
  const copies = readdirSync(devices[0].folder).filter(n => n.startsWith('shared.sync-conflict-'))
  console.log(`  (shared.txt: ${copies.length} conflict copies)`)
  assert.ok(copies.length <= 5, `at most one copy per losing version (v0 and four edits)`)
  await Promise.all(devices.map(async d => await d.stop()))
})

test.after(cleanupAll)
test.run()
