// A paired but hostile peer, driven by fast-check: thousands of generated frames (random bytes,
// random msgpack, valid messages mutated into wrong types, huge lengths, deep nesting,
// `__proto__` keys and hostile paths) over real Noise connections to a real agent. Each run is
// one connection: a valid hello (or a generated one), the generated frames, then a request whose answer proves the
// agent handled them all. The agent must stay up, close only that connection on a violation with
// a code and a reason (never an internal error), write nothing, and keep syncing with its good peer.
//
// Replay a failure with the seed and path it prints: FUZZ_SEED=123 FUZZ_PATH="4:1" (FUZZ_RUNS
// sets the number of runs; the whole property stops after FUZZ_TIME_S, default 60 s).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, existsSync, readdirSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { createHash } from 'node:crypto'
import crypto from 'hypercore-crypto'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { Transport, type Connection } from '../../src/net/transport.js'
import { encodeDeviceId, decodeDeviceId } from '../../src/core/device-id.js'
import { encodeFrame } from '../../src/protocol/framing.js'
import { encodeMessage } from '../../src/protocol/codec.js'
import { PROTOCOL_VERSION, type Message } from '../../src/protocol/messages.js'
import { cleanupAll, cli, waitFor } from '../helpers/cli.js'
import { onMessages } from '../helpers/raw-peer.js'
import { makeCluster, snapshotTree, waitConverged } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const packr = new Packr({ useRecords: false, mapsAsObjects: true })
const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()
const SEED = process.env.FUZZ_SEED !== undefined ? Number(process.env.FUZZ_SEED) : Math.floor(Math.random() * 2 ** 31)
const RUNS = Number(process.env.FUZZ_RUNS ?? 1500)
const TIME_LIMIT_MS = Number(process.env.FUZZ_TIME_S ?? 60) * 1000
const SYNC_ID = 0xfffffff0
const MALLORY_SHORT = 'fa11ed0000000001'
const hex16 = (): fc.Arbitrary<string> => fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 })

/** A frame as the wire has it (4-byte big-endian length, payload), for any payload, empty too. */
function rawFrame (payload: Uint8Array): Buffer {
  const header = Buffer.alloc(4)
  header.writeUInt32BE(payload.byteLength)
  return Buffer.concat([header, payload])
}

// ---- generators ---------------------------------------------------------------------------

const hostilePath = fc.constantFrom(
  '..', '../evil.txt', 'a/../../evil.txt', '/abs', '/tmp/evil.txt', 'a\u0000b', 'x'.repeat(2000), `d/${'y'.repeat(1100)}`,
  'CON', 'con.txt', 'NUL', 'aux/prn.txt', '.lansync-tmp-abc', 'sub/.lansync-tmp-x', '.LANSYNC-TMP-1', '.lansync',
  '.lansync/folder.json', '.LANSYNC/x', 'a//b', 'a/./b', '', '.', 'a\\b', 'e\u0301', 'bad\ud800', 'a/', ' ', '\u202e', 'x\n'
)
const fuzzPath = fc.oneof(hostilePath, fc.string({ maxLength: 40 }).map(s => `fz-${s}`))
const weird = fc.oneof(
  fc.anything({ maxDepth: 3, maxKeys: 5, withNullPrototype: true, withTypedArray: true }),
  fc.constantFrom(2 ** 53, -1, 1.5, NaN, Infinity, -Infinity, 2 ** 64, '', 'x'.repeat(5000), null, true, [], {}),
  fc.uint8Array({ maxLength: 40 })
)
const vector = fc.oneof(
  fc.dictionary(fc.string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 16, maxLength: 16 }), fc.integer({ min: 1, max: 2 ** 40 }), { minKeys: 1, maxKeys: 3 }),
  weird
)
const wireRecord = fc.record({
  p: fuzzPath,
  k: fc.integer({ min: -1, max: 3 }),
  s: fc.integer({ min: 0, max: 4 }),
  t: fc.integer(),
  m: fc.constantFrom(0o644, 0o755, 0o7777, 0o10000),
  v: vector,
  d: fc.boolean(),
  b: fc.constant([[sha(Buffer.from('evil')), 4]]),
  h: fc.constant(sha(Buffer.from('evil'))),
  o: fc.constantFrom(MALLORY_SHORT, 'ZZ', ''),
  q: fc.integer({ min: 0, max: 100 })
})

