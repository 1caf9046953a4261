// A name this device's file system cannot hold (here: longer than Linux's 255-byte NAME_MAX, legal
// on NTFS) is reported for that one file in `status`, the connection stays up, the other files
// arrive, and nothing is deleted because of it.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import crypto from 'hypercore-crypto'
import { Transport } from '../../src/net/transport.js'
import { encodeDeviceId, decodeDeviceId } from '../../src/core/device-id.js'
import { encodeFrame } from '../../src/protocol/framing.js'
import { encodeMessage } from '../../src/protocol/codec.js'
import { PROTOCOL_VERSION, type Message } from '../../src/protocol/messages.js'
import { cleanupAll, cli, waitFor } from '../helpers/cli.js'
import { onMessages, sendMessage } from '../helpers/raw-peer.js'
import { makeCluster } from '../helpers/cluster.js'

const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()

test('a name too long for this file system is a per-file problem, not a broken sync', async () => {
  const [a] = await makeCluster(['a'])
  const peer = crypto.keyPair()
  const peerId = encodeDeviceId(peer.publicKey)
  await cli(a.home, ['device', 'add', peerId, '--name', 'ntfs-box'])
  await cli(a.home, ['folder', 'share', 'docs', peerId])
  writeFileSync(join(a.folder, 'mine.txt'), 'keep me')
  await a.start()

  const longName = '語'.repeat(100) + '.txt' // 304 UTF-8 bytes: fine on NTFS, too long for ext4
  const contents = new Map<string, Buffer>([[longName, Buffer.from('from far away')], ['ok.txt', Buffer.from('this one fits')]])
  const blocks = new Map([...contents.values()].map(b => [sha(b).toString('hex'), b]))
  const records = [...contents].map(([path, bytes], i) => ({
    path, kind: 'file' as const, sizeBytes: bytes.length, mtimeMs: 1_700_000_000_000, mode: 0o644, vector: { '00000000000000bb': 1 },
    isDeleted: false, blocks: [{ hash: sha(bytes), sizeBytes: bytes.length }], hash: sha(bytes), linkTarget: '', modifiedBy: '00000000000000bb', sequence: i + 1
  }))

  const transport = new Transport({ keyPair: peer, isAllowed: () => true })
  const conn = await transport.dial('127.0.0.1', a.port, decodeDeviceId(a.id))
  let closeReason: string | undefined
  conn.on('close', reason => { closeReason = reason })
  onMessages(conn, message => {
    if (message.type === 'request') sendMessage(conn, { type: 'response', id: message.id, data: blocks.get(Buffer.from(message.hash).toString('hex')) } as Message)
  })
  conn.send(encodeFrame(encodeMessage({ type: 'hello', protocol: PROTOCOL_VERSION, deviceName: 'ntfs-box', folders: [{ id: 'docs', label: 'docs', epoch: '0123456789abcdef', sequence: 2, haveEpoch: '', haveSequence: 0 }] } as Message)))
  conn.send(encodeFrame(encodeMessage({ type: 'manifest', folder: 'docs', records, sequence: 2, isLast: true } as Message)))

  await waitFor(() => existsSync(join(a.folder, 'ok.txt')), { what: 'the file that fits', timeoutMs: 20_000 })
  assert.is(readFileSync(join(a.folder, 'ok.txt'), 'utf8'), 'this one fits')
  const status = await waitFor(async () => {
    const s = (await cli(a.home, ['status', '--json'])).json
    return s.folders[0].problems.length > 0 ? s : undefined
  }, { what: 'the problem in status' })
  const problem = status.folders[0].problems[0]
  assert.is(problem.path, longName)
  assert.is(problem.code, 'PATH_UNREPRESENTABLE')
  assert.match(problem.message, /cannot exist on this device's file system/)
  const human = await cli(a.home, ['status'])
  assert.match(human.stdout, /1 path with problems/)
  assert.is(closeReason, undefined, 'the connection stays up')
  assert.is(readFileSync(join(a.folder, 'mine.txt'), 'utf8'), 'keep me', 'nothing of ours is touched')
  const history = await cli(a.home, ['history', join(a.folder, 'mine.txt'), '--json'])
  assert.is(history.json.versions.length, 1, 'no deletion recorded')
  await transport.close()
  await a.stop()
})

test('a local name that cannot go on the wire stays local, is reported, and the rest syncs', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  writeFileSync(join(a.folder, 'back\\slash.txt'), 'only here')
  writeFileSync(join(a.folder, 'ok.txt'), 'travels')
  await a.start(); await b.start()
  await waitFor(() => existsSync(join(b.folder, 'ok.txt')), { what: 'ok.txt on b', timeoutMs: 20_000 })
  const status = (await cli(a.home, ['status', '--json'])).json
  assert.equal(status.folders[0].problems.map((p: any) => [p.path, p.code]), [['back\\slash.txt', 'PATH_UNSYNCABLE']])
  writeFileSync(join(a.folder, 'later.txt'), 'still syncing')
  await waitFor(() => existsSync(join(b.folder, 'later.txt')), { what: 'a later file on b', timeoutMs: 20_000 })
  assert.not.ok(existsSync(join(b.folder, 'back\\slash.txt')))
  assert.is(readFileSync(join(a.folder, 'back\\slash.txt'), 'utf8'), 'only here')
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
