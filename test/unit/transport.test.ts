// The transport over real TCP on 127.0.0.1: who gets in (paired keys only, checked before any data),
// who is dropped (garbage, silence, wrong device, too many half-open sockets), and the byte stream
// itself (both directions, backpressure, counters, close).
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import net from 'node:net'
import { createHash } from 'node:crypto'
import crypto from 'hypercore-crypto'
import { Transport, type Connection, type RejectedInfo, type TransportOptions } from '../../src/net/transport.js'
import { isLansyncError } from '../../src/errors.js'

const HOST = '127.0.0.1'
const DEADLINE_MS = 5_000

type KeyPair = ReturnType<typeof crypto.keyPair>

const open: Transport[] = []
const rawSockets: net.Socket[] = []

function transport (keyPair: KeyPair, allowed: KeyPair[], options: Partial<TransportOptions> = {}): Transport {
  const keys = allowed.map(k => k.publicKey)
  const t = new Transport({ keyPair, isAllowed: key => keys.some(k => k.equals(Buffer.from(key))), ...options })
  open.push(t)
  return t
}

async function cleanup (): Promise<void> {
  for (const s of rawSockets.splice(0)) s.destroy()
  await Promise.all(open.splice(0).map(async t => await t.close()))
}

/** Resolves once `check` holds, polling; fails after the deadline. */
async function until (check: () => boolean, what: string, deadlineMs = DEADLINE_MS): Promise<void> {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > deadlineMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 5))
  }
}

function nextEvent<T> (emitter: { once: (event: any, fn: (value: T) => void) => unknown }, event: string, what = event): Promise<T> {
  const promise = new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS)
    emitter.once(event, (value: T) => { clearTimeout(timer); resolve(value) })
  })
  // A test that fails before awaiting this must report that failure, not crash on this timeout.
  promise.catch(() => {})
  return promise
}

async function rawConnect (port: number): Promise<net.Socket> {
  const socket = net.connect(port, HOST)
  rawSockets.push(socket)
  socket.on('error', () => {})
  await nextEvent(socket, 'connect')
  return socket
}

function collect (conn: Connection): { chunks: Buffer[], bytes: () => Buffer } {
  const chunks: Buffer[] = []
  conn.on('data', chunk => chunks.push(chunk))
  return { chunks, bytes: () => Buffer.concat(chunks) }
}

/** Sends until the peer stops taking bytes (drain does not come within a while); returns bytes sent. */
async function sendUntilStuck (conn: Connection): Promise<number> {
  const chunk = Buffer.alloc(256 * 1024, 9)
  let sentBytes = 0
  for (;;) {
    const isBelowMark = conn.send(chunk)
    sentBytes += chunk.length
    if (isBelowMark) continue
    const drained = await Promise.race([conn.waitDrain().then(() => true), new Promise(resolve => setTimeout(() => resolve(false), 300))])
    if (drained === false) return sentBytes
    assert.ok(sentBytes < 256 * 1024 * 1024, 'the sender was never held back')
  }
}

/** Two paired transports on loopback: A's connection to B (`out`) and B's end of it (`inc`). */
async function connectedPair (): Promise<{ a: KeyPair, b: KeyPair, ta: Transport, tb: Transport, port: number, out: Connection, inc: Connection }> {
  const a = crypto.keyPair(); const b = crypto.keyPair()
  const ta = transport(a, [b]); const tb = transport(b, [a])
  const { port } = await tb.listen(HOST, 0)
  const accepted = nextEvent<Connection>(tb, 'connection')
  const out = await ta.dial(HOST, port, b.publicKey)
  return { a, b, ta, tb, port, out, inc: await accepted }
}

test.after.each(cleanup)

