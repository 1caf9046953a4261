// Bandwidth limits with real agents: a receive limit and a per-device send limit slow a transfer
// down (only a lower bound on its time is asserted), a limit changed on a running agent applies to
// the transfer waiting for it, and bad rates are refused with nothing changed.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { cleanupAll, cli, runCli, waitFor } from '../helpers/cli.js'
import { makeCluster, type Device } from '../helpers/cluster.js'
import { updateConfig } from '../../src/config.js'
import { callAgent } from '../../src/control/client.js'
import type { LansyncError } from '../../src/errors.js'

const MiB = 1024 * 1024

/** Writes `sizeBytes` of random bytes (no block known anywhere) on `from`; resolves with the seconds until `to` has all of them. */
async function timeTransfer (from: Device, to: Device, name: string, sizeBytes = 4 * MiB): Promise<number> {
  const data = randomBytes(sizeBytes)
  const startMs = Date.now()
  writeFileSync(join(from.folder, name), data)
  await waitFor(() => existsSync(join(to.folder, name)) && readFileSync(join(to.folder, name)).equals(data), { timeoutMs: 40_000, intervalMs: 100, what: `${name} to reach ${to.name}` })
  return (Date.now() - startMs) / 1000
}

const peerOf = async (d: Device, name: string): Promise<any> => (await d.status()).peers.find((p: any) => p.name === name)

test('--max-recv on B and a per-device send limit on A slow a 4 MiB file; a limit changed at runtime applies at once', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  await a.start()
  await b.start({ args: ['--max-recv', '1MiB/s'] })
  await waitFor(async () => (await peerOf(a, 'b'))?.isConnected, { what: 'a and b to connect' })
  const status = { json: await b.status() }
  assert.equal({ ...status.json.limits, devices: undefined }, { maxSendBps: 0, maxRecvBps: MiB, isFromStartFlags: true, devices: undefined })
  assert.match((await cli(b.home, ['status'])).stdout, /Bandwidth: send unlimited, receive 1 MiB\/s \(from `lansync start` flags\)/)

  const recvSecs = await timeTransfer(a, b, 'one.bin')
  assert.ok(recvSecs >= 2.5, `4 MiB at 1 MiB/s took only ${recvSecs} s`)

  // `limits set` saves the limit and replaces the start flag on the running agent.
  const lifted = await cli(b.home, ['limits', 'set', '--max-recv', 'off', '--json'])
  assert.is(lifted.json.maxRecvBps, 0)
  assert.is(lifted.json.isFromStartFlags, false)
  assert.is(JSON.parse(readFileSync(join(b.home, 'config.json'), 'utf8')).maxRecvBps, 0)

  const set = await cli(a.home, ['device', 'set', 'b', '--max-send', '1MiB', '--json'])
  assert.is(set.json.maxSendBps, MiB)
  assert.is((await peerOf(a, 'b')).maxSendBps, MiB)
  const sendSecs = await timeTransfer(a, b, 'two.bin')
  assert.ok(sendSecs >= 2.5, `4 MiB at 1 MiB/s to b took only ${sendSecs} s`)

  // 32 KiB/s would need over two minutes for 4 MiB: lifting it while the blocks wait lets them go.
  await cli(a.home, ['device', 'set', 'b', '--max-send', '32KiB/s'])
  const data = randomBytes(4 * MiB)
  writeFileSync(join(a.folder, 'three.bin'), data)
  await waitFor(async () => (await peerOf(b, 'a'))?.folders?.[0]?.needBytes > 0, { what: 'b to start fetching three.bin' })
  await new Promise(resolve => setTimeout(resolve, 1000))
  assert.not.ok(existsSync(join(b.folder, 'three.bin')), 'three.bin arrived at 32 KiB/s')
  await cli(a.home, ['device', 'set', 'b', '--max-send', '0'])
  await waitFor(() => existsSync(join(b.folder, 'three.bin')) && readFileSync(join(b.folder, 'three.bin')).equals(data), { timeoutMs: 30_000, intervalMs: 100, what: 'three.bin to arrive once the limit is lifted' })
  // The control method takes limits in bytes/s (for other clients than the CLI), checked alike.
  const socket = join(b.home, 'agent.sock')
  const refused = await callAgent(socket, 'limits', { maxSendBps: '1MiB' }).then(() => undefined, (err: unknown) => err)
  assert.is((refused as LansyncError)?.code, 'ARG_INVALID')
  const applied: any = await callAgent(socket, 'limits', { maxSendBps: 2 * MiB })
  assert.is(applied.maxSendBps, 2 * MiB)
  assert.is(JSON.parse(readFileSync(join(b.home, 'config.json'), 'utf8')).maxSendBps, 2 * MiB)
  await a.stop(); await b.stop()
})

test('bad rates are refused with ARG_INVALID and exit code 2; nothing changes', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const configBefore = readFileSync(join(a.home, 'config.json'), 'utf8')
  // (Every form of bad rate is in test/unit/rate.test.ts; here each command that takes one.)
  for (const args of [
    ['limits', 'set', '--max-send', '10Mb'],
    ['limits', 'set'],
    ['device', 'set', 'b', '--max-recv=-1MiB'],
    ['start', '--max-recv', '5 parsecs']
  ]) {
    const r = await runCli(a.home, [...args, '--json'])
    assert.is(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.is(r.json.error.code, 'ARG_INVALID', args.join(' '))
    if (args.some(x => x.includes('max-'))) assert.match(r.stderr, /must be a rate such as 500KiB, 2MB\/s or 10Mbit/)
    if (args.includes('10Mb')) assert.match(r.stderr, /not "10Mb": "Mb" is ambiguous: write MB for bytes or Mbit for bits/)
  }
  assert.is(readFileSync(join(a.home, 'config.json'), 'utf8'), configBefore)
  assert.is((await runCli(a.home, ['device', 'pause', 'nosuch'])).code, 3)
  // A config edited by hand with a bad limit is refused when loaded, with the field named.
  const config = JSON.parse(configBefore)
  config.maxSendBps = -5
  writeFileSync(join(b.home, 'config.json'), JSON.stringify(config))
  const broken = await runCli(b.home, ['status'])
  assert.is(broken.code, 1)
  assert.match(broken.stderr, /maxSendBps must be 0 \(no limit\) or bytes per second/)
  // Without an agent, `limits` shows the config's.
  updateConfig(a.home, c => { c.maxSendBps = 2_000_000; c.devices[0].maxRecvBps = 512 * 1024 })
  const shown = (await cli(a.home, ['limits'])).stdout
  assert.match(shown, /Bandwidth: send 1\.91 MiB\/s, receive unlimited\n/)
  assert.match(shown, /b\s+unlimited\s+512 KiB\/s/)
})

test.after(cleanupAll)
test.run()
