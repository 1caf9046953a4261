import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash } from 'node:crypto'
import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { decodeMessage, encodeMessage, encodeMessageParts, recordFromWire, recordToWire } from '../../src/protocol/codec.js'
import { checkMsgpackShape } from '../../src/protocol/msgpack-shape.js'
import { MAX_BLOCK_BYTES, MAX_FRAME_BYTES, MAX_RECORDS_PER_BATCH, MESSAGE_IDS, type Message } from '../../src/protocol/messages.js'
import { isLansyncError, type ErrorCode } from '../../src/errors.js'
import type { FileRecord } from '../../src/core/types.js'

// A raw encoder that writes whatever it is given: for building messages our encoder never would.
const raw = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })
const sha256 = (data: string | Uint8Array): Buffer => createHash('sha256').update(data).digest()
const EMPTY_HASH = sha256('')
const A = '1a2b3c4d5e6f7081'
const B = '9c8d7e6f5a4b3c2d'

function fileRecord (overrides: Partial<FileRecord> = {}): FileRecord {
  const one = Buffer.alloc(MAX_BLOCK_BYTES, 1)
  return {
    path: 'dir/big.bin',
    kind: 'file',
    sizeBytes: MAX_BLOCK_BYTES + 3,
    mtimeMs: 1764000000123,
    mode: 0o755,
    vector: { [A]: 7, [B]: 2 },
    isDeleted: false,
    blocks: [{ hash: sha256(one), sizeBytes: MAX_BLOCK_BYTES }, { hash: sha256('abc'), sizeBytes: 3 }],
    hash: sha256('whole'),
    linkTarget: '',
    modifiedBy: A,
    sequence: 9,
    ...overrides
  }
}

const records: FileRecord[] = [
  fileRecord(),
  fileRecord({ path: 'empty', sizeBytes: 0, blocks: [], hash: EMPTY_HASH }),
  fileRecord({ path: 'a dir', kind: 'dir', sizeBytes: 0, blocks: [], hash: EMPTY_HASH, mode: 0o700 }),
  fileRecord({ path: 'link', kind: 'symlink', sizeBytes: 0, blocks: [], hash: EMPTY_HASH, linkTarget: '../elsewhere/target' }),
  fileRecord({ path: 'gone', isDeleted: true, sizeBytes: 0, blocks: [], hash: EMPTY_HASH }),
  fileRecord({ path: '古い/ファイル.txt', mtimeMs: -86_400_000, sequence: Number.MAX_SAFE_INTEGER, vector: { [A]: Number.MAX_SAFE_INTEGER } })
]

const messages: Message[] = [
  { type: 'hello', protocol: 1, deviceName: 'büro-pc', folders: [] },
  {
    type: 'hello',
    protocol: 1,
    deviceName: '',
    folders: [
      { id: 'docs', label: 'Documents', epoch: '0123456789abcdef', sequence: 10, haveEpoch: 'fedcba9876543210', haveSequence: 3 },
      { id: 'a-b-c', label: '', epoch: '0000000000000000', sequence: 0, haveEpoch: '', haveSequence: 0 }
    ]
  },
  { type: 'manifest', folder: 'docs', records, sequence: Number.MAX_SAFE_INTEGER, isLast: false },
  { type: 'manifest', folder: 'docs', records: [], sequence: 0, isLast: true },
  { type: 'update', folder: 'x', records: [records[4]], sequence: 12 },
  { type: 'request', id: 0xffffffff, folder: 'docs', path: 'dir/big.bin', hash: sha256('abc'), sizeBytes: MAX_BLOCK_BYTES },
  { type: 'response', id: 0, data: Buffer.alloc(MAX_BLOCK_BYTES, 7) },
  { type: 'response', id: 12, error: 'NOT_AVAILABLE' },
  {
    type: 'request', id: 8, folder: 'docs', path: 'dir/big.bin', hash: sha256('abc'), sizeBytes: 70_000,
    base: { pieceBytes: 2048, weak: Uint32Array.of(0, 0xffffffff, 12345), strong: new Uint8Array(24).fill(9) }
  },
  { type: 'response', id: 13, delta: [Buffer.from('new bytes'), { from: 0, count: 3 }, Buffer.from('more'), { from: 127, count: 1 }] },
  { type: 'progress', folder: 'docs', needFiles: 0, needBytes: 2 ** 40, sequence: 5 },
  { type: 'ping' },
  { type: 'close', code: 'SHUTDOWN', reason: 'the agent is stopping' }
]

