// The numbers one `npm run bench` produces, as plain data: what the phases fill in, what the
// verdicts (targets.ts) judge, and what report.ts prints and writes as JSON and SVG. No I/O here.

export const TOOLS = ['lansync', 'rsync', 'syncthing'] as const
export type Tool = typeof TOOLS[number]

/** The case names; D2-base is the untargeted first sync of the file D2 then edits. */
export type CaseId = 'W1' | 'W2' | 'D3' | 'D1' | 'D2-base' | 'D2'

/** Peak memory of one process (its whole tree for a daemon) during one case or phase. */
export interface ProcessPeak {
  name: string
  /** VmHWM: peak resident set, bytes. */
  peakRssBytes: number
  /** Largest RssAnon sampled: private (heap, not file-backed) resident memory, bytes. */
  peakPrivateBytes: number
}

export interface CaseResult {
  seconds: number
  /** Application bytes to the receiver and back (see each tool's note for what is counted). */
  wireDownBytes: number
  wireUpBytes: number
  /** lansync only: block data the receiver fetched. */
  blockBytes?: number
  processes: ProcessPeak[]
}

export type Outcome<T> = T | { error: string }

export interface CaseRow {
  id: CaseId
  label: string
  /** Bytes of new file data (first syncs only), for a throughput figure. */
  dataBytes?: number
  outcomes: Partial<Record<Tool, Outcome<CaseResult>>>
}

/** What the hardware and the libraries allow at most, measured in the same run. */
export interface Ceilings {
  /** Bytes pushed through each measurement. */
  bytes: number
  /** @hyperswarm/secret-stream between two processes over TCP on 127.0.0.1, bytes per second. */
  secretStreamBytesPerSecond: number
  /** node:crypto SHA-256 on one thread, bytes per second. */
  sha256BytesPerSecond: number
  /** Sequential write of one file then fsync, in the bench's temp dir, bytes per second. */
  writeFsyncBytesPerSecond: number
  /** What a byte of each kind of work cost in CPU time here (absent in reports from before it was measured). */
  cpuPerByte?: CpuPerByte
}

/** CPU seconds (user + system, every thread of every process involved) per byte, measured beside the ceilings. */
export interface CpuPerByte {
  /** Encrypting a byte, carrying it over TCP and decrypting it: the secret-stream sender's and sink's CPU together. */
  secretStream: number
  /** Hashing a byte with SHA-256 (one side). */
  sha256: number
  /** Writing a byte into a new file, up to the page cache (its fsync excluded). */
  write: number
  /** Reading a byte of a file back from the page cache. */
  read: number
}

/** S1 and M1: one device holding `files` unchanged files, started, then restarted. */
export interface RestartResult {
  files: number
  fileBytes: number
  /** Process start to folder idle after its first scan (the index is built). */
  firstScanSeconds: number
  /** Process start (restart) to folder idle after its startup scan: ready to sync. */
  restartSeconds: number
  /** Largest process of the tool over both runs. */
  peakRssBytes: number
  peakPrivateBytes: number
}

/** One-device figures of bench/core.ts; `history` is H1. */
export interface CoreResult {
  lines: Array<[string, string]>
  history?: { fileBytes: number, edits: number, storeBytes: number }
  peakRssBytes: number
}

export type VerdictStatus = 'met' | 'not met' | 'not measured'

export interface Verdict {
  id: string
  target: string
  /** The numbers the verdict is made of, with units. */
  measured: string
  status: VerdictStatus
  /** How far from the target, when not met. */
  gap?: string
}

export interface BenchReport {
  mode: 'quick' | 'full'
  /** ISO time the run started. */
  startedAt: string
  wallSeconds: number
  /** Wall time of each phase that ran (ceilings, core, two-agents, restart). */
  phaseSeconds: Record<string, number>
  machine: { cpus: number, loadAverageStart: number[], loadAverageEnd: number[] }
  /** Tools that ran (installed and asked for). */
  tools: Tool[]
  ceilings?: Outcome<Ceilings>
  cases: CaseRow[]
  restart: Partial<Record<Tool, Outcome<RestartResult>>>
  core?: CoreResult
  /** How each tool was run and measured. */
  notes: string[]
  /** `ss` checks that every process used 127.0.0.1 only. */
  networkChecks: string[]
  verdicts: Verdict[]
}

export function isError<T extends object> (o: Outcome<T> | undefined): o is { error: string } {
  return o !== undefined && 'error' in o
}

/** The result, or undefined when the case failed or did not run. */
export function resultOf<T extends object> (o: Outcome<T> | undefined): T | undefined {
  return o === undefined || isError(o) ? undefined : o
}
