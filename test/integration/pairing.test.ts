// `lansync pair` as a person uses it in two terminals: real agents on 127.0.0.1 (mDNS off), the
// window's `lansync pair` as a long-running CLI process, `lansync pair CODE --addr` as another.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, cli, runCli, waitFor } from '../helpers/cli.js'
import { makeDevice, openWindow, start, status, wrongCodeFor } from '../helpers/pairing.js'

test('pair in two terminals: a wrong code fails, the right one pairs, both list each other, an offered folder syncs, and device remove cuts the connection at once', async () => {
  const alice = await makeDevice('alice')
  const bob = await makeDevice('bob', { withFolder: false })
  writeFileSync(join(alice.folder, 'hello.txt'), 'from alice')
  await start(alice); await start(bob)

  const window = await openWindow(alice, ['--folder', 'docs', '--timeout', '120'])
  assert.match(window.output(), /The other device will be offered: "docs" \(docs\)/)
  assert.match(window.addr, /^127\.0\.0\.1:\d+$/)

  // A typo the check character catches costs nothing; a wrong code is refused with attempts left.
  const typo = await runCli(bob.home, ['pair', window.code.slice(0, -1) + (window.code.endsWith('A') ? 'B' : 'A'), '--addr', window.addr])
  assert.is(typo.code, 2, typo.stderr)
  assert.match(typo.stderr, /is mistyped/)
  const wrong = await runCli(bob.home, ['pair', wrongCodeFor(window.code), '--addr', window.addr])
  assert.is(wrong.code, 1, wrong.stderr)
  assert.match(wrong.stderr, /wrong pairing code.*4 attempts left/)
  await waitFor(() => /A wrong code was tried from 127\.0\.0\.1:\d+; 4 attempts left/.test(window.output()), { what: 'the window to report the wrong code' })

  // The right code, typed in lower case with spaces, as people do.
  const right = await runCli(bob.home, ['pair', window.code.toLowerCase().replace(/-/g, ' '), '--addr', window.addr])
  assert.is(right.code, 0, right.stderr)
  assert.match(right.stdout, /Connecting to 127\.0\.0\.1:\d+…/)
  assert.match(right.stdout, /Checking the code…/)
  assert.match(right.stdout, new RegExp(`Paired with "alice" \\(${alice.id}\\) at 127\\.0\\.0\\.1:${alice.port}\\.`))
  assert.match(right.stdout, /"alice" offers folder "docs" \(docs\): accept it with `lansync folder accept docs PATH`/)
  assert.is(await window.exited, 0, window.stderr())
  assert.match(window.output(), new RegExp(`Paired with "bob" \\(${bob.id}\\) at 127\\.0\\.0\\.1:${bob.port}\\.`))
  assert.match(window.output(), /Offered folder "docs" \(docs\) to "bob"/)

  // Both list each other, and connect (each dials the address the pairing gave it).
  const aliceList = (await cli(alice.home, ['device', 'list', '--json'])).json
  const bobList = (await cli(bob.home, ['device', 'list', '--json'])).json
  assert.equal(aliceList.map((d: any) => [d.name, d.id, d.addresses]), [['bob', bob.id, [`127.0.0.1:${bob.port}`]]])
  assert.equal(bobList.map((d: any) => [d.name, d.id, d.addresses]), [['alice', alice.id, [`127.0.0.1:${alice.port}`]]])
  await waitFor(async () => (await status(bob)).peers.some((p: any) => p.deviceId === alice.id && p.isConnected), { what: 'bob to connect to alice' })
  const offers = (await cli(bob.home, ['folder', 'offers', '--json'])).json
  assert.equal(offers.map((o: any) => [o.folderId, o.fromDevice]), [['docs', alice.id]])

  // Accepting the offer syncs the folder.
  const bobDocs = join(bob.folder)
  await cli(bob.home, ['folder', 'accept', 'docs', bobDocs])
  await waitFor(() => existsSync(join(bobDocs, 'hello.txt')) && readFileSync(join(bobDocs, 'hello.txt'), 'utf8') === 'from alice', { timeoutMs: 30_000, what: 'hello.txt on bob' })
  writeFileSync(join(bobDocs, 'reply.txt'), 'from bob')
  await waitFor(() => existsSync(join(alice.folder, 'reply.txt')), { timeoutMs: 30_000, what: 'reply.txt on alice' })

  // device remove: the connection closes at once, on both ends, and stays closed.
  await waitFor(async () => (await status(alice)).peers.some((p: any) => p.deviceId === bob.id && p.isConnected), { what: 'alice to see bob connected' })
  const removedAt = Date.now()
  await cli(alice.home, ['device', 'remove', 'bob'])
  await waitFor(async () => !(await status(bob)).peers.some((p: any) => p.deviceId === alice.id && p.isConnected), { timeoutMs: 5_000, what: 'bob to lose the connection to alice' })
  assert.ok(Date.now() - removedAt < 5_000)
  assert.equal((await status(alice)).peers, [])
  await waitFor(() => /refused a connection from .*not paired/.test(alice.agent!.output()), { timeoutMs: 10_000, what: 'alice to refuse bob\'s redial' })
  assert.not.ok((await status(bob)).peers.some((p: any) => p.isConnected))
  await alice.agent!.stop(); await bob.agent!.stop()
})

test.after(cleanupAll)
test.run()