test('every message type is covered by the round-trip cases', () => {
  assert.equal(new Set(messages.map(m => m.type)), new Set(Object.keys(MESSAGE_IDS)))
})

for (const message of messages) {
  test(`round-trip: ${message.type} ${JSON.stringify(message).slice(0, 60)}`, () => {
    const bytes = encodeMessage(message)
    assert.ok(bytes.byteLength <= MAX_FRAME_BYTES)
    assert.equal(decodeMessage(bytes), message)
    // Decoding builds fresh objects: mutating the bytes afterwards changes no kept hash.
    const decoded = decodeMessage(bytes)
    if (decoded.type === 'manifest' && decoded.records.length > 0) {
      const before = Buffer.from(decoded.records[0].hash)
      bytes.fill(0)
      assert.equal(Buffer.from(decoded.records[0].hash), before)
    }
  })
}

test('records: defaults are omitted on the wire and restored on decode', () => {
  const wire = recordToWire(records[2])
  assert.equal(Object.keys(wire), ['p', 'k', 's', 't', 'm', 'v', 'h', 'o', 'q'])
  assert.equal(Object.keys(recordToWire(records[4])), ['p', 'k', 's', 't', 'm', 'v', 'd', 'h', 'o', 'q'])
  assert.equal(Object.keys(recordToWire(records[3])), ['p', 'k', 's', 't', 'm', 'v', 'h', 'l', 'o', 'q'])
  assert.equal(Object.keys(recordToWire(records[0])), ['p', 'k', 's', 't', 'm', 'v', 'b', 'h', 'o', 'q'])
  // Explicit defaults are accepted too.
  assert.equal(recordFromWire({ ...wire, d: false, b: [], l: '' }), records[2])
})

test('a message sent as parts is byte for byte the encoded message; a response\'s data is its own buffer, uncopied', () => {
  // Each bin header size, and its edges: 8-bit up to 255 bytes, 16-bit up to 65,535, 32-bit above.
  for (const size of [1, 255, 256, 65_535, 65_536, MAX_BLOCK_BYTES]) {
    for (const id of [0, 127, 128, 0xffffffff]) {
      const data = Buffer.alloc(size, size & 0xff)
      const message: Message = { type: 'response', id, data }
      const parts = encodeMessageParts(message)
      assert.is(parts.length, 2)
      assert.ok(parts[1] === data, 'the block data was copied')
      assert.ok(Buffer.concat(parts).equals(encodeMessage(message)), `size ${size}, id ${id}`)
      assert.equal(decodeMessage(Buffer.concat(parts)), message)
    }
  }
  for (const message of messages.filter(m => m.type !== 'response' || m.data === undefined)) {
    assert.ok(Buffer.concat(encodeMessageParts(message)).equals(encodeMessage(message)), message.type)
  }
  assert.throws(() => encodeMessageParts({ type: 'response', id: 1, data: Buffer.from('x'), error: 'NOT_AVAILABLE' }), TypeError)
})

test('encoding a response with neither or both of data and error is a programmer error', () => {
  assert.throws(() => encodeMessage({ type: 'response', id: 1 }), TypeError)
  assert.throws(() => encodeMessage({ type: 'response', id: 1, data: Buffer.from('x'), error: 'NOT_AVAILABLE' }), TypeError)
  assert.throws(() => encodeMessage({ type: 'response', id: 1, data: Buffer.from('x'), delta: [Buffer.from('x')] }), TypeError)
})

test('paths are normalised to NFC on decode', () => {
  const bytes = raw.pack({ type: 'request', id: 1, folder: 'docs', path: 'cafe\u0301', hash: sha256('x'), sizeBytes: 1 })
  const message = decodeMessage(bytes)
  assert.is(message.type === 'request' && message.path, 'caf\u00e9')
})

