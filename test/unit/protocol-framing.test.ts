import { test } from 'uvu'
import * as assert from 'uvu/assert'
import fc from 'fast-check'
import { encodeFrame, encodeFrameParts, FrameDecoder } from '../../src/protocol/framing.js'
import { decodeMessage, encodeMessage } from '../../src/protocol/codec.js'
import { MAX_FRAME_BYTES } from '../../src/protocol/messages.js'
import { isLansyncError, type ErrorCode } from '../../src/errors.js'

function throwsCode (fn: () => unknown, code: ErrorCode, pattern?: RegExp): void {
  try {
    fn()
  } catch (err) {
    assert.ok(isLansyncError(err, code), String(err))
    if (pattern !== undefined) assert.match((err as Error).message, pattern)
    return
  }
  assert.unreachable(`no ${code}`)
}

/** Cuts `bytes` at the given offsets (any order, duplicates allowed). */
function split (bytes: Uint8Array, cuts: number[]): Uint8Array[] {
  const points = [...new Set(cuts.map(c => c % (bytes.byteLength + 1)))].sort((a, b) => a - b)
  const out: Uint8Array[] = []
  let last = 0
  for (const p of [...points, bytes.byteLength]) { out.push(bytes.subarray(last, p)); last = p }
  return out
}

test('a frame is a 4-byte big-endian length and the payload', () => {
  const frame = encodeFrame(Buffer.from('abc'))
  assert.is(frame.toString('hex'), '00000003616263')
  assert.is(encodeFrame(new Uint8Array(0x010203)).subarray(0, 4).toString('hex'), '00010203')
})

test('a frame of parts is the length prefix then the parts themselves, and the same bytes as encodeFrame', () => {
  const parts = [Buffer.from('ab'), Buffer.alloc(0), Buffer.alloc(70_000, 5)]
  const framed = encodeFrameParts(parts)
  assert.is(framed.length, 4)
  assert.ok(framed[1] === parts[0] && framed[3] === parts[2], 'a part was copied')
  assert.ok(Buffer.concat(framed).equals(encodeFrame(Buffer.concat(parts))))
  throwsCode(() => encodeFrameParts([new Uint8Array(0), new Uint8Array(0)]), 'PROTOCOL_DECODE')
  throwsCode(() => encodeFrameParts([new Uint8Array(6), new Uint8Array(5)], 10), 'PROTOCOL_FRAME_TOO_LARGE')
})

test('encodeFrame refuses empty and oversized payloads', () => {
  throwsCode(() => encodeFrame(new Uint8Array(0)), 'PROTOCOL_DECODE')
  throwsCode(() => encodeFrame(new Uint8Array(11), 10), 'PROTOCOL_FRAME_TOO_LARGE')
  assert.is(encodeFrame(new Uint8Array(10), 10).byteLength, 14)
})

test('several frames in one chunk, and a payload in one chunk is not copied', () => {
  const chunk = Buffer.concat([encodeFrame(Buffer.from('one')), encodeFrame(Buffer.from('two')), encodeFrame(Buffer.from('three'))])
  const payloads = new FrameDecoder().push(chunk)
  assert.equal(payloads.map(p => Buffer.from(p).toString()), ['one', 'two', 'three'])
  assert.is(payloads[0].buffer, chunk.buffer)
})

test('a header announcing too much is refused before its payload arrives', () => {
  const decoder = new FrameDecoder({ maxFrameBytes: 1024 })
  assert.equal(decoder.push(Buffer.from([0x00, 0x00])), [])
  throwsCode(() => decoder.push(Buffer.from([0x04, 0x01])), 'PROTOCOL_FRAME_TOO_LARGE', /1025 bytes, more than the limit of 1024/)
  assert.is(decoder.pendingBytes, 0)
  // The decoder stays failed: the connection is to be closed.
  throwsCode(() => decoder.push(Buffer.from('more')), 'PROTOCOL_FRAME_TOO_LARGE')
})

test('the default limit is 16 MiB; 0xffffffff and 0 are refused at once', () => {
  throwsCode(() => new FrameDecoder().push(Buffer.from('ffffffff', 'hex')), 'PROTOCOL_FRAME_TOO_LARGE', /4294967295/)
  const limit = Buffer.alloc(4)
  limit.writeUInt32BE(MAX_FRAME_BYTES + 1)
  throwsCode(() => new FrameDecoder().push(limit), 'PROTOCOL_FRAME_TOO_LARGE')
  throwsCode(() => new FrameDecoder().push(Buffer.from('00000000', 'hex')), 'PROTOCOL_DECODE', /empty payload/)
  // Exactly the limit is fine (the header is accepted and the decoder waits for the payload).
  limit.writeUInt32BE(MAX_FRAME_BYTES)
  const decoder = new FrameDecoder()
  assert.equal(decoder.push(limit), [])
})

