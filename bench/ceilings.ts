// The ceilings W2 is judged against, measured in the same run on the same machine: how fast
// @hyperswarm/secret-stream moves bytes between two processes over TCP on 127.0.0.1 (lansync's
// transport; the sink is bench/secret-stream-sink.ts), and, as context, SHA-256 (node:crypto) and
// sequential write+fsync in the temp dir the folders live in. Each also says what a byte of it cost
// in CPU time, from which cpu-bound.ts bounds the rate any first sync doing that work can reach.
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, fsyncSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs'
import { createHash, randomBytes } from 'node:crypto'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import net from 'node:net'
import NoiseSecretStream from '@hyperswarm/secret-stream'
import type { Ceilings, CpuPerByte } from './results.js'

const MiB = 1024 * 1024
/** lansync's transport splits sends into secret-stream messages of this size (src/net/transport.ts). */
const MESSAGE_BYTES = 16 * 1024
/** A typical content-defined block (64 KiB average): what lansync hands its transport at once. */
const BLOCK_BYTES = 64 * 1024
const SINK = fileURLToPath(new URL('./secret-stream-sink.ts', import.meta.url))

/** A rate, and the CPU time (user + system, every thread of every process involved) a byte of it took. */
interface Measured { bytesPerSecond: number, cpuSecondsPerByte: number }

/** CPU seconds this process used since `since` (process.cpuUsage()). */
function cpuSecondsSince (since: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(since)
  return (used.user + used.system) / 1e6
}

/**
 * Pushes `totalBytes` through a secret-stream to a sink in another process, honouring backpressure
 * (write() false → wait for 'drain'); timed from the first write to the sink's acknowledgement that
 * it has decrypted every byte. Its CPU is this process's over that time plus what the sink reports
 * for its part (from its first byte received to its last).
 */
export async function measureSecretStream (totalBytes: number, timeoutMs = 120_000): Promise<Measured> {
  const sink = spawn(process.execPath, ['--import', 'tsx', SINK, String(totalBytes)], { stdio: ['ignore', 'pipe', 'inherit'] })
  const timer = setTimeout(() => sink.kill('SIGKILL'), timeoutMs)
  let out = ''
  sink.stdout.on('data', (d: Buffer) => { out += d.toString() })
  const exited = once(sink, 'exit')
  try {
    const port = await new Promise<number>((resolve, reject) => {
      const onData = (): void => {
        const m = out.match(/^listening (\d+)\n/)
        if (m !== null) { sink.stdout.off('data', onData); resolve(Number(m[1])) }
      }
      sink.stdout.on('data', onData)
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
    const cpuAtStart = process.cpuUsage()
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
    const senderCpuSeconds = cpuSecondsSince(cpuAtStart)
    stream.end()
    await closed.catch(() => {})
    await exited
    const sinkCpu = out.match(/^cpu (\d+)$/m)
    if (sinkCpu === null) throw new Error('the secret-stream sink did not report its CPU time')
    return { bytesPerSecond: totalBytes / seconds, cpuSecondsPerByte: (senderCpuSeconds + Number(sinkCpu[1]) / 1e6) / totalBytes }
  } finally {
    clearTimeout(timer)
    if (sink.exitCode === null) sink.kill('SIGKILL')
  }
}

/** SHA-256 over `totalBytes` fed in 1 MiB pieces, on this thread. */
export function measureSha256 (totalBytes: number): Measured {
  const piece = randomBytes(MiB)
  const hash = createHash('sha256')
  const cpuAtStart = process.cpuUsage()
  const started = performance.now()
  for (let done = 0; done < totalBytes; done += piece.length) hash.update(piece)
  hash.digest()
  const seconds = (performance.now() - started) / 1000
  return { bytesPerSecond: totalBytes / seconds, cpuSecondsPerByte: cpuSecondsSince(cpuAtStart) / totalBytes }
}

/**
 * Writes `totalBytes` to a new file in `dir` in 4 MiB pieces, then fsyncs it (the rate covers
 * both); then reads it back, from the page cache, in pieces of the same size. The CPU figures are
 * the writes' (without the fsync, mostly a wait for the disk) and the reads'.
 */
export function measureWriteAndRead (dir: string, totalBytes: number): { writeFsync: Measured, readCpuSecondsPerByte: number } {
  const piece = randomBytes(4 * MiB)
  const path = join(dir, 'write-fsync.bin')
  let writeCpuSeconds: number
  let seconds: number
  let readCpuSeconds: number
  try {
    const cpuAtStart = process.cpuUsage()
    const started = performance.now()
    const fd = openSync(path, 'w')
    try {
      for (let done = 0; done < totalBytes; done += piece.length) writeSync(fd, piece)
      writeCpuSeconds = cpuSecondsSince(cpuAtStart)
      fsyncSync(fd)
    } finally { closeSync(fd) }
    seconds = (performance.now() - started) / 1000
    const cpuAtRead = process.cpuUsage()
    const input = openSync(path, 'r')
    try {
      while (readSync(input, piece, 0, piece.length, null) > 0);
    } finally { closeSync(input) }
    readCpuSeconds = cpuSecondsSince(cpuAtRead)
  } finally {
    rmSync(path, { force: true })
  }
  return { writeFsync: { bytesPerSecond: totalBytes / seconds, cpuSecondsPerByte: writeCpuSeconds / totalBytes }, readCpuSecondsPerByte: readCpuSeconds / totalBytes }
}

export async function measureCeilings (totalBytes: number): Promise<Ceilings> {
  const dir = mkdtempSync(join(tmpdir(), 'lansync-bench-ceilings-'))
  try {
    const secretStream = await measureSecretStream(totalBytes)
    const sha256 = measureSha256(totalBytes)
    const { writeFsync, readCpuSecondsPerByte } = measureWriteAndRead(dir, totalBytes)
    const cpuPerByte: CpuPerByte = { secretStream: secretStream.cpuSecondsPerByte, sha256: sha256.cpuSecondsPerByte, write: writeFsync.cpuSecondsPerByte, read: readCpuSecondsPerByte }
    return {
      bytes: totalBytes,
      secretStreamBytesPerSecond: secretStream.bytesPerSecond,
      sha256BytesPerSecond: sha256.bytesPerSecond,
      writeFsyncBytesPerSecond: writeFsync.bytesPerSecond,
      cpuPerByte
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}
