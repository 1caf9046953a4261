// A device whose database is lost (the folder's files stay, some edited while it was down) rejoins:
// every file that differs from the peer's becomes a conflict, with both contents kept, never a
// silent overwrite in either direction; files that are the same move no data. Ends with the
// ledger's checks (test/helpers/ledger.ts): every version written on either device is kept.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rmSync, readFileSync, readdirSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { cleanupAll, cli, waitFor } from '../helpers/cli.js'
import { makeCluster, waitConverged } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const setAge = (file: string, ageMs: number): void => {
  const t = new Date(Date.now() - ageMs)
  utimesSync(file, t, t)
}

test('A loses its database: differing files become conflicts both ways, identical ones move nothing', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  const ledger = new Ledger([a, b])
  const same = randomBytes(300_000)
  ledger.write(a, 'same.bin', same)
  ledger.write(a, 'newer-on-b.txt', 'original')
  ledger.write(a, 'edited-offline-on-a.txt', 'original')
  ledger.write(a, 'edited-twice.txt', 'v1')
  for (const f of ['newer-on-b.txt', 'edited-offline-on-a.txt', 'edited-twice.txt']) setAge(join(a.folder, f), 3_600_000)
  await a.start(); await b.start()
  await waitConverged([a, b])
  // A edits one file twice more, so the peer holds a version A's counter reached 3 for.
  ledger.write(a, 'edited-twice.txt', 'v2')
  setAge(join(a.folder, 'edited-twice.txt'), 1_800_000)
  await waitFor(() => readFileSync(join(b.folder, 'edited-twice.txt'), 'utf8') === 'v2')
  ledger.write(a, 'edited-twice.txt', 'v3')
  setAge(join(a.folder, 'edited-twice.txt'), 600_000)
  await waitFor(() => readFileSync(join(b.folder, 'edited-twice.txt'), 'utf8') === 'v3')
  await a.stop()

  // While A is down, B edits a file (B's is the newest content of it).
  ledger.write(b, 'newer-on-b.txt', 'newer on b')
  await waitFor(async () => (await cli(b.home, ['history', join(b.folder, 'newer-on-b.txt'), '--json'])).json.versions.length === 2, { what: 'B to record its edit' })
  await b.stop()

  // A's database is gone; its disk has an offline edit, and a file back at an old content (a
  // restored backup), older than what B has.
  rmSync(join(a.home, 'db'), { recursive: true, force: true })
  ledger.write(a, 'edited-offline-on-a.txt', 'offline edit on a')
  ledger.write(a, 'edited-twice.txt', 'v1')
  setAge(join(a.folder, 'edited-twice.txt'), 3_600_000)

  await a.start(); await b.start()
  const tree = await waitConverged([a, b], { what: 'the rejoin to settle', timeoutMs: 45_000 })
  const read = (name: string): string => readFileSync(join(a.folder, name), 'utf8')
  const copiesOf = (stem: string): string[] => readdirSync(a.folder).filter(n => n.startsWith(`${stem}.sync-conflict-`))

  assert.is(read('newer-on-b.txt'), 'newer on b', 'B\'s newer content keeps the name')
  assert.equal(copiesOf('newer-on-b').map(read), ['original'], 'A\'s older content is kept as a conflict copy')
  assert.is(read('edited-offline-on-a.txt'), 'offline edit on a', 'A\'s offline edit is not overwritten')
  assert.equal(copiesOf('edited-offline-on-a').map(read), ['original'], 'B\'s content is kept as a conflict copy')
  assert.is(read('edited-twice.txt'), 'v3', 'A\'s stale content does not overwrite B\'s newer one')
  assert.equal(copiesOf('edited-twice').map(read), ['v1'])
  assert.ok(readFileSync(join(a.folder, 'same.bin')).equals(same))
  assert.is(Object.keys(tree).length, 7, JSON.stringify(Object.keys(tree)))

  // The identical 300 kB file moved no data either way (only the small conflicting files did).
  const status = await a.status()
  const peer = status.peers.find((p: any) => p.deviceId === b.id)
  assert.ok(peer.blockBytesReceived < 10_000, `A received ${peer.blockBytesReceived as number} block bytes`)
  assert.ok(peer.blockBytesSent < 10_000, `A sent ${peer.blockBytesSent as number} block bytes`)
  await ledger.check()
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
