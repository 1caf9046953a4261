// The pairing exchange in one process over loopback TCP: messages and their validation, then a
// real window and a real joiner: a right code, wrong codes and the rate limit, expiry, one attempt
// at a time, and a relaying man in the middle who swaps in its own key.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import net from 'node:net'
import { randomBytes } from 'node:crypto'
import { Packr } from 'msgpackr'
import { isLansyncError, type LansyncError } from '../../src/errors.js'
import { pairingCodeFromBytes, type PairingCode } from '../../src/core/pairing-code.js'
import { encodeDeviceId } from '../../src/core/device-id.js'
import { FrameDecoder, encodeFrame } from '../../src/protocol/framing.js'
import {
  MAX_PAIRING_FRAME_BYTES, PAIRING_MESSAGE_IDS, decodeDeviceInfo, decodePairingMessage, encodeDeviceInfo, encodePairingMessage,
  type DeviceInfo, type PairingMessage
} from '../../src/protocol/pairing.js'
import { PairingWindow, type PairedDevice } from '../../src/net/pairing-window.js'
import { readFileSync } from 'node:fs'
import { hkdf } from '@noble/hashes/hkdf.js'
import { sha512 } from '@noble/hashes/sha2.js'
import { PairingPake, calculateGenerator, cpaceMessage, intermediateKey, scalarFromBytes, scalarMultVerify } from '../../src/core/pake.js'
import { joinPairing } from '../../src/net/pairing-join.js'

const windowKey = randomBytes(32)
const joinerKey = randomBytes(32)
const windowInfo: DeviceInfo = { key: windowKey, name: 'alice', port: 22100, folders: [{ id: 'docs', label: 'Documents' }] }
const joinerInfo: DeviceInfo = { key: joinerKey, name: 'bob', port: 22101, folders: [] }

async function failsWith (promise: Promise<unknown>, code: string, pattern?: RegExp): Promise<LansyncError> {
  try {
    await promise
  } catch (err) {
    assert.ok(isLansyncError(err), `not a LansyncError: ${String((err as Error)?.stack ?? err)}`)
    assert.is((err as LansyncError).code, code, (err as Error).message)
    if (pattern !== undefined) assert.match((err as Error).message, pattern)
    return err as LansyncError
  }
  assert.unreachable(`expected ${code}`)
  throw new Error('unreachable')
}

interface OpenWindow { window: PairingWindow, port: number, committed: PairedDevice[], code: PairingCode }

async function openWindow (options: Partial<ConstructorParameters<typeof PairingWindow>[0]> = {}): Promise<OpenWindow> {
  const committed: PairedDevice[] = []
  const code = pairingCodeFromBytes(randomBytes(5))
  const window = new PairingWindow({ code, self: windowInfo, wrongCodeDelayMs: 20, commit: async d => { committed.push(d) }, ...options })
  const { port } = await window.listen('127.0.0.1', 0)
  return { window, port, committed, code }
}

function otherCode (code: PairingCode): PairingCode {
  for (;;) {
    const other = pairingCodeFromBytes(randomBytes(5))
    if (other.secret !== code.secret) return other
  }
}

test('every pairing message round-trips; its id is in the registry after the sync messages', () => {
  const messages: PairingMessage[] = [
    { type: 'pairStart', protocol: 1, sid: randomBytes(16), share: randomBytes(32) },
    { type: 'pairShare', share: randomBytes(32) },
    { type: 'pairConfirm', info: encodeDeviceInfo(joinerInfo), tag: randomBytes(32) },
    { type: 'pairAccept', info: encodeDeviceInfo(windowInfo), tag: randomBytes(32) },
    { type: 'pairFail', code: 'PAIR_REJECTED', reason: 'wrong pairing code (4 attempts left)', attemptsLeft: 4 },
    { type: 'pairFail', code: 'PAIR_BUSY', reason: 'busy' }
  ]
  for (const m of messages) {
    const back = decodePairingMessage(encodePairingMessage(m))
    assert.equal(JSON.parse(JSON.stringify(back)), JSON.parse(JSON.stringify(m)), m.type)
  }
  assert.equal(Object.values(PAIRING_MESSAGE_IDS), [9, 10, 11, 12, 13])
  const info = decodeDeviceInfo(encodeDeviceInfo(windowInfo))
  assert.equal({ ...info, key: Buffer.from(info.key).toString('hex') }, { ...windowInfo, key: windowKey.toString('hex') })
})

