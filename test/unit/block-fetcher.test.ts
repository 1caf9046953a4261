import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { createHash, randomBytes } from 'node:crypto'
import { BlockFetcher } from '../../src/sync/block-fetcher.js'
import { deltaAgainst, signatureOf, type BlockSignature } from '../../src/core/block-delta.js'

const sha = (b: Uint8Array): Buffer => createHash('sha256').update(b).digest()
const block = (n: number, size = 100): Buffer => Buffer.alloc(size, n)

test('requests stay within the byte window, go out in order, and each answer is hash-checked', async () => {
  const sent: number[] = []
  const fetcher = new BlockFetcher({ send: m => sent.push(m.id), windowBytes: 250 })
  const blocks = Array.from({ length: 10 }, (_, i) => block(i))
  const results = blocks.map(async b => await fetcher.fetch({ folder: 'f', path: 'p', hash: sha(b), sizeBytes: b.length }))
  await new Promise(resolve => setImmediate(resolve))
  assert.is(sent.length, 2, 'two 100-byte blocks fit a 250-byte window')
  for (let i = 0; i < blocks.length; i++) {
    await new Promise(resolve => setImmediate(resolve))
    assert.ok(fetcher.inFlight <= 2)
    fetcher.onResponse(sent[i], blocks[i], undefined)
  }
  const got = await Promise.all(results)
  assert.equal(got.map(b => b[0]), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9])
  assert.equal(sent, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 'first come, first served')
})

test('a block larger than the window still goes out alone; a wrong block and close reject', async () => {
  const sent: number[] = []
  const fetcher = new BlockFetcher({ send: m => sent.push(m.id), windowBytes: 50 })
  const big = block(7, 200)
  const p = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(big), sizeBytes: 200 })
  const queued = fetcher.fetch({ folder: 'f', path: 'q', hash: sha(block(1)), sizeBytes: 100 })
  await new Promise(resolve => setImmediate(resolve))
  assert.is(sent.length, 1)
  assert.throws(() => fetcher.onResponse(sent[0], block(8, 200), undefined), (err: any) => err.code === 'PROTOCOL_BLOCK_HASH')
  await p.then(() => assert.unreachable(), (err: any) => assert.is(err.code, 'PROTOCOL_BLOCK_HASH'))
  await new Promise(resolve => setImmediate(resolve))
  assert.is(sent.length, 2, 'the next one went out once the window emptied')
  fetcher.close(Object.assign(new Error('gone'), { code: 'TRANSPORT_CLOSED' }))
  await queued.then(() => assert.unreachable(), (err: any) => assert.is(err.code, 'TRANSPORT_CLOSED'))
  await fetcher.fetch({ folder: 'f', path: 'r', hash: sha(big), sizeBytes: 200 }).then(() => assert.unreachable(), (err: any) => assert.is(err.message, 'gone'))
})

test('a request with a base carries its signature; a delta answer is rebuilt, hash-checked and counted by the bytes it carried', async () => {
  const sent: Array<{ id: number, base?: BlockSignature }> = []
  const fetcher = new BlockFetcher({ send: m => sent.push({ id: m.id, base: m.base }) })
  const base = randomBytes(64 * 1024)
  const edited = Buffer.concat([Buffer.from('inserted'), base])
  const got = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(edited), sizeBytes: edited.length }, undefined, { sizeBytes: base.length, load: async () => ({ bytes: base, signature: signatureOf(base) }) })
  await new Promise(resolve => setImmediate(resolve))
  assert.is(sent.length, 1)
  assert.ok(sent[0].base !== undefined && sent[0].base.weak.length === 32, 'the signature went with the request')
  fetcher.onResponse(sent[0].id, undefined, undefined, deltaAgainst(edited, sent[0].base))
  assert.equal(Buffer.from(await got), edited)
  assert.is(fetcher.bytesReceived, 8, 'only the inserted bytes came over the wire')
})

test('a delta whose result has another hash is asked for again whole; one that does not fit its base, or answers no base, closes', async () => {
  const sent: Array<{ id: number, base?: BlockSignature }> = []
  const fetcher = new BlockFetcher({ send: m => sent.push({ id: m.id, base: m.base }) })
  const base = randomBytes(16 * 1024)
  const wanted = randomBytes(16 * 1024)
  const got = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(wanted), sizeBytes: wanted.length }, undefined, { sizeBytes: base.length, load: async () => ({ bytes: base, signature: signatureOf(base) }) })
  await new Promise(resolve => setImmediate(resolve))
  fetcher.onResponse(sent[0].id, undefined, undefined, [{ from: 0, count: 8 }]) // the base itself: not the wanted hash
  assert.is(sent.length, 2, 'asked again')
  assert.is(sent[1].base, undefined, 'whole, this time')
  fetcher.onResponse(sent[1].id, wanted, undefined)
  assert.equal(Buffer.from(await got), wanted)

  const bad = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(wanted), sizeBytes: wanted.length }, undefined, { sizeBytes: base.length, load: async () => ({ bytes: base, signature: signatureOf(base) }) })
  await new Promise(resolve => setImmediate(resolve))
  assert.throws(() => fetcher.onResponse(sent[2].id, undefined, undefined, [{ from: 5, count: 4 }]), (err: any) => err.code === 'PROTOCOL_BLOCK_HASH' && /does not fit its base/.test(err.message))
  await bad.then(() => assert.unreachable(), (err: any) => assert.is(err.code, 'PROTOCOL_BLOCK_HASH'))

  const plain = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(wanted), sizeBytes: wanted.length })
  await new Promise(resolve => setImmediate(resolve))
  assert.is(sent[3].base, undefined)
  assert.throws(() => fetcher.onResponse(sent[3].id, undefined, undefined, [wanted]), (err: any) => err.code === 'PROTOCOL_UNEXPECTED')
  await plain.then(() => assert.unreachable(), (err: any) => assert.is(err.code, 'PROTOCOL_UNEXPECTED'))
})

