// protocol.md is normative: its message table must list every message type with its id, and each
// hex example in it must be exactly what the encoder produces (and decode back to the same value).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { createHash } from 'node:crypto'
import { Packr } from 'msgpackr'
import { decodeMessage, encodeMessage, recordFromWire, recordToWire } from '../../src/protocol/codec.js'
import { encodeFrame, FrameDecoder } from '../../src/protocol/framing.js'
import { MAX_BLOCK_BYTES, MESSAGE_IDS, type Message, type MessageType } from '../../src/protocol/messages.js'
import { MAX_BLOCK_BYTES as CHUNKER_MAX_BLOCK_BYTES } from '../../src/core/chunker.js'
import type { FileRecord } from '../../src/core/types.js'
import { deltaAgainst, signatureOf } from '../../src/core/block-delta.js'

const spec = readFileSync(new URL('../../protocol.md', import.meta.url), 'utf8')
const sha256 = (text: string): Buffer => createHash('sha256').update(text).digest()

const planRecord: FileRecord = {
  path: 'notes/plan.txt',
  kind: 'file',
  sizeBytes: 5,
  mtimeMs: 1764000000000,
  mode: 0o644,
  vector: { '1a2b3c4d5e6f7081': 3 },
  isDeleted: false,
  blocks: [{ hash: sha256('hello'), sizeBytes: 5 }],
  hash: sha256('hello'),
  linkTarget: '',
  modifiedBy: '1a2b3c4d5e6f7081',
  sequence: 42
}

const tombstone: FileRecord = {
  path: 'old.txt',
  kind: 'file',
  sizeBytes: 0,
  mtimeMs: 1764000100000,
  mode: 0o644,
  vector: { '1a2b3c4d5e6f7081': 3, '9c8d7e6f5a4b3c2d': 4 },
  isDeleted: true,
  blocks: [],
  hash: sha256(''),
  linkTarget: '',
  modifiedBy: '9c8d7e6f5a4b3c2d',
  sequence: 43
}

/** The block-delta example: `hello` and 2048 bytes `a`, against a base of those 2048 bytes. */
const deltaBase = Buffer.alloc(2048, 'a')
const deltaTarget = { bytes: Buffer.concat([Buffer.from('hello'), deltaBase]), get hash (): Buffer { return createHash('sha256').update(this.bytes).digest() } }

test('the block-delta example is what the algorithm gives', () => {
  const signature = signatureOf(deltaBase)
  assert.equal([...signature.weak], [0x84000800], 'the weak checksum protocol.md states')
  assert.is(Buffer.from(signature.strong).toString('hex'), 'b2a3a502fdfc34f4')
  assert.is(deltaTarget.hash.toString('hex').slice(0, 8), '7d6a2e9b')
  assert.equal(deltaAgainst(deltaTarget.bytes, signature), [Buffer.from('hello'), { from: 0, count: 1 }])
})

/** The examples of each message section of protocol.md, in the order of its hex blocks. */
const examples: { [T in MessageType]: Array<Extract<Message, { type: T }>> } = {
  hello: [{ type: 'hello', protocol: 1, deviceName: 'laptop', folders: [{ id: 'docs', label: 'Documents', epoch: '8f3a5c2e91b04d77', sequence: 42, haveEpoch: '', haveSequence: 0 }] }],
  manifest: [{ type: 'manifest', folder: 'docs', records: [planRecord], sequence: 42, isLast: true }],
  update: [{ type: 'update', folder: 'docs', records: [tombstone], sequence: 43 }],
  request: [
    { type: 'request', id: 7, folder: 'docs', path: 'notes/plan.txt', hash: sha256('hello'), sizeBytes: 5 },
    { type: 'request', id: 9, folder: 'docs', path: 'notes/plan.txt', hash: deltaTarget.hash, sizeBytes: 2053, base: signatureOf(deltaBase) }
  ],
  response: [
    { type: 'response', id: 7, data: Buffer.from('hello') },
    { type: 'response', id: 8, error: 'NOT_AVAILABLE' },
    { type: 'response', id: 9, delta: [Buffer.from('hello'), { from: 0, count: 1 }] }
  ],
  progress: [{ type: 'progress', folder: 'docs', needFiles: 2, needBytes: 131072, sequence: 42 }],
  ping: [{ type: 'ping' }],
  close: [{ type: 'close', code: 'PROTOCOL_VERSION', reason: 'peer speaks protocol 2, this device 1' }]
}