test('unknown keys in a known message are ignored and not copied', () => {
  const message = decodeMessage(raw.pack({ type: 'ping', extra: 'x', more: [1, 2] }))
  assert.equal(message, { type: 'ping' })
  assert.equal(Object.keys(message), ['type'])
})

// ---- rejections ----

function rejects (bytes: Uint8Array, code: ErrorCode, pattern?: RegExp): void {
  try {
    decodeMessage(bytes)
  } catch (err) {
    assert.ok(isLansyncError(err), `not a LansyncError: ${(err as Error)?.stack ?? String(err)}`)
    assert.is(err.code, code, err.message)
    if (pattern !== undefined) assert.match(err.message, pattern)
    return
  }
  assert.unreachable(`accepted ${Buffer.from(bytes).toString('hex').slice(0, 80)}`)
}

const goodManifest = (record: Record<string, unknown>): Record<string, unknown> =>
  ({ type: 'manifest', folder: 'docs', records: [record], sequence: 1, isLast: true })
const wireRecord = (overrides: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ ...recordToWire(records[0]), ...overrides })

test('bad paths in records and requests are refused, naming the field', () => {
  const cases: Array<[string, RegExp]> = [
    ['../x', /'\.\.' segment/], ['a/../../x', /'\.\.' segment/], ['/etc/passwd', /absolute/],
    ['a\u0000b', /NUL/], ['', /empty/], ['a//b', /empty segment/], ['a\\..\\b', /backslash/],
    ['.lansync/x', /\.lansync/], ['x/.lansync-tmp-1', /temp file/], ['a'.repeat(4097), /more than 4096|longer/]
  ]
  for (const [path, pattern] of cases) {
    rejects(raw.pack(goodManifest(wireRecord({ p: path }))), 'PROTOCOL_INVALID_MESSAGE', new RegExp(`manifest\\.records\\[0\\]\\.p: .*${pattern.source}`))
    rejects(raw.pack({ type: 'request', id: 1, folder: 'docs', path, hash: sha256('x'), sizeBytes: 1 }), 'PROTOCOL_INVALID_MESSAGE', /request\.path/)
  }
})

test('record fields of the wrong type or range are refused', () => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ p: 5 }, /\.p: expected a string/],
    [{ k: 3 }, /\.k: 3 is outside 0\.\.2/],
    [{ k: 'file' }, /\.k: expected an integer/],
    [{ s: -1 }, /\.s: -1 is outside/],
    [{ s: 1.5 }, /\.s: expected an integer/],
    [{ s: 2 ** 53 }, /\.s: expected an integer/],
    [{ t: '2025' }, /\.t: expected an integer/],
    [{ m: 0o10000 }, /\.m: 4096 is outside 0\.\.4095/],
    [{ v: {} }, /\.v: is empty/],
    [{ v: [] }, /\.v: expected a map/],
    [{ v: { ABCDEF0123456789: 1 } }, /\.v key: .* does not match/],
    [{ v: { abc: 1 } }, /\.v key/],
    [{ v: { [A]: 0 } }, /\.v\.1a2b3c4d5e6f7081: 0 is outside/],
    [{ v: { [A]: '1' } }, /expected an integer/],
    [{ d: 1 }, /\.d: expected a boolean/],
    [{ h: Buffer.alloc(31) }, /\.h: 31 bytes, expected 32/],
    [{ h: Buffer.alloc(33) }, /\.h: 33 bytes, expected 32/],
    [{ h: 'ab'.repeat(16) }, /\.h: expected bytes/],
    [{ b: [[Buffer.alloc(31), 5]] }, /\.b\[0\]\[0\]: 31 bytes/],
    [{ b: [[sha256('x')]] }, /\.b\[0\]: expected \[hash, size\]/],
    [{ b: [[sha256('x'), 0]] }, /\.b\[0\]\[1\]: 0 is outside 1\.\./],
    [{ b: [[sha256('x'), MAX_BLOCK_BYTES + 1]] }, /\.b\[0\]\[1\]/],
    [{ b: [{ hash: sha256('x'), size: 1 }] }, /\.b\[0\]: expected an array/],
    [{ b: [[sha256('x'), 3]] }, /\.b: blocks add up to 3 bytes, the record says 262147/],
    [{ o: 'laptop' }, /\.o: .* does not match/],
    [{ q: -1 }, /\.q: -1 is outside/],
    [{ l: 'x' }, /\.l: only a symbolic link/],
    [{ k: 1 }, /\.s: a directory has size 0/],
    [{ d: true }, /\.s: a deleted record has size 0/],
    [{ k: 2, s: 0, b: [], l: 'a\u0000b' }, /\.l: contains a NUL/]
  ]
  for (const [overrides, pattern] of cases) {
    rejects(raw.pack(goodManifest(wireRecord(overrides))), 'PROTOCOL_INVALID_MESSAGE', pattern)
  }
  for (const key of ['p', 'k', 's', 't', 'm', 'v', 'h', 'o', 'q']) {
    const record = wireRecord()
    delete record[key]
    rejects(raw.pack(goodManifest(record)), 'PROTOCOL_INVALID_MESSAGE', new RegExp(`records\\[0\\]\\.${key}: missing`))
  }
})