/** Valid-looking messages as wire maps, before a mutation. */
const template: fc.Arbitrary<Record<string, unknown>> = fc.oneof(
  fc.record({ type: fc.constant('hello'), protocol: fc.constantFrom(PROTOCOL_VERSION, 0, 2), deviceName: fc.string(), folders: fc.constant([]) }),
  fc.record({ type: fc.constantFrom('manifest', 'update'), folder: fc.constantFrom('docs', 'other', 'DOCS', '../docs'), records: fc.array(wireRecord, { maxLength: 3 }), sequence: fc.nat(), isLast: fc.boolean() }),
  fc.record({ type: fc.constant('request'), id: fc.nat(), folder: fc.constantFrom('docs', 'nope'), path: fuzzPath, hash: fc.uint8Array({ minLength: 32, maxLength: 32 }), sizeBytes: fc.integer({ min: 0, max: 2 ** 20 }) }),
  fc.record({ type: fc.constant('response'), id: fc.nat(), data: fc.uint8Array({ maxLength: 16 }) }),
  fc.record({ type: fc.constant('progress'), folder: fc.constantFrom('docs', 'nope'), needFiles: fc.integer(), needBytes: fc.integer(), sequence: fc.integer() }),
  fc.record({ type: fc.constant('ping') }),
  fc.record({ type: fc.constantFrom('pairStart', 'nope', '__proto__', 'constructor', ''), x: weird })
)

/**
 * Well-formed messages with hostile meaning: files at odd but legal names whose block the peer
 * never serves (so nothing may appear on disk), tombstones of paths nobody has, requests for
 * blocks the folder does not hold, progress with odd numbers, pings.
 */
const evil = Buffer.from('evil')
const oddName = fc.oneof(
  fc.constantFrom('CON', 'con.txt', 'NUL', 'aux/prn.txt', 'LPT1', 'x'.repeat(255), `${'deep/'.repeat(40)}f`, ' lead', 'trail ', '日本語.txt', 'é', 'a:b', 'q?.txt'),
  fc.string({ minLength: 1, maxLength: 30 }).map(s => `fz-${s.replace(/[\u0000-\u001f/\\]/g, '_')}`)
)
const validMessage: fc.Arbitrary<Message> = fc.oneof(
  fc.record({ path: oddName, isDeleted: fc.boolean(), vector: fc.dictionary(hex16(), fc.integer({ min: 1, max: 2 ** 40 }), { minKeys: 1, maxKeys: 3 }), isUpdate: fc.boolean() })
    .map(({ path, isDeleted, vector: v, isUpdate }) => {
      const record = isDeleted
        ? { path, kind: 'file', sizeBytes: 0, mtimeMs: 1, mode: 0o644, vector: v, isDeleted: true, blocks: [], hash: sha(Buffer.alloc(0)), linkTarget: '', modifiedBy: MALLORY_SHORT, sequence: 1 }
        : { path, kind: 'file', sizeBytes: 4, mtimeMs: 1, mode: 0o644, vector: v, isDeleted: false, blocks: [{ hash: sha(evil), sizeBytes: 4 }], hash: sha(evil), linkTarget: '', modifiedBy: MALLORY_SHORT, sequence: 1 }
      return (isUpdate ? { type: 'update', folder: 'docs', records: [record], sequence: 1 } : { type: 'manifest', folder: 'docs', records: [record], sequence: 1, isLast: true }) as Message
    }),
  fc.record({ id: fc.nat({ max: 0xffffff }), path: fc.oneof(oddName, fc.constant('keep-3-7f3a.txt')), hash: fc.uint8Array({ minLength: 32, maxLength: 32 }), sizeBytes: fc.integer({ min: 1, max: 256 * 1024 }) })
    .map(r => ({ type: 'request', folder: 'docs', ...r }) as Message),
  fc.record({ needFiles: fc.nat(), needBytes: fc.maxSafeNat(), sequence: fc.maxSafeNat() }).map(r => ({ type: 'progress', folder: 'docs', ...r }) as Message),
  fc.constant({ type: 'ping' } as Message)
)

