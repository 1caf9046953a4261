// What `lansync pair` refuses, and how it says so: an expired window, too many wrong codes, no
// agent, a second window; stopping `lansync pair` closes its window.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { cleanupAll, cli, runCli } from '../helpers/cli.js'
import { pairingCodeFromBytes } from '../../src/core/pairing-code.js'
import { makeDevice, openWindow, start, wrongCodeFor } from '../helpers/pairing.js'

test('an expired window fails on both sides with a clear message', async () => {
  const alice = await makeDevice('alice')
  const bob = await makeDevice('bob', { withFolder: false })
  await start(alice)
  const window = await openWindow(alice, ['--timeout', '5'])
  assert.match(window.output(), /The code works once, until .* \(5 s\)/)
  assert.is(await window.exited, 1)
  assert.match(window.stderr(), /the pairing window expired before another device entered the code; run `lansync pair` again/)
  const late = await runCli(bob.home, ['pair', window.code, '--addr', window.addr])
  assert.is(late.code, 1)
  assert.match(late.stderr, /no pairing window is open at 127\.0\.0\.1:\d+: it expired, was already used, or was closed/)
  assert.equal((await cli(bob.home, ['device', 'list', '--json'])).json, [])
  assert.equal((await cli(alice.home, ['device', 'list', '--json'])).json, [])
  await alice.agent!.stop()
})

test('five wrong codes close the window; the right code is then refused too', async () => {
  const alice = await makeDevice('alice')
  const bob = await makeDevice('bob', { withFolder: false })
  await start(alice)
  const window = await openWindow(alice, ['--json'])
  const wrong = wrongCodeFor(window.code)
  for (let left = 4; left >= 1; left--) {
    const r = await runCli(bob.home, ['pair', wrong, '--addr', window.addr])
    assert.is(r.code, 1, r.stderr)
    assert.match(r.stderr, new RegExp(`${left} attempts? left`))
  }
  const last = await runCli(bob.home, ['pair', wrong, '--addr', window.addr, '--json'])
  assert.is(last.code, 1)
  assert.match(last.stderr, /wrong pairing code, and that was the last attempt: the other device closed its pairing window/)
  assert.is(JSON.parse(last.stdout.trim().split('\n').pop() as string).error.code, 'PAIR_RATE_LIMITED')
  assert.is(await window.exited, 1)
  assert.match(window.stderr(), /5 wrong pairing codes were tried, so the pairing window closed/)
  const events = window.output().trim().split('\n').map(line => JSON.parse(line))
  assert.equal(events.filter(e => e.event === 'wrong-code').map(e => e.attemptsLeft), [4, 3, 2, 1, 0])
  assert.is(events.at(-1).error.code, 'PAIR_RATE_LIMITED')
  const right = await runCli(bob.home, ['pair', window.code, '--addr', window.addr])
  assert.is(right.code, 1)
  assert.match(right.stderr, /no pairing window is open/)
  await alice.agent!.stop()
})

test('clear refusals: no agent running, a second window, stopping `pair` closes its window', async () => {
  const alice = await makeDevice('alice')
  const bob = await makeDevice('bob', { withFolder: false })
  const noAgent = await runCli(alice.home, ['pair'])
  assert.is(noAgent.code, 1)
  assert.match(noAgent.stderr, /no agent is running for this device: start it with `lansync start`/)
  const noFolder = await runCli(alice.home, ['pair', '--folder', 'nope'])
  assert.is(noFolder.code, 3)
  const noAddr = await runCli(bob.home, ['pair', pairingCodeFromBytes(new Uint8Array(5)).text])
  assert.is(noAddr.code, 2, noAddr.stderr)
  assert.match(noAddr.stderr, /lansync pair CODE --addr HOST:PORT/)

  await start(alice)
  const first = await openWindow(alice)
  const second = await runCli(alice.home, ['pair'])
  assert.is(second.code, 1)
  assert.match(second.stderr, /a pairing window is already open on this device/)
  // Ctrl-C on the window's terminal closes the window at once.
  first.child.kill('SIGINT')
  await first.exited
  const late = await runCli(bob.home, ['pair', first.code, '--addr', first.addr])
  assert.is(late.code, 1)
  assert.match(late.stderr, /no pairing window is open/)
  // And a new window can open.
  const again = await openWindow(alice)
  again.child.kill('SIGINT')
  await again.exited
  await alice.agent!.stop()
})

test.after(cleanupAll)
test.run()