test('two paired devices connect both ways and exchange bytes', async () => {
  const a = crypto.keyPair(); const b = crypto.keyPair()
  const ta = transport(a, [b]); const tb = transport(b, [a])
  const pa = await ta.listen(HOST, 0); const pb = await tb.listen(HOST, 0)
  assert.is(pa.host, HOST)
  assert.ok(pa.port > 0 && pb.port > 0)

  for (const [dialer, listener, port, dialerKey, listenerKey] of [[ta, tb, pb.port, a, b], [tb, ta, pa.port, b, a]] as const) {
    const accepted = nextEvent<Connection>(listener, 'connection')
    const out = await dialer.dial(HOST, port, listenerKey.publicKey)
    const inc = await accepted
    assert.ok(out.isInitiator)
    assert.not.ok(inc.isInitiator)
    assert.ok(out.remotePublicKey.equals(listenerKey.publicKey))
    assert.ok(inc.remotePublicKey.equals(dialerKey.publicKey))
    assert.match(out.remoteAddress, `${HOST}:${port}`)
    assert.match(inc.remoteAddress, HOST)

    const got = collect(inc); const back = collect(out)
    out.send(Buffer.from('hello '))
    out.send(Buffer.from('over noise'))
    inc.send(Buffer.from('and back'))
    await until(() => got.bytes().length === 16 && back.bytes().length === 8, 'both directions')
    assert.is(got.bytes().toString(), 'hello over noise')
    assert.is(back.bytes().toString(), 'and back')
    assert.is(out.bytesSent, 16); assert.is(inc.bytesReceived, 16)
    assert.is(inc.bytesSent, 8); assert.is(out.bytesReceived, 8)
  }
  assert.is(ta.openConnections, 2)
  assert.is(tb.openConnections, 2)
})

test('bytes sent before the receiver listens wait for it', async () => {
  const a = crypto.keyPair(); const b = crypto.keyPair()
  const ta = transport(a, [b]); const tb = transport(b, [a])
  const { port } = await tb.listen(HOST, 0)
  const accepted = nextEvent<Connection>(tb, 'connection')
  const out = await ta.dial(HOST, port, b.publicKey)
  out.send(Buffer.from('early'))
  const inc = await accepted
  // Wait until the receiving secret-stream has decrypted the message (its own counter; a private
  // field read only here), so the bytes are inside before anyone listens.
  const stream = (inc as unknown as { stream: { rawBytesRead: number } }).stream
  await until(() => stream.rawBytesRead > 0, 'the early bytes to arrive')
  const got = collect(inc)
  await until(() => got.bytes().length === 5, 'the early bytes')
  assert.is(got.bytes().toString(), 'early')
})

test('an unpaired key is refused by the responder before any data reaches the app', async () => {
  const server = crypto.keyPair(); const stranger = crypto.keyPair()
  const ts = transport(server, [])
  // The stranger trusts the server, but the server does not know the stranger.
  const tx = transport(stranger, [server])
  const { port } = await ts.listen(HOST, 0)
  let accepted = 0
  ts.on('connection', () => { accepted++ })
  const rejected = nextEvent<RejectedInfo>(ts, 'rejected')
  const err = await tx.dial(HOST, port, server.publicKey).then(() => undefined, (e: unknown) => e)
  assert.ok(isLansyncError(err, 'TRANSPORT_HANDSHAKE'), String(err))
  const info = await rejected
  assert.is(info.kind, 'unknown-key')
  assert.ok(info.remotePublicKey?.equals(stranger.publicKey))
  assert.match(info.remoteAddress, HOST)
  assert.is(accepted, 0)
  assert.is(ts.openConnections, 0)
})

test('the key check runs before data: a refused dialer pushing data at once delivers none', async () => {
  // A stranger that skips waiting for acceptance: it speaks secret-stream itself and writes right
  // after its last handshake message, so its data arrives in the same segments as that message.
  const { default: NoiseSecretStream } = await import('@hyperswarm/secret-stream')
  const server = crypto.keyPair(); const stranger = crypto.keyPair()
  let isAllowedCalls = 0
  const ts = transport(server, [], { isAllowed: () => { isAllowedCalls++; return false } })
  const { port } = await ts.listen(HOST, 0)
  let accepted = 0
  ts.on('connection', () => { accepted++ })
  const rejected = nextEvent<RejectedInfo>(ts, 'rejected')
  const socket = await rawConnect(port)
  const stream = new NoiseSecretStream(true, socket, { pattern: 'XK', keyPair: stranger, remotePublicKey: server.publicKey })
  stream.on('error', () => {})
  stream.write(Buffer.alloc(64 * 1024, 7))
  const info = await rejected
  assert.is(info.kind, 'unknown-key')
  assert.is(isAllowedCalls, 1)
  assert.is(accepted, 0)
  await until(() => stream.destroyed, 'the stranger to be cut off')
})