const goodRequest = { type: 'request', id: 1, folder: 'docs', path: 'a', hash: Buffer.alloc(32), sizeBytes: 10 }

test('message fields of the wrong type or range are refused', () => {
  const hello = { type: 'hello', protocol: 1, deviceName: 'x', folders: [{ id: 'docs', label: 'D', epoch: '0123456789abcdef', sequence: 1, haveEpoch: '', haveSequence: 0 }] }
  const folder = hello.folders[0]
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ ...hello, deviceName: 'evil\u001b[2J' }, /hello\.deviceName: contains a control character/],
    [{ ...hello, deviceName: 'x'.repeat(257) }, /hello\.deviceName: 257 bytes/],
    [{ ...hello, folders: [folder, folder] }, /hello\.folders\[1\]\.id: folder docs is listed twice/],
    [{ ...hello, folders: [{ ...folder, id: 'Docs' }] }, /hello\.folders\[0\]\.id/],
    [{ ...hello, folders: [{ ...folder, id: '' }] }, /hello\.folders\[0\]\.id: empty/],
    [{ ...hello, folders: [{ ...folder, epoch: 'xyz' }] }, /\.epoch/],
    [{ ...hello, folders: [{ ...folder, haveSequence: 5 }] }, /\.haveSequence: is not 0 while haveEpoch is ""/],
    [{ ...hello, folders: [{ ...folder, haveEpoch: 'nothex!!nothex!!' }] }, /\.haveEpoch/],
    [{ ...hello, folders: Array.from({ length: 1001 }, (_, i) => ({ ...folder, id: `f${i}` })) }, /hello\.folders: 1001 items, more than 1000/],
    [{ ...hello, folders: {} }, /hello\.folders: expected an array/],
    [{ type: 'manifest', folder: 'docs', records: [], sequence: 1 }, /manifest\.isLast: missing/],
    [{ type: 'manifest', folder: 'docs', records: [], sequence: 1, isLast: 1 }, /manifest\.isLast: expected a boolean/],
    [{ type: 'manifest', folder: 'docs', records: 'all', sequence: 1, isLast: true }, /manifest\.records: expected an array/],
    [{ type: 'update', folder: 7, records: [], sequence: 1 }, /update\.folder: expected a string/],
    [{ type: 'update', folder: 'docs', records: [], sequence: -5 }, /update\.sequence/],
    [{ type: 'request', id: 2 ** 32, folder: 'docs', path: 'a', hash: sha256('x'), sizeBytes: 1 }, /request\.id: 4294967296 is outside/],
    [{ type: 'request', id: '1', folder: 'docs', path: 'a', hash: sha256('x'), sizeBytes: 1 }, /request\.id: expected an integer/],
    [{ type: 'request', id: 1, folder: 'docs', path: 'a', hash: Buffer.alloc(16), sizeBytes: 1 }, /request\.hash: 16 bytes, expected 32/],
    [{ type: 'request', id: 1, folder: 'docs', path: 'a', hash: sha256('x'), sizeBytes: 0 }, /request\.sizeBytes/],
    [{ type: 'request', id: 1, folder: 'docs', path: 'a', hash: sha256('x'), sizeBytes: MAX_BLOCK_BYTES + 1 }, /request\.sizeBytes/],
    [{ type: 'response', id: 1 }, /exactly one of data, delta and error/],
    [{ type: 'response', id: 1, data: Buffer.from('x'), error: 'NOT_AVAILABLE' }, /exactly one of data, delta and error/],
    [{ type: 'response', id: 1, data: Buffer.from('x'), delta: [Buffer.from('x')] }, /exactly one of data, delta and error/],
    [{ type: 'response', id: 1, delta: [] }, /response\.delta: is empty/],
    [{ type: 'response', id: 1, delta: [[0, 0]] }, /response\.delta\[0\]\[1\]/],
    [{ type: 'response', id: 1, delta: [[128, 1]] }, /response\.delta\[0\]\[0\]/],
    [{ type: 'response', id: 1, delta: [[0, 1, 2]] }, /response\.delta\[0\]: a run has 2 items, not 3/],
    [{ type: 'response', id: 1, delta: [Buffer.alloc(0)] }, /response\.delta\[0\]/],
    [{ type: 'response', id: 1, delta: ['text'] }, /response\.delta\[0\]: expected bytes/],
    [{ type: 'response', id: 1, delta: [Buffer.alloc(200_000), Buffer.alloc(100_000)] }, /response\.delta: its bytes add up to more than 262144/],
    [{ type: 'response', id: 1, delta: Array.from({ length: 1025 }, () => [0, 1]) }, /response\.delta: 1025 items, more than 1024/],
    [{ ...goodRequest, base: 'sig' }, /request\.base: expected a map/],
    [{ ...goodRequest, base: { pieceBytes: 100, weak: Buffer.alloc(4), strong: Buffer.alloc(8) } }, /request\.base\.pieceBytes/],
    [{ ...goodRequest, base: { pieceBytes: 2048, weak: Buffer.alloc(6), strong: Buffer.alloc(8) } }, /request\.base\.weak: 6 bytes, not a whole number/],
    [{ ...goodRequest, base: { pieceBytes: 2048, weak: Buffer.alloc(4 * 129), strong: Buffer.alloc(8 * 129) } }, /request\.base\.weak: 516 bytes/],
    [{ ...goodRequest, base: { pieceBytes: 65536, weak: Buffer.alloc(4 * 5), strong: Buffer.alloc(8 * 5) } }, /request\.base: 5 pieces of 65536 bytes are more than a block/],
    [{ ...goodRequest, base: { pieceBytes: 2048, weak: Buffer.alloc(8), strong: Buffer.alloc(8) } }, /request\.base\.strong: 8 bytes, expected 16/],
    [{ ...goodRequest, base: { pieceBytes: 2048, weak: Buffer.alloc(8) } }, /request\.base\.strong: missing/],
    [{ type: 'response', id: 1, data: Buffer.alloc(MAX_BLOCK_BYTES + 1) }, /response\.data: 262145 bytes/],
    [{ type: 'response', id: 1, data: Buffer.alloc(0) }, /response\.data: 0 bytes/],
    [{ type: 'response', id: 1, data: 'hello' }, /response\.data: expected bytes/],
    [{ type: 'response', id: 1, error: 'not available' }, /response\.error/],
    [{ type: 'progress', folder: 'docs', needFiles: 1, needBytes: 1.5, sequence: 1 }, /progress\.needBytes/],
    [{ type: 'close', code: 'bye', reason: '' }, /close\.code/],
    [{ type: 'close', code: 'SHUTDOWN', reason: 'x'.repeat(1025) }, /close\.reason: 1025 bytes/],
    [{ type: 'close', code: 'SHUTDOWN', reason: null }, /close\.reason: expected a string, got nil/],
    [{ type: 'launch' }, /message\.type: unknown message type "launch"/],
    [{ type: 'toString' }, /unknown message type/],
    [{ type: 'hasOwnProperty' }, /unknown message type/],
    [{ type: 5 }, /message\.type: expected a string/],
    [{ kind: 'ping' }, /message\.type: missing/]
  ]
  for (const [value, pattern] of cases) rejects(raw.pack(value), 'PROTOCOL_INVALID_MESSAGE', pattern)
  rejects(raw.pack(['ping']), 'PROTOCOL_INVALID_MESSAGE', /message: expected a map, got an array/)
  rejects(raw.pack('ping'), 'PROTOCOL_INVALID_MESSAGE', /expected a map/)
  rejects(raw.pack({
    type: 'manifest', folder: 'docs', records: Array.from({ length: MAX_RECORDS_PER_BATCH + 1 }, () => wireRecord()), sequence: 1, isLast: true
  }), 'PROTOCOL_INVALID_MESSAGE', /manifest\.records: 1001 items, more than 1000/)
})

