// How fast a first sync could possibly go on this machine, from the CPU time each kind of work it
// cannot skip took per byte in the same run (ceilings.ts). Pure.
import type { Ceilings } from './results.js'

export interface CpuBound {
  /** CPU seconds per byte of a plain encrypted sync: stream, SHA-256 at each end, one read, one write. */
  plainCpuPerByte: number
  /** The same plus a second write at each end: the version each device keeps in its history. */
  withHistoryCpuPerByte: number
  /** Bytes per second at most, with every CPU busy on that work alone. */
  plainBytesPerSecond: number
  withHistoryBytesPerSecond: number
}

/**
 * Every byte of a first sync has to be encrypted, carried and decrypted (the secret-stream
 * ceiling's CPU, both ends together), hashed at each end (the sender names its blocks by SHA-256,
 * the receiver checks them before using them), read once at the sender and written once at the
 * receiver. lansync keeps every version it sees, so the byte is written once more at each end (a
 * kept version is a copy: ext4 has no reflinks). On `cpus` CPUs doing nothing else — no framing,
 * chunking, indexing, garbage collection or waiting — no implementation of that work goes faster
 * than this. Undefined without the CPU figures (reports from before they were measured).
 */
export function cpuBound (ceilings: Ceilings | undefined, cpus: number): CpuBound | undefined {
  const c = ceilings?.cpuPerByte
  if (c === undefined || cpus <= 0) return undefined
  const plainCpuPerByte = c.secretStream + 2 * c.sha256 + c.read + c.write
  const withHistoryCpuPerByte = plainCpuPerByte + 2 * c.write
  return { plainCpuPerByte, withHistoryCpuPerByte, plainBytesPerSecond: cpus / plainCpuPerByte, withHistoryBytesPerSecond: cpus / withHistoryCpuPerByte }
}