test('a dialer expecting key K reaching a device with another key fails with TRANSPORT_HANDSHAKE', async () => {
  const a = crypto.keyPair(); const b = crypto.keyPair(); const k = crypto.keyPair()
  const ta = transport(a, [b, k]); const tb = transport(b, [a])
  const { port } = await tb.listen(HOST, 0)
  let accepted = 0
  tb.on('connection', () => { accepted++ })
  const rejected = nextEvent<RejectedInfo>(tb, 'rejected')
  const err = await ta.dial(HOST, port, k.publicKey).then(() => undefined, (e: unknown) => e)
  assert.ok(isLansyncError(err, 'TRANSPORT_HANDSHAKE'), String(err))
  // The responder could not read the first message (it was for K), so it never learned who dialed.
  const info = await rejected
  assert.is(info.kind, 'handshake')
  assert.is(info.remotePublicKey, undefined)
  assert.is(accepted, 0)
})

test('dialing an unpaired key is refused locally; a closed port fails with TRANSPORT_CLOSED', async () => {
  const a = crypto.keyPair(); const b = crypto.keyPair()
  const ta = transport(a, [])
  const err = await ta.dial(HOST, 1, b.publicKey).then(() => undefined, (e: unknown) => e)
  assert.ok(isLansyncError(err, 'PEER_UNKNOWN'), String(err))

  const probe = net.createServer()
  await new Promise<void>(resolve => probe.listen(0, HOST, resolve))
  const freePort = (probe.address() as net.AddressInfo).port
  await new Promise(resolve => probe.close(resolve))
  const tc = transport(a, [b])
  const err2 = await tc.dial(HOST, freePort, b.publicKey).then(() => undefined, (e: unknown) => e)
  assert.ok(isLansyncError(err2, 'TRANSPORT_CLOSED'), String(err2))
  assert.match((err2 as Error).message, 'ECONNREFUSED')
})

test('a raw client sending garbage is dropped and the server keeps serving others', async () => {
  const a = crypto.keyPair(); const b = crypto.keyPair()
  const ta = transport(a, [b]); const tb = transport(b, [a])
  const { port } = await tb.listen(HOST, 0)
  const rejections: RejectedInfo[] = []
  tb.on('rejected', info => rejections.push(info))

  // Text: its first three bytes read as a 7 MB message length.
  const text = await rawConnect(port)
  text.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n')
  await nextEvent(text, 'close', 'the text client to be dropped')
  // A plausible length with random contents: the Noise message fails to authenticate.
  const noise = await rawConnect(port)
  const message = Buffer.alloc(3 + 48)
  message.writeUIntLE(48, 0, 3)
  message.set(crypto.keyPair().publicKey, 3)
  noise.write(message)
  await nextEvent(noise, 'close', 'the random-noise client to be dropped')
  // A 16 MiB length prefix is refused before anything is buffered for it.
  const huge = await rawConnect(port)
  huge.write(Buffer.from([0xff, 0xff, 0xff, 1, 2, 3]))
  await nextEvent(huge, 'close', 'the huge-length client to be dropped')

  await until(() => rejections.length === 3, 'three rejections')
  assert.equal(rejections.map(r => r.kind), ['handshake', 'handshake', 'handshake'])
  assert.match(rejections[0].reason, 'not a lansync handshake')
  assert.match(rejections[2].reason, 'not a lansync handshake')

  const accepted = nextEvent<Connection>(tb, 'connection')
  const out = await ta.dial(HOST, port, b.publicKey)
  const inc = await accepted
  const got = collect(inc)
  out.send(Buffer.from('still here'))
  await until(() => got.bytes().toString() === 'still here', 'data after the garbage')
})

