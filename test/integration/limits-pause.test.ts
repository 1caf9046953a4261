// Bandwidth limits and pause/resume with real agents: a receive limit and a per-device send limit
// slow a transfer down (only a lower bound on its time is asserted), a limit changed on a running
// agent applies to the transfer waiting for it, bad rates are refused; a paused folder or device
// syncs nothing until resumed, also across a restart.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync, existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { cleanupAll, cli, runCli, waitFor } from '../helpers/cli.js'
import { makeCluster, waitConverged, type Device } from '../helpers/cluster.js'

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
const docsOf = async (d: Device): Promise<any> => (await d.status()).folders.find((f: any) => f.id === 'docs')

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
  assert.match((await cli(a.home, ['status'])).stdout, /limits ↓unlimited ↑1 MiB\/s/)
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
  // Offline, `limits set` saves and `limits` shows.
  await cli(a.home, ['limits', 'set', '--max-send', '2MB/s'])
  assert.match((await cli(a.home, ['limits'])).stdout, /Bandwidth: send 1\.91 MiB\/s, receive unlimited/)
})

test('a paused folder syncs with no device but records local versions; pause survives a restart; `folder resume` syncs again', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  writeFileSync(join(a.folder, 'before.txt'), 'before')
  await a.start(); await b.start()
  await waitConverged([a, b])
  const paused = await cli(b.home, ['folder', 'pause', 'docs', '--json'])
  assert.is(paused.json.isPaused, true)
  const folder = await docsOf(b)
  assert.is(folder.state, 'paused')
  assert.is(folder.isPaused, true)
  assert.match(folder.reason, /paused by a person/)
  assert.match((await cli(b.home, ['status'])).stdout, /docs\s+paused: paused by a person/)
  assert.match(b.agent?.output() ?? '', /docs: paused by a person/)

  writeFileSync(join(a.folder, 'from-a.txt'), 'new on a')
  writeFileSync(join(b.folder, 'from-b.txt'), 'new on b')
  // B still records its own change (history), and tells nobody.
  await waitFor(async () => (await docsOf(b)).files === 2, { what: 'b to record from-b.txt while paused' })
  const history = await cli(b.home, ['history', join(b.folder, 'from-b.txt'), '--json'])
  assert.ok(JSON.stringify(history.json).includes('from-b.txt'), JSON.stringify(history.json))
  await waitFor(async () => (await docsOf(a)).files === 2, { what: 'a to record from-a.txt' })
  // Still connected, but the folder is linked with no one: nothing can flow either way.
  await waitFor(async () => (await peerOf(b, 'a'))?.isConnected && (await peerOf(a, 'b'))?.isConnected, { what: 'a and b to reconnect without the folder' })
  assert.equal((await peerOf(b, 'a')).folders, [])
  assert.equal((await peerOf(a, 'b')).folders, [])
  assert.not.ok(existsSync(join(b.folder, 'from-a.txt')), 'from-a.txt reached a paused folder')
  assert.not.ok(existsSync(join(a.folder, 'from-b.txt')), 'from-b.txt left a paused folder')

  // The pause is in the config: still paused after a restart.
  await b.stop()
  await b.start()
  await waitFor(async () => (await peerOf(b, 'a'))?.isConnected, { what: 'b to connect again' })
  assert.is((await docsOf(b)).state, 'paused')
  assert.equal((await peerOf(b, 'a')).folders, [])
  assert.not.ok(existsSync(join(b.folder, 'from-a.txt')), 'from-a.txt reached a paused folder after a restart')

  const resumed = await cli(b.home, ['folder', 'resume', 'docs', '--json'])
  assert.equal(resumed.json, { folder: 'docs', label: 'docs', wasPaused: true, held: 0, deleted: 0, kept: 0 })
  const tree = await waitConverged([a, b], { what: 'the folder to sync after resume' })
  assert.equal(Object.keys(tree).sort(), ['before.txt', 'from-a.txt', 'from-b.txt'])
  assert.match(b.agent?.output() ?? '', /docs: resumed: syncing with its devices again/)
  // Resuming a folder that is not paused is the delete guard's resume: nothing held, nothing done.
  assert.match((await cli(b.home, ['folder', 'resume', 'docs'])).stdout, /holds no deletes/)
  await a.stop(); await b.stop()
})

test('a paused device is disconnected, neither dialed nor accepted, also after a restart; resume syncs again', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  await a.start(); await b.start()
  await waitFor(async () => (await peerOf(a, 'b'))?.isConnected, { what: 'a and b to connect' })
  const paused = await cli(a.home, ['device', 'pause', 'b', '--json'])
  assert.is(paused.json.isPaused, true)
  await waitFor(async () => (await peerOf(b, 'a'))?.isConnected === false, { what: 'b to see the session end' })
  const peer = await peerOf(a, 'b')
  assert.is(peer.isConnected, false)
  assert.is(peer.isPaused, true)
  assert.match(b.agent?.output() ?? '', /closed the connection: PEER_PAUSED a paused syncing with this device/)
  assert.match((await cli(a.home, ['device', 'list'])).stdout, /b\s+\S+\s+127\.0\.0\.1:\d+\s+paused/)

  writeFileSync(join(a.folder, 'while-paused.txt'), 'x')
  // b keeps dialing a (b did not pause anything); a refuses it at the handshake and says so once.
  await waitFor(() => /refused a connection from b at .*: paused here/.test(a.agent?.output() ?? ''), { timeoutMs: 20_000, what: 'a to refuse b' })
  assert.not.ok(existsSync(join(b.folder, 'while-paused.txt')))

  await a.stop()
  await a.start()
  await new Promise(resolve => setTimeout(resolve, 2000))
  assert.is((await peerOf(a, 'b')).isConnected, false)
  assert.is((await peerOf(b, 'a')).isConnected, false)
  assert.not.ok(existsSync(join(b.folder, 'while-paused.txt')))

  const resumed = await cli(a.home, ['device', 'resume', 'b'])
  assert.match(resumed.stdout, /Resumed "b"/)
  await waitConverged([a, b], { what: 'a resumed device to sync' })
  assert.is((await peerOf(a, 'b')).isPaused, false)
  await a.stop(); await b.stop()
})

let t0 = Date.now()
test.before.each(() => { t0 = Date.now() })
test.after.each(() => { console.log(`  (${(Date.now() - t0) / 1000} s)`) })
test.after(cleanupAll)
test.run()
