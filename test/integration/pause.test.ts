// Pause and resume with real agents: a paused folder syncs with no device (its local versions are
// still recorded), a paused device has no session; both stay paused across a restart, and
// resume syncs again.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, cli, waitFor } from '../helpers/cli.js'
import { makeCluster, waitConverged, type Device } from '../helpers/cluster.js'

const peerOf = async (d: Device, name: string): Promise<any> => (await d.status()).peers.find((p: any) => p.name === name)
const docsOf = async (d: Device): Promise<any> => (await d.status()).folders.find((f: any) => f.id === 'docs')

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

test.after(cleanupAll)
test.run()
