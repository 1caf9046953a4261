// SHA-256 of a whole big file, computed on a worker thread while the main thread chunks the same
// file and hashes its blocks (fs/hasher.ts). A scan of a big file made two SHA-256 passes over it
// on one thread; the second ran a third of the time of rescanning a 256 MiB file after a 4 KiB
// edit (0.2 of 0.7 s), while the machine's other core sat idle. The worker reads the file itself
// (from the page cache, warm from the main thread's reads): no bytes cross between the threads.
//
// One worker, started on first use and ended after a while without work, so an agent that never
// meets a big file never pays for it (some 10 MiB of memory while it lives).
import { Worker } from 'node:worker_threads'

/** The worker's code: CommonJS, evaluated as is (no build step, the same under tsx and from dist). */
const WORKER_SOURCE = `
const { parentPort } = require('node:worker_threads')
const { openSync, readSync, closeSync, fstatSync } = require('node:fs')
const { createHash } = require('node:crypto')
const buffer = Buffer.allocUnsafe(1024 * 1024)
parentPort.on('message', ({ id, path }) => {
  let fd
  try {
    fd = openSync(path, 'r')
    const hash = createHash('sha256')
    let position = 0
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, position)
      if (n === 0) break
      hash.update(buffer.subarray(0, n))
      position += n
    }
    const s = fstatSync(fd)
    parentPort.postMessage({ id, hash: hash.digest(), ino: s.ino, dev: s.dev, sizeBytes: position })
  } catch (err) {
    parentPort.postMessage({ id, error: { message: err.message, code: err.code } })
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
})
`

/** The worker ends after this long without a request. */
const IDLE_MS = 10_000

export interface WholeHash {
  hash: Uint8Array
  /** The file the worker read (the caller checks it is the one it read itself). */
  ino: number
  dev: number
  /** Bytes read, to the end of the file. */
  sizeBytes: number
}

interface Pending { resolve: (result: WholeHash) => void, reject: (err: Error) => void }

let worker: Worker | undefined
let idleTimer: NodeJS.Timeout | undefined
let nextId = 1
const pending = new Map<number, Pending>()

/**
 * SHA-256 of the file at `path`, read to its end by the worker thread. Rejects with the fs error
 * (its `code` kept) when the file cannot be read.
 */
export async function hashWholeFileOnWorker (path: string): Promise<WholeHash> {
  const w = worker ?? startWorker()
  if (idleTimer !== undefined) { clearTimeout(idleTimer); idleTimer = undefined }
  const id = nextId++
  return await new Promise<WholeHash>((resolve, reject) => {
    pending.set(id, { resolve, reject })
    w.postMessage({ id, path })
  })
}

function startWorker (): Worker {
  const w = new Worker(WORKER_SOURCE, { eval: true, resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 } })
  w.unref() // never what keeps a stopping agent alive
  w.on('message', (message: { id: number, hash?: Uint8Array, ino?: number, dev?: number, sizeBytes?: number, error?: { message: string, code?: string } }) => {
    const request = pending.get(message.id)
    if (request === undefined) return
    pending.delete(message.id)
    if (message.error !== undefined) {
      request.reject(Object.assign(new Error(message.error.message), { code: message.error.code }))
    } else {
      request.resolve({ hash: new Uint8Array(message.hash!), ino: message.ino!, dev: message.dev!, sizeBytes: message.sizeBytes! })
    }
    if (pending.size === 0) scheduleIdleEnd()
  })
  // A worker that died (out of memory, terminated) fails what it had; the next request starts another.
  const fail = (err: Error): void => {
    if (worker === w) worker = undefined
    for (const request of pending.values()) request.reject(err)
    pending.clear()
  }
  w.on('error', fail)
  w.on('exit', code => fail(new Error(`the hashing worker stopped (exit code ${code})`)))
  worker = w
  return w
}

function scheduleIdleEnd (): void {
  if (idleTimer !== undefined) clearTimeout(idleTimer)
  idleTimer = setTimeout(() => {
    idleTimer = undefined
    if (pending.size > 0 || worker === undefined) return
    const w = worker
    worker = undefined
    void w.terminate()
  }, IDLE_MS)
  idleTimer.unref()
}