test('a hello of another protocol version closes with PROTOCOL_VERSION, whatever else it holds', () => {
  rejects(raw.pack({ type: 'hello', protocol: 2, shape: 'entirely different' }), 'PROTOCOL_VERSION', /peer speaks protocol 2, this device 1/)
  rejects(raw.pack({ type: 'hello', protocol: 0, deviceName: 'x', folders: [] }), 'PROTOCOL_VERSION')
  rejects(raw.pack({ type: 'hello', protocol: '1', deviceName: 'x', folders: [] }), 'PROTOCOL_INVALID_MESSAGE', /hello\.protocol/)
})

test('__proto__, constructor and prototype keys are refused and pollute nothing', () => {
  for (const key of ['__proto__', 'constructor', 'prototype']) {
    const top = JSON.parse(`{"type":"ping",${JSON.stringify(key)}:{"polluted":true}}`)
    rejects(raw.pack(top), 'PROTOCOL_INVALID_MESSAGE', new RegExp(`"${key}"`))
    const inVector = JSON.parse(`{"${key}": 1}`)
    rejects(raw.pack(goodManifest(wireRecord({ v: inVector }))), 'PROTOCOL_INVALID_MESSAGE')
  }
  assert.is(({} as Record<string, unknown>).polluted, undefined)
  assert.is((Object.prototype as Record<string, unknown>).polluted, undefined)
})