test('decoding refuses what the tables forbid, naming the field', () => {
  const cases: Array<[object, string, RegExp]> = [
    [{ type: 'pairStart', protocol: 2, sid: randomBytes(16), share: randomBytes(32) }, 'PROTOCOL_VERSION', /pairing protocol 2/],
    [{ type: 'pairStart', protocol: 1, sid: randomBytes(15), share: randomBytes(32) }, 'PROTOCOL_INVALID_MESSAGE', /pairStart\.sid: 15 bytes, expected 16/],
    [{ type: 'pairShare', share: 'x'.repeat(32) }, 'PROTOCOL_INVALID_MESSAGE', /pairShare\.share: expected bytes/],
    [{ type: 'pairConfirm', info: randomBytes(10), tag: randomBytes(31) }, 'PROTOCOL_INVALID_MESSAGE', /pairConfirm\.tag/],
    [{ type: 'pairFail', code: 'lower', reason: '' }, 'PROTOCOL_INVALID_MESSAGE', /pairFail\.code/],
    [{ type: 'pairFail', code: 'X', reason: 'a\u001bb' }, 'PROTOCOL_INVALID_MESSAGE', /control character/],
    [{ type: 'hello' }, 'PROTOCOL_INVALID_MESSAGE', /unknown pairing message type "hello"/]
  ]
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })
  for (const [value, code, pattern] of cases) {
    try {
      decodePairingMessage(packr.pack(value))
      assert.unreachable(JSON.stringify(value))
    } catch (err) {
      assert.ok(isLansyncError(err, code as any), `${String(err)} for ${JSON.stringify(value)}`)
      assert.match((err as Error).message, pattern)
    }
  }
  const bad: Array<[object, RegExp]> = [
    [{ key: randomBytes(31), name: 'x', port: 1, folders: [] }, /info\.key/],
    [{ key: randomBytes(32), name: '', port: 1, folders: [] }, /info\.name: empty/],
    [{ key: randomBytes(32), name: 'x', port: 70000, folders: [] }, /info\.port/],
    [{ key: randomBytes(32), name: 'x', port: 1, folders: [{ id: 'Docs', label: 'x' }] }, /info\.folders\[0\]\.id/],
    [{ key: randomBytes(32), name: 'x', port: 1, folders: [{ id: 'a', label: 'x' }, { id: 'a', label: 'y' }] }, /listed twice/]
  ]
  for (const [value, pattern] of bad) assert.throws(() => decodeDeviceInfo(packr.pack(value)), pattern)
})

test('protocol.md lists every pairing message with its id, and its worked example is what the code computes', () => {
  const spec = readFileSync(new URL('../../protocol.md', import.meta.url), 'utf8')
  for (const [name, id] of Object.entries(PAIRING_MESSAGE_IDS)) {
    assert.match(spec, new RegExp(`^\\| ${id} \\| ${name} \\| [^|]+ \\| [^|]+ \\|$`, 'm'), `row "| ${id} | ${name} |"`)
  }
  const section = spec.slice(spec.indexOf('#### Worked example'))
  const block = /```text\n([\s\S]*?)```/.exec(section)![1]
  const doc = new Map<string, string>()
  let last = ''
  for (const line of block.split('\n')) {
    const m = /^(\S.*?)\s{2,}([0-9a-f]+)$/.exec(line)
    if (m !== null) { last = m[1]; doc.set(last, m[2]) } else if (/^\s+[0-9a-f]+$/.test(line)) doc.set(last, doc.get(last)! + line.trim())
  }
  const enc = (text: string): Uint8Array => new TextEncoder().encode(text)
  const code = pairingCodeFromBytes(Uint8Array.from([0x9c, 0xef, 0x4e, 0x89, 0x2d]))
  assert.is(code.text, 'KKQ-MX2-9D2')
  const sid = Uint8Array.from({ length: 16 }, (_, i) => i)
  const a = new PairingPake({ role: 'initiator', secret: code.secret, sid, scalarBytes: new Uint8Array(32).fill(0x11) })
  const b = new PairingPake({ role: 'responder', secret: code.secret, sid, scalarBytes: new Uint8Array(32).fill(0x22) })
  a.receiveShare(b.share)
  b.receiveShare(a.share)
  const k = scalarMultVerify(scalarFromBytes(new Uint8Array(32).fill(0x11)), b.share) as Uint8Array
  const infoA = encodeDeviceInfo({ key: new Uint8Array(32).fill(0xaa), name: 'bob', port: 22100, folders: [] })
  const infoB = encodeDeviceInfo({ key: new Uint8Array(32).fill(0xbb), name: 'alice', port: 22100, folders: [{ id: 'docs', label: 'Documents' }] })
  const tagA = a.initiatorTag(infoA)
  const computed: Record<string, Uint8Array> = {
    prs: enc(code.secret),
    ci: enc('lansync-pair-1'),
    sid,
    generator: calculateGenerator(enc(code.secret), enc('lansync-pair-1'), sid).toBytes(),
    Ya: a.share,
    Yb: b.share,
    K: k,
    ISK: intermediateKey(sid, k, cpaceMessage(a.share), cpaceMessage(b.share)),
    infoA,
    infoB,
    tagA,
    tagB: b.responderTag(infoA, tagA, infoB),
    'pairStart frame': encodeFrame(encodePairingMessage({ type: 'pairStart', protocol: 1, sid, share: a.share })),
    pairShare: encodePairingMessage({ type: 'pairShare', share: b.share }),
    pairFail: encodePairingMessage({ type: 'pairFail', code: 'PAIR_REJECTED', reason: 'wrong pairing code (4 attempts left)', attemptsLeft: 4 })
  }
  for (const [name, bytes] of Object.entries(computed)) assert.is(doc.get(name), Buffer.from(bytes).toString('hex'), name)
  const isk = computed.ISK
  assert.is(doc.get('kA'), Buffer.from(hkdf(sha512, isk, undefined, enc('lansync-pair-1 initiator key'), 32)).toString('hex'))
  assert.is(doc.get('kB'), Buffer.from(hkdf(sha512, isk, undefined, enc('lansync-pair-1 responder key'), 32)).toString('hex'))
  assert.is(doc.size, Object.keys(computed).length + 2)
})