type Mutation = (m: Record<string, unknown>) => Record<string, unknown>
const setOwn = (o: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> => {
  Object.defineProperty(o, key, { value, enumerable: true, writable: true, configurable: true })
  return o
}
const nest = (depth: number): unknown => { let v: unknown = 1; for (let i = 0; i < depth; i++) v = [v]; return v }
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.constant<Mutation>(m => m),
  fc.tuple(fc.string({ maxLength: 8 }), weird).map(([k, v]): Mutation => m => setOwn(m, Object.keys(m)[k.length % Object.keys(m).length] ?? 'type', v)),
  fc.nat().map((i): Mutation => m => { const keys = Object.keys(m); delete m[keys[i % keys.length]]; return m }),
  weird.map((v): Mutation => m => setOwn(m, '__proto__', v)),
  fc.constantFrom('constructor', 'prototype', 'toString').map((k): Mutation => m => setOwn(m, k, { polluted: true })),
  fc.integer({ min: 9, max: 200 }).map((d): Mutation => m => setOwn(m, 'folders' in m ? 'folders' : 'records', nest(d))),
  fc.constant<Mutation>(m => setOwn(m, 'records', Array.from({ length: 1001 }, (_, i) => ({ p: `n${i}` })))),
  fc.constant<Mutation>(m => setOwn(m, 'unknownField', 'x'))
)

/** The frames of one run: each a whole frame (the last may be cut short, then the peer hangs up). */
const frame: fc.Arbitrary<Uint8Array> = fc.oneof(
  { weight: 3, arbitrary: validMessage.map(m => encodeFrame(encodeMessage(m))) },
  { weight: 5, arbitrary: fc.tuple(template, mutation).map(([m, mutate]) => rawFrame(packWire(mutate(m)))) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 300 }).map(b => rawFrame(b)) },
  { weight: 2, arbitrary: weird.map(v => rawFrame(packr.pack(v))) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]), // a frame header far over the limit
      Buffer.from([0x01, 0x00, 0x00, 0x01, 0]), // just over 16 MiB
      rawFrame(Buffer.from([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xdb, 0x7f, 0xff, 0xff, 0xff])), // str32 of 2 GiB
      rawFrame(Buffer.from([0x81, 0xa1, 0x78, 0xdd, 0xff, 0xff, 0xff, 0xff])), // array32 of 4G items
      rawFrame(Buffer.from([0xdf, 0xff, 0xff, 0xff, 0xff])), // map32 of 4G entries
      rawFrame(Buffer.alloc(0)), // an empty frame
      rawFrame(Buffer.from([0xc1])), // never-used msgpack byte
      rawFrame(Buffer.from([0xd4, 0x01, 0x00])), // an ext type
      rawFrame(Buffer.concat([Buffer.alloc(100, 0x91), Buffer.from([0xc0])])) // 100 nested arrays
    )
  }
)
const folderId = fc.oneof(fc.constantFrom('docs', 'DOCS', '-x', ''), fc.string({ unit: fc.constantFrom(...'abcdefgh0123-'), minLength: 1, maxLength: 12 }))
/** A first hello of our own making (else the valid one): other folders (offers), odd epochs, odd fields. */
const firstHello = fc.tuple(fc.record({
  type: fc.constant('hello'),
  protocol: fc.constantFrom(PROTOCOL_VERSION, PROTOCOL_VERSION, 0, 2 ** 32),
  deviceName: fc.oneof(fc.string({ maxLength: 40 }), fc.constant('x'.repeat(300)), fc.constant('evil\u0000name')),
  folders: fc.array(fc.record({ id: folderId, label: fc.string({ maxLength: 20 }), epoch: fc.oneof(hex16(), weird), sequence: fc.nat(), haveEpoch: fc.oneof(hex16(), fc.constant('')), haveSequence: fc.oneof(fc.nat(), fc.constant(2 ** 53)) }), { maxLength: 12 })
}), fc.oneof({ weight: 3, arbitrary: fc.constant<Mutation>(m => m) }, { weight: 1, arbitrary: mutation })).map(([m, mutate]) => rawFrame(packWire(mutate(m))))

const run = fc.record({ hello: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: firstHello }), frames: fc.array(frame, { minLength: 1, maxLength: 8 }), cutShort: fc.oneof({ weight: 9, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: fc.nat({ max: 64 }) }) })