test('a silent socket is dropped after the handshake timeout', async () => {
  const b = crypto.keyPair()
  const tb = transport(b, [], { handshakeTimeoutMs: 150 })
  const { port } = await tb.listen(HOST, 0)
  const rejected = nextEvent<RejectedInfo>(tb, 'rejected')
  const started = Date.now()
  const silent = await rawConnect(port)
  const closed = nextEvent(silent, 'close', 'the silent socket to be dropped')
  const info = await rejected
  await closed
  assert.is(info.kind, 'timeout')
  assert.ok(Date.now() - started >= 140, 'not dropped before the timeout')
})

test('the unauthenticated cap refuses extra sockets and frees up as they go', async () => {
  const a = crypto.keyPair(); const b = crypto.keyPair()
  const ta = transport(a, [b]); const tb = transport(b, [a], { maxUnauthenticated: 2 })
  const { port } = await tb.listen(HOST, 0)
  const rejections: RejectedInfo[] = []
  tb.on('rejected', info => rejections.push(info))
  const first = await rawConnect(port)
  const second = await rawConnect(port)
  const third = await rawConnect(port)
  await nextEvent(third, 'close', 'the third socket to be refused')
  assert.equal(rejections.map(r => r.kind), ['busy'])
  assert.not.ok(first.destroyed || second.destroyed)

  // An allowed device is refused too while the cap is full...
  const refused = await ta.dial(HOST, port, b.publicKey).then(() => undefined, (e: unknown) => e)
  assert.ok(isLansyncError(refused, 'TRANSPORT_HANDSHAKE'), String(refused))
  // ...and gets in once a half-open socket goes away.
  first.destroy()
  await until(() => rejections.length === 3, 'the closed socket to be counted out')
  const accepted = nextEvent<Connection>(tb, 'connection')
  await ta.dial(HOST, port, b.publicKey)
  await accepted
})

test('close() is idempotent, ends connections and stops listening', async () => {
  const { a, b, ta, tb, port, out, inc } = await connectedPair()
  const outClosed = nextEvent<string>(out, 'close')
  const incClosed = nextEvent<string>(inc, 'close')
  const half = await rawConnect(port)
  const halfClosed = nextEvent(half, 'close', 'the half-open socket to close')

  await Promise.all([tb.close(), tb.close()])
  await tb.close()
  assert.is(await incClosed, 'the transport closed')
  assert.is(await outClosed, 'closed by the peer')
  await halfClosed
  assert.not.ok(out.send(Buffer.from('x')))
  assert.not.ok(inc.isOpen)
  const err = await ta.dial(HOST, port, b.publicKey).then(() => undefined, (e: unknown) => e)
  assert.ok(isLansyncError(err, 'TRANSPORT_CLOSED'), String(err))
  const err2 = await tb.dial(HOST, port, a.publicKey).then(() => undefined, (e: unknown) => e)
  assert.ok(isLansyncError(err2, 'TRANSPORT_CLOSED'), String(err2))
})

test('Connection.close flushes what was sent and reports the reason on both ends', async () => {
  const { ta, tb, out, inc } = await connectedPair()
  const got = collect(inc)
  const incClosed = nextEvent<string>(inc, 'close')
  const outClosed = nextEvent<string>(out, 'close')
  const last = Buffer.alloc(1024 * 1024, 3)
  out.send(last)
  out.close('done here')
  out.close('again')
  assert.is(await outClosed, 'done here')
  assert.is(await incClosed, 'closed by the peer')
  assert.is(got.bytes().length, last.length)
  await until(() => ta.openConnections === 0 && tb.openConnections === 0, 'both transports to forget the connection')
})

test('listen on an address in use fails with TRANSPORT_LISTEN', async () => {
  const a = crypto.keyPair()
  const first = transport(a, [])
  const { port } = await first.listen(HOST, 0)
  const second = transport(a, [])
  const err = await second.listen(HOST, port).then(() => undefined, (e: unknown) => e)
  assert.ok(isLansyncError(err, 'TRANSPORT_LISTEN'), String(err))
  assert.match((err as Error).message, 'already in use')
  // The failed transport can still listen elsewhere.
  const again = await second.listen(HOST, 0)
  assert.ok(again.port > 0 && again.port !== port)
})