test('malformed msgpack is refused with PROTOCOL_DECODE', () => {
  const good = encodeMessage(messages[2])
  // Every strict prefix of a message is truncated msgpack.
  for (let n = 1; n < good.byteLength; n += n < 300 ? 1 : 97) {
    rejects(good.subarray(0, n), 'PROTOCOL_DECODE', /truncated/)
  }
  rejects(Buffer.concat([encodeMessage({ type: 'ping' }), Buffer.from([0xc0])]), 'PROTOCOL_DECODE', /1 bytes after the message/)
  rejects(new Uint8Array(0), 'PROTOCOL_DECODE', /empty/)
  rejects(Buffer.from([0xc1]), 'PROTOCOL_DECODE', /0xc1/)
  // A timestamp extension (msgpackr packs a Date as one) and a fixext.
  rejects(raw.pack({ type: 'ping', at: new Date(0) }), 'PROTOCOL_DECODE', /extension type/)
  rejects(Buffer.from('81a474797065d40100', 'hex'), 'PROTOCOL_DECODE', /extension type/)
  // Invalid UTF-8 in a value and in a key.
  rejects(Buffer.from('81a474797065a2c328', 'hex'), 'PROTOCOL_DECODE', /not valid UTF-8/)
  rejects(Buffer.from('82a474797065a470696e67a2c32801', 'hex'), 'PROTOCOL_DECODE', /not valid UTF-8/)
  // A repeated key: readers that keep the first or the last would disagree.
  rejects(Buffer.from('82a474797065a470696e67a474797065a5636c6f7365', 'hex'), 'PROTOCOL_DECODE', /repeats the key "type"/)
  // A map key that is not a string.
  rejects(Buffer.from('82a474797065a470696e670101', 'hex'), 'PROTOCOL_DECODE', /not a string/)
})

