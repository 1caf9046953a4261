// The ceilings W2 is judged against, measured in the same run on the same machine: how fast
// @hyperswarm/secret-stream moves bytes between two processes over TCP on 127.0.0.1 (lansync's
// transport; the sink is bench/secret-stream-sink.ts), and, as context, SHA-256 (node:crypto) and
// sequential write+fsync in the temp dir the folders live in.
import { spawn } from 'node:child_process'
import { closeSync, fsyncSync, mkdtempSync, openSync, rmSync, writeSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import type { Ceilings } from './results.js'

const MiB = 1024 * 1024
/** lansync's transport splits sends into secret-stream messages of this size (src/net/transport.ts). */
const MESSAGE_BYTES = 16 * 1024
/** A typical content-defined block (64 KiB average): what lansync hands its transport at once. */
const BLOCK_BYTES = 64 * 1024
const SINK = fileURLToPath(new URL('./secret-stream-sink.ts', import.meta.url))

/**
 * Pushes `totalBytes` through a secret-stream to a sink in another process, honouring backpressure
 * (write() false → wait for 'drain'); timed from the first write to the sink's acknowledgement that
 * it has decrypted every byte. Bytes per second.
 */
export async function measureSecretStream (totalBytes: number, timeoutMs = 120_000): Promise<number> {
  const sink = spawn(process.execPath, ['--import', 'tsx', SINK, String(totalBytes)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const timer = setTimeout(() => sink.kill('SIGKILL'), timeoutMs)
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = ''
      sink.stdout.on('data', (d: Buffer) => {
        out += d.toString()
        const m = out.match(/^listening (\d+)\n/)
        if (m !== null) resolve(Number(m[1]))
      })
      sink.once('exit', code => reject(new Error(`the secret-stream sink exited ${String(code)} before listening`)))
    })
    const socket = net.connect({ host: '127.0.0.1', port })
    const stream = new NoiseSecretStream(true, socket)
    const closed = new Promise<void>((resolve, reject) => {
      stream.once('error', reject)
      stream.once('close', resolve)
    })
    if (!await stream.opened) throw new Error('the secret-stream handshake with the sink failed')
    const acknowledged = new Promise<void>((resolve, reject) => {
      stream.once('data', () => resolve())
      stream.once('close', () => reject(new Error('the secret-stream closed before the sink acknowledged')))
    })
    const source = randomBytes(4 * MiB)
    const started = performance.now()
    for (let sent = 0; sent < totalBytes;) {
      // One block's worth per round, as lansync sends a block: split into messages, backpressure
      // checked after the last one.
      let isBelowMark = true
      for (let inBlock = 0; inBlock < BLOCK_BYTES && sent < totalBytes; inBlock += MESSAGE_BYTES) {
        const n = Math.min(MESSAGE_BYTES, totalBytes - sent)
        const offset = sent % source.length
        isBelowMark = stream.write(source.subarray(offset, offset + n))
        sent += n
      }
      if (!isBelowMark) await new Promise(resolve => stream.once('drain', resolve))
    }
    await acknowledged
    const seconds = (performance.now() - started) / 1000
    stream.end()
    await closed.catch(() => {})
    return totalBytes / seconds
  } finally {
    clearTimeout(timer)
    if (sink.exitCode === null) sink.kill('SIGKILL')
  }
}

/** SHA-256 over `totalBytes` fed in 1 MiB pieces, on this thread. Bytes per second. */
export function measureSha256 (totalBytes: number): number {
  const piece = randomBytes(MiB)
  const hash = createHash('sha256')
  const started = performance.now()
  for (let done = 0; done < totalBytes; done += piece.length) hash.update(piece)
  hash.digest()
  return totalBytes / ((performance.now() - started) / 1000)
}

/** Writes `totalBytes` to a new file in `dir` in 4 MiB pieces, then fsyncs it. Bytes per second. */
export function measureWriteFsync (dir: string, totalBytes: number): number {
  const piece = randomBytes(4 * MiB)
  const path = join(dir, 'write-fsync.bin')
  const started = performance.now()
  const fd = openSync(path, 'w')
  try {
    for (let done = 0; done < totalBytes; done += piece.length) writeSync(fd, piece)
    fsyncSync(fd)
  } finally { closeSync(fd) }
  const seconds = (performance.now() - started) / 1000
  rmSync(path, { force: true })
  return totalBytes / seconds
}

export async function measureCeilings (totalBytes: number): Promise<Ceilings> {
  const dir = mkdtempSync(join(tmpdir(), 'lansync-bench-ceilings-'))
  try {
    return {
      bytes: totalBytes,
      secretStreamBytesPerSecond: await measureSecretStream(totalBytes),
      sha256BytesPerSecond: measureSha256(totalBytes),
      writeFsyncBytesPerSecond: measureWriteFsync(dir, totalBytes)
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