test('backpressure: send returns false, drain resumes, a few MiB arrive intact and counted', async () => {
  const { out, inc } = await connectedPair()

  const totalBytes = 8 * 1024 * 1024 + 123
  const sent = createHash('sha256')
  let receivedBytes = 0
  const received = createHash('sha256')
  inc.on('data', chunk => { received.update(chunk); receivedBytes += chunk.length })

  let offset = 0
  let falseCount = 0
  let drainEvents = 0
  out.on('drain', () => { drainEvents++ })
  let seed = 1
  while (offset < totalBytes) {
    const size = Math.min(totalBytes - offset, 1 + (seed * 7919) % (700 * 1024))
    seed++
    const chunk = Buffer.alloc(size, seed & 0xff)
    sent.update(chunk)
    offset += size
    if (!out.send(chunk)) {
      falseCount++
      await out.waitDrain()
    }
  }
  await until(() => receivedBytes === totalBytes, 'all bytes to arrive', 20_000)
  assert.ok(falseCount > 0, 'send never reported backpressure')
  assert.ok(drainEvents > 0, 'no drain event')
  assert.is(received.digest('hex'), sent.digest('hex'))
  assert.is(out.bytesSent, totalBytes)
  assert.is(inc.bytesReceived, totalBytes)
  assert.is(inc.bytesSent, 0)
  assert.is(out.bytesReceived, 0)
})

test('several buffers in one send arrive as their concatenation, in order, counted once', async () => {
  const { out, inc } = await connectedPair()
  const got = collect(inc)
  // Small parts gathered into one message, parts larger than a message split, empty ones skipped.
  const sends = [
    [Buffer.from('abcd'), Buffer.from('xyz'), Buffer.alloc(100_000, 1)],
    [Buffer.alloc(0), Buffer.alloc(16 * 1024, 2), Buffer.alloc(16 * 1024 - 1, 3), Buffer.from('!')],
    [Buffer.alloc(40_000, 4)],
    []
  ]
  const expected = Buffer.concat(sends.flat())
  for (const parts of sends) out.send(...parts)
  await until(() => got.bytes().length >= expected.length, 'all bytes to arrive')
  assert.ok(got.bytes().equals(expected))
  assert.is(out.bytesSent, expected.length)
  assert.is(inc.bytesReceived, expected.length)
})

test('a receiver that stops reading pushes back on the sender', async () => {
  const a = crypto.keyPair(); const b = crypto.keyPair()
  const ta = transport(a, [b]); const tb = transport(b, [a])
  const { port } = await tb.listen(HOST, 0)
  const accepted = nextEvent<Connection>(tb, 'connection')
  const out = await ta.dial(HOST, port, b.publicKey)
  const inc = await accepted // nobody reads from inc yet

  const sentBytes = await sendUntilStuck(out)
  const got = collect(inc)
  await until(() => got.bytes().length === sentBytes, 'the held-back bytes once reading starts', 20_000)
  await out.waitDrain()
})

test('waitDrain rejects with TRANSPORT_CLOSED when the connection closes first; many waiters share one wait', async () => {
  const { out, inc } = await connectedPair()
  await sendUntilStuck(out) // inc never reads, so the buffers stay full
  // A dozen senders waiting at once (blocks served together) share one listener pair, not one each.
  const waiting = [out.waitDrain().then(() => undefined, (e: unknown) => e)]
  const closeListeners = out.listenerCount('close')
  for (let i = 0; i < 11; i++) waiting.push(out.waitDrain().then(() => undefined, (e: unknown) => e))
  assert.is(out.listenerCount('close'), closeListeners)
  assert.is(out.listenerCount('drain'), 1)
  inc.destroy('go away')
  for (const err of await Promise.all(waiting)) assert.ok(isLansyncError(err, 'TRANSPORT_CLOSED'), String(err))
  assert.is(out.listenerCount('drain'), 0)
})

test.run()