test('a base that cannot be read leaves the request whole', async () => {
  const sent: Array<{ id: number, base?: BlockSignature }> = []
  const fetcher = new BlockFetcher({ send: m => sent.push({ id: m.id, base: m.base }) })
  const wanted = randomBytes(100)
  const got = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(wanted), sizeBytes: 100 }, undefined, { sizeBytes: 1000, load: async () => { throw new Error('store gone') } })
  await new Promise(resolve => setImmediate(resolve))
  assert.is(sent[0].base, undefined)
  fetcher.onResponse(sent[0].id, wanted, undefined)
  assert.equal(Buffer.from(await got), wanted)
})

test('an offered base counts against the byte window until the answer', async () => {
  const sent: number[] = []
  const fetcher = new BlockFetcher({ send: m => sent.push(m.id), windowBytes: 350 })
  const base = Buffer.alloc(200, 1)
  const a = block(1); const b = block(2)
  const first = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(a), sizeBytes: 100 }, undefined, { sizeBytes: 200, load: async () => ({ bytes: base, signature: signatureOf(base) }) })
  const second = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(b), sizeBytes: 100 })
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(sent, [1], '100 + 200 + 100 bytes do not fit 350')
  fetcher.onResponse(1, a, undefined)
  await first
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(sent, [1, 2])
  fetcher.onResponse(2, b, undefined)
  await second
})

test.after(() => {})
test('a request goes out only once the receive throttle lets it; closing meanwhile sends nothing', async () => {
  const sent: number[] = []
  const gates: Array<{ sizeBytes: number, open: () => void, fail: (err: Error) => void }> = []
  const throttle = async (sizeBytes: number): Promise<void> => await new Promise((resolve, reject) => gates.push({ sizeBytes, open: resolve, fail: reject }))
  const fetcher = new BlockFetcher({ send: m => sent.push(m.id), throttle })
  const a = block(1); const b = block(2)
  const first = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(a), sizeBytes: a.length })
  const second = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(b), sizeBytes: b.length })
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(gates.map(g => g.sizeBytes), [100, 100], 'the throttle is asked with each block size')
  assert.equal(sent, [], 'nothing is requested before the throttle lets it')
  gates[0].open()
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(sent, [1])
  fetcher.onResponse(1, a, undefined)
  assert.equal(await first, a)
  fetcher.close(new Error('gone'))
  gates[1].fail(new Error('aborted'))
  try { await second; assert.unreachable('fetched after close') } catch (err) { assert.is((err as Error).message, 'gone') }
  assert.equal(sent, [1], 'a request waiting on the throttle is never sent after close')
})


test('a block being stored (consumed) still counts against the window; a failed store rejects its fetch and frees its room', async () => {
  const sent: number[] = []
  const fetcher = new BlockFetcher({ send: m => sent.push(m.id), windowBytes: 150 })
  const stores: Array<{ bytes: Uint8Array, done: () => void, fail: (err: Error) => void }> = []
  const consume = async (bytes: Uint8Array): Promise<void> => await new Promise((resolve, reject) => stores.push({ bytes, done: resolve, fail: reject }))
  const a = block(1); const b = block(2); const c = block(3)
  const first = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(a), sizeBytes: 100 }, consume)
  const second = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(b), sizeBytes: 100 }, consume)
  const third = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(c), sizeBytes: 100 })
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(sent, [1])
  fetcher.onResponse(1, a, undefined)
  await new Promise(resolve => setImmediate(resolve))
  assert.is(stores.length, 1, 'the answer went to the store')
  assert.equal(sent, [1], 'nothing more is asked while the answer is being stored')
  let isFirstSettled = false
  void first.then(() => { isFirstSettled = true })
  await new Promise(resolve => setImmediate(resolve))
  assert.not.ok(isFirstSettled, 'the fetch waits for its store')
  stores[0].done()
  assert.equal(await first, a)
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(sent, [1, 2], 'stored: the window has room again')
  fetcher.onResponse(2, b, undefined)
  await new Promise(resolve => setImmediate(resolve))
  stores[1].fail(Object.assign(new Error('disk full'), { code: 'DISK_FULL' }))
  await second.then(() => assert.unreachable(), (err: any) => assert.is(err.code, 'DISK_FULL'))
  await new Promise(resolve => setImmediate(resolve))
  assert.equal(sent, [1, 2, 3], 'a failed store frees its room too')
  fetcher.onResponse(3, c, undefined)
  assert.equal(await third, c)
})

test('closing while a block is being stored: later fetches fail, and the store finishing frees nothing twice', async () => {
  const sent: number[] = []
  const fetcher = new BlockFetcher({ send: m => sent.push(m.id), windowBytes: 100 })
  let finish = (): void => {}
  const a = block(1)
  const first = fetcher.fetch({ folder: 'f', path: 'p', hash: sha(a), sizeBytes: 100 }, async () => await new Promise<void>(resolve => { finish = resolve }))
  await new Promise(resolve => setImmediate(resolve))
  fetcher.onResponse(sent[0], a, undefined)
  fetcher.close(new Error('gone'))
  finish()
  assert.equal(await first, a, 'a block received before the close is still stored and returned')
  await fetcher.fetch({ folder: 'f', path: 'q', hash: sha(a), sizeBytes: 100 }).then(() => assert.unreachable(), (err: any) => assert.is(err.message, 'gone'))
})

test.run()
