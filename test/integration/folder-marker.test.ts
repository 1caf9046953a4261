// A folder whose directory (and so its .lansync marker) disappears, as an unmounted disk does:
// the agent stops that folder and says why, turns no missing file into a deletion, writes nothing
// into the empty mount point, and carries on by itself once the directory is back. Ends with the
// ledger's checks (test/helpers/ledger.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { rmSync, existsSync, cpSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, cli, runCli, tempDir, waitFor } from '../helpers/cli.js'
import { makeCluster, waitConverged, type Device } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const docsOf = async (d: Device): Promise<any> => (await d.status()).folders.find((f: any) => f.id === 'docs')

test('rm -rf of the folder on A: A stops, B keeps every file; the folder back: sync goes on', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  const ledger = new Ledger([a, b])
  for (let i = 0; i < 20; i++) ledger.write(a, `f${i}.txt`, `file ${i}`)
  await a.start(); await b.start()
  await waitConverged([a, b])
  const backup = join(tempDir('lansync-backup-'), 'docs')
  cpSync(a.folder, backup, { recursive: true, preserveTimestamps: true })

  rmSync(a.folder, { recursive: true, force: true })
  const stopped = await waitFor(async () => {
    const f = await docsOf(a)
    return f.state === 'stopped' ? f : undefined
  }, { what: 'A to stop the folder' })
  assert.match(stopped.reason, new RegExp(`^folder marker missing at ${a.folder}/\\.lansync: is the disk mounted\\?`))
  assert.is(stopped.files, 20, 'the index still holds every file')
  assert.is(stopped.deleted, 0, 'no tombstone was made')
  const human = await cli(a.home, ['status'])
  assert.match(human.stdout, /stopped: folder marker missing at/)
  const resume = await runCli(a.home, ['folder', 'resume', 'docs'])
  assert.is(resume.code, 1)
  assert.match(resume.stderr, /its marker is missing at .*; mount its disk first, then resume/)
  await waitFor(() => /docs: stopped: folder marker missing at/.test(a.agent?.output() ?? ''), { what: 'the reason in the log' })

  // B changes something meanwhile: A hears of it but writes nothing where its disk should be.
  ledger.write(b, 'new-on-b.txt', 'made while A was away')
  await waitFor(async () => {
    const peer = (await a.status()).peers.find((p: any) => p.deviceId === b.id)
    return peer?.folders?.[0]?.needFiles > 0
  }, { timeoutMs: 30_000, what: 'A to know of the new file' })
  // A knows it needs the file; the write must not happen. (A negative: watched for a while.)
  const watchUntil = Date.now() + 1500
  while (Date.now() < watchUntil) {
    assert.not.ok(existsSync(a.folder), 'nothing is written into the missing folder')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  for (let i = 0; i < 20; i++) assert.ok(existsSync(join(b.folder, `f${i}.txt`)), `f${i}.txt kept on B`)
  const bDocs = await docsOf(b)
  assert.is(bDocs.files, 21)
  assert.is(bDocs.deleted, 0)

  // The disk is back: A notices by itself, rescans, and pulls what it missed.
  cpSync(backup, a.folder, { recursive: true, preserveTimestamps: true })
  await waitFor(async () => (await docsOf(a)).state === 'idle', { what: 'A to resume by itself' })
  await waitFor(() => /docs: idle: its marker is back/.test(a.agent?.output() ?? ''), { what: 'the return in the log' })
  const tree = await waitConverged([a, b], { what: 'A to catch up' })
  assert.is(Object.keys(tree).length, 21)
  assert.is(readFileSync(join(a.folder, 'new-on-b.txt'), 'utf8'), 'made while A was away')
  // And sync in both directions still works.
  ledger.write(a, 'after.txt', 'back')
  await waitFor(() => existsSync(join(b.folder, 'after.txt')), { what: 'a new file from A to reach B' })
  await ledger.check()
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