test('the right code pairs: each side learns the other\'s real key, name, port and offers', async () => {
  const { window, port, committed, code } = await openWindow()
  const joined = await joinPairing({ host: '127.0.0.1', port, code, self: joinerInfo })
  const paired = await window.result()
  assert.is(joined.deviceId, encodeDeviceId(windowKey))
  assert.is(joined.info.name, 'alice')
  assert.is(joined.info.port, 22100)
  assert.equal(joined.info.folders, [{ id: 'docs', label: 'Documents' }])
  assert.is(paired.deviceId, encodeDeviceId(joinerKey))
  assert.is(paired.info.name, 'bob')
  assert.is(paired.remoteHost, '127.0.0.1')
  assert.is(committed.length, 1)
  assert.not.ok(window.isOpen)
  // Single use: the window is gone.
  await failsWith(joinPairing({ host: '127.0.0.1', port, code, self: joinerInfo }), 'PAIR_EXPIRED', /no pairing window is open/)
})

test('a wrong code fails (slowly) and costs an attempt; a later right code still pairs', async () => {
  const { window, port, committed, code } = await openWindow({ wrongCodeDelayMs: 300 })
  const wrong: number[] = []
  window.on('wrong-code', e => wrong.push(e.attemptsLeft))
  const started = Date.now()
  await failsWith(joinPairing({ host: '127.0.0.1', port, code: otherCode(code), self: joinerInfo }), 'PAIR_REJECTED', /wrong pairing code.*4 attempts left/)
  assert.ok(Date.now() - started >= 280, 'the answer to a wrong code is delayed')
  assert.equal(wrong, [4])
  assert.is(committed.length, 0)
  await joinPairing({ host: '127.0.0.1', port, code, self: joinerInfo })
  assert.is((await window.result()).info.name, 'bob')
})

test('too many wrong codes close the window; the last guesser and the window owner are told', async () => {
  const { window, port, code } = await openWindow({ maxWrongCodes: 3 })
  await failsWith(joinPairing({ host: '127.0.0.1', port, code: otherCode(code), self: joinerInfo }), 'PAIR_REJECTED', /2 attempts left/)
  await failsWith(joinPairing({ host: '127.0.0.1', port, code: otherCode(code), self: joinerInfo }), 'PAIR_REJECTED', /1 attempt left/)
  await failsWith(joinPairing({ host: '127.0.0.1', port, code: otherCode(code), self: joinerInfo }), 'PAIR_RATE_LIMITED', /last attempt/)
  await failsWith(window.result(), 'PAIR_RATE_LIMITED', /3 wrong pairing codes/)
  await failsWith(joinPairing({ host: '127.0.0.1', port, code, self: joinerInfo }), 'PAIR_EXPIRED')
})

test('the window expires: its owner gets PAIR_EXPIRED, a late joiner a clear message', async () => {
  const { window, port, code } = await openWindow({ durationMs: 200 })
  await failsWith(window.result(), 'PAIR_EXPIRED', /expired/)
  await failsWith(joinPairing({ host: '127.0.0.1', port, code, self: joinerInfo }), 'PAIR_EXPIRED', /expired, was already used, or was closed/)
})

