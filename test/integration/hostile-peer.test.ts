// A paired-but-hostile peer and an unpaired one, speaking real Noise over TCP to a real agent:
// every violation closes that connection with a logged reason, the agent keeps serving its good
// peer, and nothing outside the folder (or half-checked inside it) is written. Ends with the
// ledger's checks (test/helpers/ledger.ts).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, existsSync, readdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { randomBytes, createHash } from 'node:crypto'
import crypto from 'hypercore-crypto'
import { Packr } from 'msgpackr'
import { Transport, type Connection } from '../../src/net/transport.js'
import { encodeDeviceId, decodeDeviceId } from '../../src/core/device-id.js'
import { encodeFrame } from '../../src/protocol/framing.js'
import { encodeMessage, recordToWire } from '../../src/protocol/codec.js'
import { PROTOCOL_VERSION, type Message } from '../../src/protocol/messages.js'
import { cleanupAll, cli, waitFor } from '../helpers/cli.js'
import { onMessages, sendMessage } from '../helpers/raw-peer.js'
import { makeCluster, waitConverged } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const packr = new Packr({ useRecords: false })
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()

test('bad peers are refused one by one while the good peer keeps syncing', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  const hostile = crypto.keyPair()
  const hostileId = encodeDeviceId(hostile.publicKey)
  await cli(a.home, ['device', 'add', hostileId, '--name', 'mallory'])
  await cli(a.home, ['folder', 'share', 'docs', hostileId])
  // One block (under the chunker's minimum) that the flood below asks for over and over.
  const floodBytes = randomBytes(12 * 1024)
  const ledger = new Ledger([a, b])
  ledger.write(a, 'flood.bin', floodBytes)
  await a.start(); await b.start()
  const outsideBefore = readdirSync(dirname(a.folder)).sort()
  const aKey = decodeDeviceId(a.id)

  const transport = new Transport({ keyPair: hostile, isAllowed: () => true })
  const dial = async (): Promise<Connection> => await transport.dial('127.0.0.1', a.port, aKey)
  const closed = async (conn: Connection): Promise<string> => await new Promise(resolve => {
    if (!conn.isOpen) resolve('already closed')
    conn.on('close', reason => resolve(reason))
  })
  const hello = (): Message => ({ type: 'hello', protocol: PROTOCOL_VERSION, deviceName: 'mallory', folders: [{ id: 'docs', label: 'docs', epoch: '0123456789abcdef', sequence: 1, haveEpoch: '', haveSequence: 0 }] } as Message)

  // An unpaired key never gets a connection.
  const stranger = new Transport({ keyPair: crypto.keyPair(), isAllowed: () => true })
  let strangerError: any
  try { await stranger.dial('127.0.0.1', a.port, aKey) } catch (err) { strangerError = err }
  assert.ok(strangerError !== undefined, 'an unpaired device cannot connect')
  await stranger.close()

  const cases: Array<[string, (c: Connection) => void]> = [
    ['garbage bytes', c => { c.send(randomBytes(64)) }],
    ['an oversized frame', c => { c.send(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3])) }],
    ['truncated msgpack', c => { c.send(encodeFrame(Buffer.from([0x82, 0xa4, 0x74]))) }],
    ['a message before hello', c => { c.send(encodeFrame(encodeMessage({ type: 'ping' } as Message))) }],
    ...['../evil.txt', '/tmp/evil.txt', 'a/../../evil.txt'].map((path): [string, (c: Connection) => void] => [`a manifest path ${path}`, c => {
      c.send(encodeFrame(encodeMessage(hello())))
      const wire: any = recordToWire({ path: 'x', kind: 'file', sizeBytes: 4, mtimeMs: 1, mode: 0o644, vector: { '00000000000000aa': 5 }, isDeleted: false, blocks: [{ hash: sha(Buffer.from('evil')), sizeBytes: 4 }], hash: sha(Buffer.from('evil')), linkTarget: '', modifiedBy: '00000000000000aa', sequence: 1 })
      wire.p = path
      c.send(encodeFrame(packr.pack({ type: 'manifest', folder: 'docs', records: [wire], sequence: 1, isLast: true })))
    }])
  ]
  for (const [name, misbehave] of cases) {
    const conn = await dial()
    conn.on('data', () => {})
    const isClosed = closed(conn)
    misbehave(conn)
    const reason = await Promise.race([isClosed, new Promise<string>(resolve => setTimeout(() => resolve('TIMEOUT'), 10_000))])
    assert.is.not(reason, 'TIMEOUT', `${name}: the agent closes the connection`)
  }

  // A flood of requests for a real block, whose answers it never reads: they back up, its requests
  // pile up unanswered, and past the limit the agent closes the connection.
  {
    const conn = await dial()
    const mark = a.agent?.output().length ?? 0
    conn.send(encodeFrame(encodeMessage(hello())))
    const frames = Array.from({ length: 20_000 }, (_, id) => encodeFrame(encodeMessage({ type: 'request', id, folder: 'docs', path: 'flood.bin', hash: sha(floodBytes), sizeBytes: floodBytes.length } as Message)))
    conn.send(Buffer.concat(frames))
    await waitFor(() => /closing connection to \w+: the peer has more than 4096 block requests unanswered/.test(a.agent?.output().slice(mark) ?? ''), { timeoutMs: 10_000, what: 'the flood to be cut off' })
    const isClosed = closed(conn)
    conn.on('data', () => {}) // read what backed up, to see the end of it
    const reason = await Promise.race([isClosed, new Promise<string>(resolve => setTimeout(() => resolve('TIMEOUT'), 10_000))])
    assert.is.not(reason, 'TIMEOUT', 'the flooding connection is closed')
  }

  // A block whose bytes do not match its hash: the connection closes and no file appears.
  {
    const conn = await dial()
    const claimed = Buffer.from('the real content')
    const record = { path: 'evil.txt', kind: 'file' as const, sizeBytes: claimed.length, mtimeMs: Date.now(), mode: 0o644, vector: { '00000000000000aa': 5 }, isDeleted: false, blocks: [{ hash: sha(claimed), sizeBytes: claimed.length }], hash: sha(claimed), linkTarget: '', modifiedBy: '00000000000000aa', sequence: 1 }
    onMessages(conn, message => {
      if (message.type === 'request') sendMessage(conn, { type: 'response', id: message.id, data: Buffer.from('not the real bytes') } as Message)
    })
    const isClosed = closed(conn)
    conn.send(encodeFrame(encodeMessage(hello())))
    conn.send(encodeFrame(encodeMessage({ type: 'manifest', folder: 'docs', records: [record], sequence: 1, isLast: true } as Message)))
    const reason = await Promise.race([isClosed, new Promise<string>(resolve => setTimeout(() => resolve('TIMEOUT'), 10_000))])
    assert.is.not(reason, 'TIMEOUT', 'a wrong block closes the connection')
    assert.not.ok(existsSync(join(a.folder, 'evil.txt')), 'nothing unverified is written')
  }
  await transport.close()

  // The agent is alive and still syncs with its good peer; nothing outside the folder changed.
  ledger.write(b, 'still-works.txt', 'yes')
  await waitConverged([a, b])
  assert.is(readFileSync(join(a.folder, 'still-works.txt'), 'utf8'), 'yes')
  assert.equal(readdirSync(dirname(a.folder)).sort(), outsideBefore)
  assert.not.ok(existsSync(join(dirname(a.folder), 'evil.txt')))
  assert.not.ok(existsSync('/tmp/evil.txt'))
  await waitFor(() => /closing connection to/.test(a.agent?.output() ?? ''), { what: 'logged reasons' })
  await ledger.check()
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