test('garbage bytes are refused as a frame or as a message, never crash', () => {
  const decoder = new FrameDecoder({ maxFrameBytes: 64 })
  throwsCode(() => decoder.push(Buffer.from('GET / HTTP/1.1\r\n\r\n')), 'PROTOCOL_FRAME_TOO_LARGE')
  const payloads = new FrameDecoder().push(Buffer.from('00000002c1c1', 'hex'))
  throwsCode(() => decodeMessage(payloads[0]), 'PROTOCOL_DECODE')
})

test('a large frame byte by byte is assembled into one buffer', () => {
  const payload = Buffer.alloc(300_000)
  for (let i = 0; i < payload.byteLength; i++) payload[i] = (i * 31) & 0xff
  const frame = encodeFrame(payload)
  const decoder = new FrameDecoder()
  const out: Uint8Array[] = []
  for (let i = 0; i < frame.byteLength; i += 1) out.push(...decoder.push(frame.subarray(i, i + 1)))
  assert.is(out.length, 1)
  assert.ok(Buffer.from(out[0]).equals(payload))
  assert.is(decoder.pendingBytes, 0)
})

test('property: frames survive any split of the stream into chunks', () => {
  fc.assert(fc.property(
    fc.array(fc.uint8Array({ minLength: 1, maxLength: 300 }), { minLength: 1, maxLength: 12 }),
    fc.array(fc.nat(), { maxLength: 40 }),
    (payloads, cuts) => {
      const stream = Buffer.concat(payloads.map(p => encodeFrame(p)))
      const decoder = new FrameDecoder({ maxFrameBytes: 300 })
      const out: Uint8Array[] = []
      for (const chunk of split(stream, cuts)) out.push(...decoder.push(chunk))
      assert.equal(out.map(p => Buffer.from(p)), payloads.map(p => Buffer.from(p)))
      assert.is(decoder.pendingBytes, 0)
    }
  ), { numRuns: 500 })
})

test('property: messages survive framing and any split', () => {
  const messages = [
    encodeMessage({ type: 'ping' }),
    encodeMessage({ type: 'progress', folder: 'docs', needFiles: 1, needBytes: 2, sequence: 3 }),
    encodeMessage({ type: 'response', id: 9, data: Buffer.alloc(5000, 3) })
  ]
  fc.assert(fc.property(
    fc.array(fc.integer({ min: 0, max: messages.length - 1 }), { minLength: 1, maxLength: 10 }),
    fc.array(fc.nat(), { maxLength: 30 }),
    (picks, cuts) => {
      const stream = Buffer.concat(picks.map(i => encodeFrame(messages[i])))
      const decoder = new FrameDecoder()
      const decoded = split(stream, cuts).flatMap(chunk => decoder.push(chunk)).map(p => decodeMessage(p))
      assert.equal(decoded, picks.map(i => decodeMessage(messages[i])))
    }
  ), { numRuns: 300 })
})

test('property: an oversized header is refused wherever the stream is cut', () => {
  fc.assert(fc.property(fc.integer({ min: 101, max: 0xffffffff }), fc.array(fc.nat(), { maxLength: 6 }), (length, cuts) => {
    const header = Buffer.alloc(4)
    header.writeUInt32BE(length)
    const stream = Buffer.concat([encodeFrame(Buffer.from('ok')), header, Buffer.alloc(10)])
    const decoder = new FrameDecoder({ maxFrameBytes: 100 })
    let failedAt = -1
    let seen = 0
    for (const chunk of split(stream, cuts)) {
      try { decoder.push(chunk) } catch (err) {
        assert.ok(isLansyncError(err, 'PROTOCOL_FRAME_TOO_LARGE'))
        failedAt = seen + chunk.byteLength
        break
      }
      seen += chunk.byteLength
    }
    // It fails in the chunk that completes the header, never later.
    assert.ok(failedAt >= 10 && failedAt <= stream.byteLength, `failed at ${failedAt}`)
    assert.ok(seen < 10, 'no chunk after the header was needed')
  }), { numRuns: 300 })
})

test.run()