test('one attempt at a time: a second device is told the window is busy, and no attempt is spent', async () => {
  const { window, port, code } = await openWindow()
  const slow = net.connect({ host: '127.0.0.1', port })
  await new Promise(resolve => slow.once('connect', resolve))
  await new Promise(resolve => setTimeout(resolve, 50))
  await failsWith(joinPairing({ host: '127.0.0.1', port, code, self: joinerInfo }), 'PAIR_BUSY', /try again in a few seconds/)
  slow.destroy()
  await new Promise(resolve => setTimeout(resolve, 50))
  await joinPairing({ host: '127.0.0.1', port, code, self: joinerInfo })
  await window.result()
})

test('a connection that is not a pairing client is closed without costing an attempt', async () => {
  const { window, port, code } = await openWindow()
  const wrong: number[] = []
  window.on('wrong-code', e => wrong.push(e.attemptsLeft))
  const junk = net.connect({ host: '127.0.0.1', port })
  await new Promise(resolve => junk.once('connect', resolve))
  let answer = Buffer.alloc(0)
  junk.on('data', d => { answer = Buffer.concat([answer, d]) })
  junk.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 1, 2, 3]))
  await new Promise(resolve => junk.once('close', resolve))
  const fail = decodePairingMessage(answer.subarray(4))
  assert.is(fail.type === 'pairFail' && fail.code, 'PROTOCOL_FRAME_TOO_LARGE')
  await joinPairing({ host: '127.0.0.1', port, code, self: joinerInfo })
  await window.result()
  assert.equal(wrong, [])
})

/** A relay between joiner and window that may rewrite each message on its way. */
async function relay (targetPort: number, rewrite: (m: PairingMessage, toWindow: boolean) => PairingMessage): Promise<{ port: number, close: () => void }> {
  const server = net.createServer(client => {
    const upstream = net.connect({ host: '127.0.0.1', port: targetPort })
    const pipe = (from: net.Socket, to: net.Socket, toWindow: boolean): void => {
      const decoder = new FrameDecoder({ maxFrameBytes: MAX_PAIRING_FRAME_BYTES })
      from.on('data', chunk => {
        for (const payload of decoder.push(chunk)) to.write(encodeFrame(encodePairingMessage(rewrite(decodePairingMessage(payload), toWindow))))
      })
      from.on('close', () => to.end())
      from.on('error', () => {})
    }
    pipe(client, upstream, true)
    pipe(upstream, client, false)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', () => resolve()))
  return { port: (server.address() as net.AddressInfo).port, close: () => server.close() }
}

test('a relay that passes everything through changes nothing: the devices pair with each other', async () => {
  const { window, port, code } = await openWindow()
  const r = await relay(port, m => m)
  const joined = await joinPairing({ host: '127.0.0.1', port: r.port, code, self: joinerInfo })
  assert.is(joined.deviceId, encodeDeviceId(windowKey))
  assert.is((await window.result()).deviceId, encodeDeviceId(joinerKey))
  r.close()
})

test('a man in the middle who swaps in his own key is caught: the window sees a wrong code and adds nobody', async () => {
  const { window, port, committed, code } = await openWindow()
  const mallory = randomBytes(32)
  const r = await relay(port, (m, toWindow) => {
    if (toWindow && m.type === 'pairConfirm') {
      const info = decodeDeviceInfo(m.info)
      return { ...m, info: encodeDeviceInfo({ ...info, key: mallory }) }
    }
    return m
  })
  const wrong: number[] = []
  window.on('wrong-code', e => wrong.push(e.attemptsLeft))
  await failsWith(joinPairing({ host: '127.0.0.1', port: r.port, code, self: joinerInfo }), 'PAIR_REJECTED')
  assert.equal(wrong, [4])
  assert.is(committed.length, 0)
  r.close()
  window.close()
  await failsWith(window.result(), 'PAIR_CANCELLED')
})

test('a man in the middle who swaps the window\'s key on the way back is caught by the joiner', async () => {
  const { window, port, code } = await openWindow()
  const r = await relay(port, (m, toWindow) => {
    if (!toWindow && m.type === 'pairAccept') {
      const info = decodeDeviceInfo(m.info)
      return { ...m, info: encodeDeviceInfo({ ...info, key: randomBytes(32) }) }
    }
    return m
  })
  await failsWith(joinPairing({ host: '127.0.0.1', port: r.port, code, self: joinerInfo }), 'PAIR_REJECTED', /could not prove it knows it/)
  await window.result() // the window did pair the joiner's real key, which is harmless
  r.close()
})

test('typing the code on the device that shows it is refused', async () => {
  const { window, port, code } = await openWindow()
  await failsWith(joinPairing({ host: '127.0.0.1', port, code, self: { ...joinerInfo, key: windowKey } }), 'PAIR_REJECTED', /same device/)
  window.close()
})

test.run()