test('the shape walk checks keys and strings the same way short or long, ASCII or not', () => {
  const shape = (bytes: Uint8Array): void => checkMsgpackShape(bytes, { maxDepth: 8 })
  const refused = (bytes: Uint8Array, pattern: RegExp): void => {
    try { shape(bytes) } catch (err) {
      assert.ok(isLansyncError(err, 'PROTOCOL_DECODE'), String(err))
      assert.match((err as Error).message, pattern)
      return
    }
    assert.unreachable(`accepted ${Buffer.from(bytes).toString('hex').slice(0, 80)}`)
  }
  // Valid UTF-8 beyond ASCII, in keys and values, short and long, is accepted.
  shape(raw.pack({ 'ключ': 'значение', '\u007f': '~', ['語'.repeat(40)]: 'é'.repeat(100), ['k'.repeat(100)]: 'v'.repeat(100) }))
  // Invalid UTF-8 (a lone continuation byte) in a value and in a key, under and over 64 bytes.
  const str = (bytes: Buffer): Buffer => Buffer.concat([bytes.length < 32 ? Buffer.of(0xa0 | bytes.length) : Buffer.of(0xd9, bytes.length), bytes])
  for (const length of [1, 63, 64, 65, 200]) {
    const bad = Buffer.alloc(length, 0x61)
    bad[length - 1] = 0x80
    refused(Buffer.concat([Buffer.of(0x81), str(Buffer.from('k')), str(bad)]), /not valid UTF-8/)
    refused(Buffer.concat([Buffer.of(0x81), str(bad), str(Buffer.from('v'))]), /not valid UTF-8/)
  }
  // A repeated key in a small map and in a big one (past 32 entries the keys are kept in a Set).
  for (const entries of [2, 32, 33, 100]) {
    const keys = Array.from({ length: entries }, (_, i) => `key${i}`)
    keys[entries - 1] = keys[0]
    refused(Buffer.concat([Buffer.of(0xde, 0, entries), ...keys.flatMap(k => [str(Buffer.from(k)), Buffer.of(0x01)])]), /repeats the key "key0"/)
    keys[entries - 1] = `key${entries - 1}`
    shape(Buffer.concat([Buffer.of(0xde, 0, entries), ...keys.flatMap(k => [str(Buffer.from(k)), Buffer.of(0x01)])]))
  }
})

test('huge announced sizes and deep nesting are refused before anything is built', () => {
  // array32 / map32 / str32 / bin32 headers announcing ~4 billion with 10 bytes present.
  rejects(Buffer.from('dd ffffffff 00000000000000000000'.replace(/ /g, ''), 'hex'), 'PROTOCOL_DECODE', /array of 4294967295 elements/)
  rejects(Buffer.from('df ffffffff 00000000000000000000'.replace(/ /g, ''), 'hex'), 'PROTOCOL_DECODE', /map of 4294967295 entries/)
  rejects(Buffer.from('81a474797065db ffffffff 0000'.replace(/ /g, ''), 'hex'), 'PROTOCOL_DECODE', /truncated/)
  rejects(Buffer.from('81a474797065c6 ffffffff 0000'.replace(/ /g, ''), 'hex'), 'PROTOCOL_DECODE', /truncated/)
  // Nesting: legal up to 8 levels, refused beyond; 100 000 levels do not overflow the stack.
  const nested = (depth: number): Buffer => Buffer.concat([Buffer.from('82a474797065a470696e67a178', 'hex'), Buffer.alloc(depth - 1, 0x91), Buffer.from([0x90])])
  assert.equal(decodeMessage(nested(7)), { type: 'ping' })
  rejects(nested(8), 'PROTOCOL_DECODE', /nested deeper than 8/)
  rejects(nested(100_000), 'PROTOCOL_DECODE', /nested deeper than 8/)
  // A payload above the frame limit is refused before it is read.
  rejects(new Uint8Array(MAX_FRAME_BYTES + 1), 'PROTOCOL_FRAME_TOO_LARGE')
})

