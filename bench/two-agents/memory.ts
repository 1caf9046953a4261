// Peak memory of the processes a tool runs, from /proc (Linux): VmHWM (the kernel's own peak RSS)
// and RssAnon (private memory) of each named process and everything under it, sampled on a timer
// so that short-lived ones (rsync's forked children) are seen too. reset() clears the kernel's
// peak (/proc/PID/clear_refs, "5") so that each case gets its own figure.
import { readFileSync, readdirSync, writeFileSync } from 'node:fs'
import type { ProcessPeak } from '../results.js'

export interface NamedProcess { name: string, pid: number }

/** `pid` and its descendants, from /proc/PID/task/TID/children. */
function descendants (pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length; i++) {
    let tasks: string[]
    try { tasks = readdirSync(`/proc/${out[i]}/task`) } catch { continue }
    for (const task of tasks) {
      try {
        for (const child of readFileSync(`/proc/${out[i]}/task/${task}/children`, 'utf8').trim().split(/\s+/)) if (child !== '') out.push(Number(child))
      } catch {}
    }
  }
  return out
}

/** VmHWM and RssAnon of `pid` in bytes, or undefined if it is gone. */
function readStatus (pid: number): { hwm: number, anon: number } | undefined {
  let status: string
  try { status = readFileSync(`/proc/${pid}/status`, 'utf8') } catch { return undefined }
  const kib = (field: string): number => Number(status.match(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm'))?.[1] ?? 0) * 1024
  return { hwm: kib('VmHWM'), anon: kib('RssAnon') }
}

export class PeakMemory {
  private readonly roots: () => NamedProcess[]
  private readonly intervalMs: number
  private peaks = new Map<string, ProcessPeak>()
  private timer: NodeJS.Timeout | undefined
  /** False once clearing a kernel peak failed: figures then run from the process's start. */
  isResettable = true

  /** `roots` is asked at every sample, so processes started later (an rsync client) are seen. */
  constructor (roots: () => NamedProcess[], { intervalMs = 100 } = {}) {
    this.roots = roots
    this.intervalMs = intervalMs
  }

  start (): void {
    this.timer ??= setInterval(() => this.sample(), this.intervalMs)
  }

  stop (): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  /** Forgets the peaks so far, the kernel's included, and starts counting from now. */
  reset (): void {
    this.peaks = new Map()
    for (const root of this.roots()) {
      for (const pid of descendants(root.pid)) {
        try { writeFileSync(`/proc/${pid}/clear_refs`, '5') } catch { this.isResettable = false }
      }
    }
  }

  /** For each named root: the largest process of its tree (by VmHWM) and the largest RssAnon seen. */
  sample (): void {
    for (const root of this.roots()) {
      const peak = this.peaks.get(root.name) ?? { name: root.name, peakRssBytes: 0, peakPrivateBytes: 0 }
      for (const pid of descendants(root.pid)) {
        const s = readStatus(pid)
        if (s === undefined) continue
        peak.peakRssBytes = Math.max(peak.peakRssBytes, s.hwm)
        peak.peakPrivateBytes = Math.max(peak.peakPrivateBytes, s.anon)
      }
      this.peaks.set(root.name, peak)
    }
  }

  /** Samples once more and returns the peaks since the last reset. */
  read (): ProcessPeak[] {
    this.sample()
    return [...this.peaks.values()].filter(p => p.peakRssBytes > 0).map(p => ({ ...p }))
  }
}