/** The ```hex blocks between a heading line and the next heading of the same or higher level. */
function hexBlocksUnder (heading: string): string[] {
  const start = spec.split('\n').findIndex(line => line.trim() === heading)
  assert.ok(start >= 0, `protocol.md has the heading "${heading}"`)
  const level = /^#+/.exec(heading)![0].length
  const lines = spec.split('\n').slice(start + 1)
  const end = lines.findIndex(line => /^#+ /.test(line) && /^#+/.exec(line)![0].length <= level)
  const section = lines.slice(0, end < 0 ? undefined : end).join('\n')
  return [...section.matchAll(/```hex\n([\s\S]*?)```/g)].map(m => m[1].replace(/\s+/g, ''))
}

function tableRows (): Array<{ id: number, name: string }> {
  const rows: Array<{ id: number, name: string }> = []
  for (const m of spec.matchAll(/^\| (\d+) \| ([a-z]+) \| [^|]+ \| [^|]+ \|$/gm)) rows.push({ id: Number(m[1]), name: m[2] })
  return rows
}

test('every message type has a row in the message table, with its id; ids are unique', () => {
  const rows = tableRows()
  for (const [name, id] of Object.entries(MESSAGE_IDS)) {
    assert.ok(rows.some(r => r.name === name && r.id === id), `row "| ${id} | ${name} |" in protocol.md`)
  }
  assert.is(new Set(rows.map(r => r.id)).size, rows.length, 'ids are not reused')
  assert.is(new Set(rows.map(r => r.name)).size, rows.length, 'names are not reused')
  for (const row of rows) assert.is((MESSAGE_IDS as Record<string, number>)[row.name], row.id, `${row.name} is a message type in messages.ts`)
})

for (const [name, id] of Object.entries(MESSAGE_IDS) as Array<[MessageType, number]>) {
  test(`protocol.md's ${name} example${examples[name].length > 1 ? 's' : ''} equal the encoder's bytes`, () => {
    const blocks = hexBlocksUnder(`### ${name} (${id})`)
    assert.is(blocks.length, examples[name].length, `hex blocks under ### ${name} (${id})`)
    examples[name].forEach((message, i) => {
      const bytes = encodeMessage(message)
      assert.is(blocks[i], bytes.toString('hex'), `example ${i + 1}`)
      assert.equal(decodeMessage(Buffer.from(blocks[i], 'hex')), message)
    })
  })
}

test("protocol.md's record example equals recordToWire packed", () => {
  const [hex] = hexBlocksUnder('## 2. Record format')
  const packr = new Packr({ useRecords: false, mapsAsObjects: true, variableMapSize: true })
  assert.is(packr.pack(recordToWire(planRecord)).toString('hex'), hex)
  assert.equal(recordFromWire(packr.unpack(Buffer.from(hex, 'hex'))), planRecord)
})

test("protocol.md's frame example is the ping frame", () => {
  const [hex] = hexBlocksUnder('## 3. Transport and framing')
  const frame = encodeFrame(encodeMessage({ type: 'ping' }))
  assert.is(frame.toString('hex'), hex)
  const payloads = new FrameDecoder().push(Buffer.from(hex, 'hex'))
  assert.equal(payloads.map(p => decodeMessage(p)), [{ type: 'ping' }])
})

test('the wire block limit fits every block the chunker cuts', () => {
  assert.ok(MAX_BLOCK_BYTES >= CHUNKER_MAX_BLOCK_BYTES)
  assert.ok(spec.includes(`${MAX_BLOCK_BYTES.toLocaleString('en').replace(/,/g, ' ')} bytes`), 'protocol.md states the block limit in bytes')
})

test('no placeholder is left in protocol.md', () => {
  assert.not.match(spec, /[A-Z_]+_HEX\b|_EXAMPLE\b/)
})

test.run()