test('uint64 and float encodings of integers are accepted; beyond 2^53 is refused', () => {
  const withSequence = (hex: string): Buffer => Buffer.concat([
    Buffer.from('84a474797065a6757064617465a6666f6c646572a4646f6373a77265636f72647390a873657175656e6365', 'hex'),
    Buffer.from(hex, 'hex')
  ])
  const decoded = decodeMessage(withSequence('cf0000000000000005'))
  assert.is(decoded.type === 'update' && decoded.sequence, 5)
  assert.is((decodeMessage(withSequence('cb4014000000000000')) as { sequence: number }).sequence, 5)
  assert.is((decodeMessage(withSequence('d30000000000000007')) as { sequence: number }).sequence, 7)
  assert.is((decodeMessage(withSequence('cf001fffffffffffff')) as { sequence: number }).sequence, Number.MAX_SAFE_INTEGER)
  rejects(withSequence('cf0020000000000000'), 'PROTOCOL_INVALID_MESSAGE', /update\.sequence: expected an integer/)
  rejects(withSequence('cfffffffffffffffff'), 'PROTOCOL_INVALID_MESSAGE', /update\.sequence/)
  rejects(withSequence('cb7ff8000000000000'), 'PROTOCOL_INVALID_MESSAGE', /update\.sequence: expected an integer, got NaN/)
  rejects(withSequence('ff'), 'PROTOCOL_INVALID_MESSAGE', /update\.sequence: -1 is outside/)
})

// ---- properties ----

const hexShort = fc.uint8Array({ minLength: 8, maxLength: 8 }).map(b => Buffer.from(b).toString('hex'))
const hash = fc.uint8Array({ minLength: 32, maxLength: 32 }).map(b => Buffer.from(b))
const segment = fc.string({ unit: fc.constantFrom('a', 'b', 'é', '.', ' ', '日', '-', '😀'), minLength: 1, maxLength: 8 })
  .filter(s => s !== '.' && s !== '..')
const path = fc.array(segment, { minLength: 1, maxLength: 4 }).map(s => s.join('/'))
const arbRecord: fc.Arbitrary<FileRecord> = fc.record({
  path,
  kind: fc.constantFrom('file', 'dir', 'symlink') as fc.Arbitrary<FileRecord['kind']>,
  mtimeMs: fc.integer({ min: -1e12, max: 4e12 }),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  vector: fc.dictionary(hexShort, fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), { minKeys: 1, maxKeys: 5 }),
  isDeleted: fc.boolean(),
  blocks: fc.array(fc.record({ hash, sizeBytes: fc.integer({ min: 1, max: MAX_BLOCK_BYTES }) }), { maxLength: 5 }),
  hash,
  linkTarget: fc.string({ minLength: 1, maxLength: 20 }).filter(s => !s.includes('\u0000')),
  modifiedBy: hexShort,
  sequence: fc.nat()
}).map(r => {
  const isFile = r.kind === 'file' && !r.isDeleted
  const blocks = isFile ? r.blocks : []
  // fast-check builds null-prototype objects; decoded records are plain ones.
  return {
    ...r,
    vector: { ...r.vector },
    blocks: blocks.map(b => ({ hash: b.hash, sizeBytes: b.sizeBytes })),
    sizeBytes: blocks.reduce((sum, b) => sum + b.sizeBytes, 0),
    linkTarget: r.kind === 'symlink' && !r.isDeleted ? r.linkTarget : ''
  }
})

test('property: any valid record round-trips through a manifest', () => {
  fc.assert(fc.property(fc.array(arbRecord, { maxLength: 5 }), fc.nat(), fc.boolean(), (recs, sequence, isLast) => {
    const message: Message = { type: 'manifest', folder: 'f-1', records: recs, sequence, isLast }
    assert.equal(decodeMessage(encodeMessage(message)), message)
  }), { numRuns: 300 })
})

test('property: corrupted messages only ever raise LansyncErrors', () => {
  const samples = messages.filter(m => m.type !== 'response').map(m => encodeMessage(m)).filter(b => b.byteLength < 5000)
  fc.assert(fc.property(
    fc.constantFrom(...samples),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }),
    (original, edits) => {
      const bytes = Buffer.from(original)
      for (const [at, value] of edits) bytes[at % bytes.byteLength] = value
      try {
        decodeMessage(bytes)
      } catch (err) {
        if (!isLansyncError(err)) throw err
        assert.ok(['PROTOCOL_DECODE', 'PROTOCOL_INVALID_MESSAGE', 'PROTOCOL_VERSION'].includes(err.code), err.code)
      }
    }
  ), { numRuns: 3000 })
  fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 64 }), bytes => {
    try { decodeMessage(bytes) } catch (err) { if (!isLansyncError(err)) throw err }
  }), { numRuns: 3000 })
})

test.run()
