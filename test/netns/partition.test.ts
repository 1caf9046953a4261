// A network partition that heals (GitHub issue 5): three agents on a virtual LAN, each in its own
// network namespace and paired by device ID alone (found by mDNS, which stays on the virtual LAN).
// One host's link is cut for ~25 s while both sides edit — a concurrent edit of one file, a delete
// on one side of a file edited on the other, new files on both — then the link comes back: all
// three converge, the conflict keeps both versions, the edit beats the delete, and the ledger's
// checks (test/helpers/ledger.ts) pass. Skipped, with the reason, where namespaces are unavailable.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createLan, netnsAvailable, ownNamespaces, type Lan } from '../helpers/netns.js'
import { lanTest, startNsAgent, type NsAgent } from '../helpers/netns-agent.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'
import { waitConverged } from '../helpers/cluster.js'
import { Ledger, type LedgerDevice } from '../helpers/ledger.js'
import { defaultConfig, saveConfig, updateConfig } from '../../src/config.js'
import { createIdentity } from '../../src/identity.js'
import { addFolder } from '../../src/ops/folders.js'
import { addDevice, shareFolder } from '../../src/ops/devices.js'

const availability = await netnsAvailable()
if (!availability.ok) console.log(`SKIP test/netns/partition.test.ts: ${availability.reason}`)
const started: NsAgent[] = []
const it = lanTest(availability.ok, () => started.map(x => `--- ${x.name} (host ${x.host}) ---\n${x.output().split('\n').slice(-60).join('\n')}`).join('\n'))
const PARTITION_MS = 25_000

interface Dev extends LedgerDevice { id: string, host: number, agent?: NsAgent }

let lan: Lan | undefined

/** Homes and configs written in this process (as makeCluster's isSetUpInProcess does), mDNS on, no addresses. */
function makeDevices (names: string[]): Dev[] {
  const root = tempDir('lansync-netns-partition-')
  const devs = names.map((name, host) => {
    const home = join(root, name, 'home')
    const folder = join(root, name, 'docs')
    mkdirSync(folder, { recursive: true })
    mkdirSync(home, { recursive: true, mode: 0o700 })
    const id = createIdentity(home).deviceId
    const config = { ...defaultConfig(), deviceName: name }
    addFolder(config, home, { path: folder, id: 'docs', label: 'docs' })
    saveConfig(home, config)
    return { name, home, folder, id, host }
  })
  for (const x of devs) {
    updateConfig(x.home, c => {
      for (const y of devs) {
        if (y === x) continue
        addDevice(c, x.id, { id: y.id, addresses: [], name: y.name })
        shareFolder(c, 'docs', y.id)
      }
    })
  }
  return devs
}

async function start (dev: Dev): Promise<void> {
  if (lan === undefined) throw new Error('no LAN')
  dev.agent = await startNsAgent(lan, dev.host, dev.name, dev.home)
  started.push(dev.agent)
}

test.after(async () => {
  try {
    if (lan !== undefined) {
      await lan.destroy()
      assert.equal(await ownNamespaces(), [], 'every namespace of this run is deleted')
    }
  } finally {
    await cleanupAll()
  }
})

it('a host cut off for 25 s while both sides edit converges after the link comes back, nothing lost', async () => {
  const [a, b, c] = makeDevices(['a', 'b', 'c'])
  lan = await createLan({ hosts: 3 })
  const ledger = new Ledger([a, b, c])
  ledger.write(a, 'shared.txt', 'shared v1')
  ledger.write(a, 'doomed.txt', 'doomed v1')
  ledger.write(c, 'from-c/first.txt', 'first from c')
  await Promise.all([a, b, c].map(start))
  await waitConverged([a, b, c], { timeoutMs: 45_000, what: 'the three to converge before the cut' })

  // c is cut off. The majority side (a, b) keeps syncing; c edits alone.
  const cutMs = Date.now()
  await lan.setLink(c.host, 'down')
  ledger.write(a, 'shared.txt', 'shared, edited on a during the partition')
  rmSync(join(a.folder, 'doomed.txt'))
  ledger.write(a, 'from-a/new.txt', 'new on a during the partition')
  ledger.write(c, 'shared.txt', 'shared, edited on c during the partition')
  ledger.write(c, 'doomed.txt', 'doomed, edited on c while a deleted it')
  ledger.write(c, 'from-c/new.txt', 'new on c during the partition')
  await waitConverged([a, b], { timeoutMs: PARTITION_MS, what: 'a and b to sync across their side' })
  assert.not.ok(existsSync(join(b.folder, 'doomed.txt')), 'the delete reached b')
  const left = PARTITION_MS - (Date.now() - cutMs)
  if (left > 0) await new Promise(resolve => setTimeout(resolve, left))
  assert.not.ok(existsSync(join(c.folder, 'from-a/new.txt')), 'nothing crossed the cut')
  assert.is(readFileSync(join(c.folder, 'shared.txt'), 'utf8'), 'shared, edited on c during the partition')

  // Healed.
  const healedMs = Date.now()
  await lan.setLink(c.host, 'up')
  await ledger.check({ timeoutMs: 90_000 })
  console.log(`  (converged ${((Date.now() - healedMs) / 1000).toFixed(1)} s after the link came back, ledger included)`)
  for (const d of [a, b, c]) {
    const names = readdirSync(d.folder)
    const copies = names.filter(n => n.startsWith('shared.sync-conflict-'))
    assert.is(copies.length, 1, `${d.name}: one conflict copy of shared.txt: ${JSON.stringify(names)}`)
    const both = [readFileSync(join(d.folder, 'shared.txt'), 'utf8'), readFileSync(join(d.folder, copies[0]), 'utf8')].sort()
    assert.equal(both, ['shared, edited on a during the partition', 'shared, edited on c during the partition'])
    assert.is(readFileSync(join(d.folder, 'doomed.txt'), 'utf8'), 'doomed, edited on c while a deleted it', `${d.name}: the edit beats the delete`)
    assert.ok(existsSync(join(d.folder, 'from-a/new.txt')) && existsSync(join(d.folder, 'from-c/new.txt')))
  }
  await Promise.all([a, b, c].map(async d => await d.agent?.stop()))
})

test.run()
