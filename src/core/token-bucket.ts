// A token bucket over an injected clock: how many bytes a rate limit lets through now, and how
// long the next transfer must wait. Pure; the waiting itself is done by sync/rate-limiter.ts.

/** The bucket holds this much of a second's rate: the burst a limit allows after a pause. */
export const BURST_MS = 500
/** …but never less than this, so small limits still pass a typical block without a stall. */
export const MIN_BURST_BYTES = 16 * 1024

export class TokenBucket {
  /** Bytes per second; 0 means no limit. */
  private rate = 0
  private burstBytes = 0
  /** May go below zero: a transfer bigger than the bucket takes what it needs as a debt. */
  private tokens = 0
  private lastMs: number

  constructor (rateBps: number, nowMs: number) {
    this.lastMs = nowMs
    this.setRate(rateBps, nowMs)
  }

  get rateBps (): number { return this.rate }

  /**
   * Changes the rate from `nowMs` on. Tokens earned so far count at the old rate; a limit set
   * where there was none starts with a full bucket.
   */
  setRate (rateBps: number, nowMs: number): void {
    if (!Number.isFinite(rateBps) || rateBps < 0) throw new TypeError(`rate must be a finite number >= 0, not ${rateBps}`)
    this.refill(nowMs)
    const wasUnlimited = this.rate === 0
    this.rate = rateBps
    this.burstBytes = rateBps === 0 ? 0 : Math.max(MIN_BURST_BYTES, Math.round(rateBps * BURST_MS / 1000))
    this.tokens = wasUnlimited ? this.burstBytes : Math.min(this.tokens, this.burstBytes)
  }

  /**
   * Milliseconds until `bytes` may be taken (0: now). A transfer bigger than the bucket waits for
   * a full bucket and then leaves a debt the following ones wait out, so the average holds.
   */
  waitMs (bytes: number, nowMs: number): number {
    if (this.rate === 0) return 0
    this.refill(nowMs)
    const need = Math.min(bytes, this.burstBytes)
    if (this.tokens >= need) return 0
    return Math.max(1, Math.ceil((need - this.tokens) * 1000 / this.rate))
  }

  /** Takes `bytes` (call when waitMs said 0). */
  take (bytes: number, nowMs: number): void {
    if (this.rate === 0) return
    this.refill(nowMs)
    this.tokens -= bytes
  }

  private refill (nowMs: number): void {
    const elapsedMs = Math.max(0, nowMs - this.lastMs)
    this.lastMs = Math.max(this.lastMs, nowMs)
    if (this.rate === 0) return
    this.tokens = Math.min(this.burstBytes, this.tokens + elapsedMs * this.rate / 1000)
  }
}