/** Packs a (mutated) wire map as it is: `type` is the message's name (protocol.md section 4). */
function packWire (m: Record<string, unknown>): Uint8Array {
  return packr.pack(m)
}

// ---- the test -----------------------------------------------------------------------------

test('fuzzed frames from a paired peer: only that connection closes, with a reason; nothing is written; the good peer syncs', async () => {
  console.log(`fuzz: seed ${SEED} (replay: FUZZ_SEED=${SEED}), ${RUNS} runs at most, ${TIME_LIMIT_MS / 1000} s at most`)
  const [a, b] = await makeCluster(['a', 'b'])
  const hostile = crypto.keyPair()
  const hostileId = encodeDeviceId(hostile.publicKey)
  await cli(a.home, ['device', 'add', hostileId, '--name', 'mallory'])
  await cli(a.home, ['folder', 'share', 'docs', hostileId])
  const ledger = new Ledger([a, b])
  for (let i = 0; i < 12; i++) ledger.write(a, `keep-${i}-7f3a.txt`, `keep ${i}`)
  await a.start(); await b.start()
  await waitConverged([a, b])
  const statusOf = async (): Promise<any> => await a.status()
  const before = { tree: snapshotTree(a.folder), outside: readdirSync(dirname(a.folder)).sort(), docs: (await statusOf()).folders[0] }
  const history = await cli(a.home, ['history', join(a.folder, 'keep-3-7f3a.txt'), '--json'])
  const bSince = (await statusOf()).peers.find((p: any) => p.deviceId === b.id).connectedMs
  const aKey = decodeDeviceId(a.id)
  const transport = new Transport({ keyPair: hostile, isAllowed: () => true })
  const hello = encodeFrame(encodeMessage({ type: 'hello', protocol: PROTOCOL_VERSION, deviceName: 'mallory', folders: [{ id: 'docs', label: 'docs', epoch: '0123456789abcdef', sequence: 1, haveEpoch: '', haveSequence: 0 }] } as Message))
  const sync = encodeFrame(encodeMessage({ type: 'request', id: SYNC_ID, folder: 'docs', path: 'fz-sync-probe', hash: sha(Buffer.from('x')), sizeBytes: 1 } as Message))
  const stats = { runs: 0, frames: 0, closedByAgent: 0, survived: 0, hungUp: 0 }
  const codes = new Map<string, number>()

  const property = fc.asyncProperty(run, async ({ hello: ownHello, frames, cutShort }) => {
    stats.runs += 1
    const conn: Connection = await transport.dial('127.0.0.1', a.port, aKey)
    let closeMessage: { code: string, reason: string } | undefined
    let isSynced = false
    const ended = new Promise<void>(resolve => { if (!conn.isOpen) resolve(); conn.on('close', () => resolve()) })
    onMessages(conn, message => {
      if (message?.type === 'close') closeMessage = { code: message.code, reason: message.reason }
      if (message?.type === 'response' && message.id === SYNC_ID) isSynced = true
    })
    conn.send(ownHello ?? hello)
    for (const f of frames) { conn.send(f); stats.frames += 1 }
    if (cutShort !== null) {
      // A frame cut short, then the peer hangs up: the agent just drops the connection.
      conn.send(rawFrame(Buffer.alloc(100, 0x90)).subarray(0, 4 + cutShort))
      conn.close('hung up')
      await ended
      stats.hungUp += 1
      return true
    }
    conn.send(sync)
    const deadline = Date.now() + 10_000
    while (!isSynced && conn.isOpen && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 2))
    if (isSynced) {
      stats.survived += 1
      conn.close('done')
      await ended
      return true
    }
    await Promise.race([ended, new Promise(resolve => setTimeout(resolve, 2000))])
    assert.not.ok(conn.isOpen, 'the agent neither answered nor closed the connection within 10 s')
    stats.closedByAgent += 1
    assert.ok(closeMessage !== undefined, 'the agent says why it closes')
    assert.match(closeMessage.code, /^[A-Z][A-Z0-9_]+$/)
    assert.is.not(closeMessage.code, 'INTERNAL', `an internal error: ${closeMessage.reason}`)
    assert.ok(closeMessage.reason.length > 0, 'with a reason')
    codes.set(closeMessage.code, (codes.get(closeMessage.code) ?? 0) + 1)
    return true
  })
  try {
    await fc.assert(property, {
      seed: SEED,
      path: process.env.FUZZ_PATH,
      numRuns: RUNS,
      interruptAfterTimeLimit: TIME_LIMIT_MS,
      markInterruptAsFailure: false,
      endOnFailure: true // no shrinking against a live agent: the seed and path replay the case
    })
  } catch (err) {
    // fast-check's message holds the seed and path to replay; its counterexample (frames of up
    // to 100 kB) is cut so that the runner's output stays readable.
    const lines = String((err as Error).message).split('\n').map(l => l.length > 600 ? `${l.slice(0, 600)}… (${l.length} chars)` : l)
    const cause = (err as { cause?: Error }).cause
    throw new Error(`${lines.filter(l => !l.startsWith('Hint:')).join('\n')}\nfailed with: ${String(cause?.message ?? cause)}\nreplay: FUZZ_SEED=${SEED} FUZZ_PATH=<path above> node scripts/run-tests.mjs test/integration/fuzz-peer.test.ts`)
  } finally {
    console.log(`fuzz: ${JSON.stringify(stats)} close codes ${JSON.stringify(Object.fromEntries(codes))}`)
  }
  assert.ok(stats.frames >= Math.min(1000, RUNS), `thousands of frames: ${stats.frames}`)
  assert.ok(stats.closedByAgent > 0 && stats.survived > 0)

  // The agent is up, logged a reason for each connection it closed, and never an internal error.
  assert.is(a.agent?.child.exitCode, null, 'the agent is still running')
  const mallory7 = hostileId.slice(0, 7)
  await waitFor(() => (a.agent?.output().split('\n').filter(l => l.includes(`closing connection to ${mallory7}:`)).length ?? 0) >= stats.closedByAgent,
    { what: 'a log line per closed connection' })
  assert.not.match(a.agent?.output() ?? '', /internal error/)

  // Offers: a hello that offers 1000 new folders leaves at most 100 of them in the config.
  {
    const conn = await transport.dial('127.0.0.1', a.port, aKey)
    const ended = new Promise<void>(resolve => conn.on('close', () => resolve()))
    onMessages(conn, () => {})
    const folders = Array.from({ length: 1000 }, (_, i) => ({ id: `offer-${i}`, label: `offer ${i}`, epoch: '0123456789abcdef', sequence: 1, haveEpoch: '', haveSequence: 0 }))
    conn.send(encodeFrame(encodeMessage({ type: 'hello', protocol: PROTOCOL_VERSION, deviceName: 'mallory', folders } as Message)))
    await waitFor(() => /offers more than 100 folders; the rest are ignored/.test(a.agent?.output() ?? ''), { what: 'the offer cap in the log' })
    conn.close('done')
    await ended
    const offers = JSON.parse(readFileSync(join(a.home, 'config.json'), 'utf8')).offers.filter((o: any) => o.fromDevice === hostileId)
    assert.is(offers.length, 100)
  }
  await transport.close()

  // Nothing was written, inside the folder or beside it; history is as it was.
  assert.equal(snapshotTree(a.folder), before.tree)
  assert.equal(readdirSync(dirname(a.folder)).sort(), before.outside)
  assert.not.ok(existsSync('/tmp/evil.txt'))
  const docs = (await statusOf()).folders[0]
  assert.is(docs.files, before.docs.files)
  assert.is(docs.bytes, before.docs.bytes)
  assert.equal((await cli(a.home, ['history', join(a.folder, 'keep-3-7f3a.txt'), '--json'])).json, history.json)

  // The good peer's connection was never touched, and it still syncs both ways.
  const peerB = (await statusOf()).peers.find((p: any) => p.deviceId === b.id)
  assert.ok(peerB.isConnected)
  assert.is(peerB.connectedMs, bSince, 'the good peer kept its connection')
  ledger.write(b, 'after-fuzz.txt', 'still syncing')
  ledger.write(a, 'after-fuzz-a.txt', 'and back')
  await waitConverged([a, b])
  assert.is(readFileSync(join(a.folder, 'after-fuzz.txt'), 'utf8'), 'still syncing')
  await ledger.check()
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
