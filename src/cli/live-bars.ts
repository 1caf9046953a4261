// Progress bars for `lansync start` on a terminal: one bar per folder being scanned and per
// folder being received from or sent to a peer, on stderr, with log lines printed above them.
// Off a terminal (or with --json) there are no bars and log lines go straight to stdout.
import cliProgress from 'cli-progress'
import { formatBytes, type OutputOptions } from './output.js'

/** What the agent reports per peer; only the fields the bars read. */
export interface PeerProgress {
  deviceId: string
  name: string
  isConnected: boolean
  recvRateBps?: number
  sendRateBps?: number
  folders: Array<{ folder: string, label: string, needBytes: number, peerNeedBytes: number }>
}

interface Tracked { bar: cliProgress.SingleBar, total: number, lastLeft: number }

export class LiveBars {
  private readonly multi: cliProgress.MultiBar | undefined
  private readonly bars = new Map<string, Tracked>()

  constructor (options: OutputOptions) {
    if (options.json || process.stderr.isTTY !== true) return
    this.multi = new cliProgress.MultiBar({
      format: '{label} [{bar}] {percentage}% | {doneText} / {totalText} {rateText}',
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      stopOnComplete: false,
      autopadding: true
    }, cliProgress.Presets.shades_classic)
  }

  get isActive (): boolean { return this.multi !== undefined }

  /** Prints a line; above the bars while they are shown. */
  log (line: string): void {
    if (this.multi !== undefined && this.bars.size > 0) this.multi.log(line.endsWith('\n') ? line : line + '\n')
    else process.stdout.write(line.endsWith('\n') ? line : line + '\n')
  }

  /**
   * Shows `left` bytes still to go for `key`. The bar's total is the most that was ever left since
   * it appeared plus whatever was added later, so it only moves forward as work is done.
   */
  set (key: string, label: string, left: number, rateBps = 0): void {
    if (this.multi === undefined) return
    let tracked = this.bars.get(key)
    if (left <= 0) { this.remove(key); return }
    if (tracked === undefined) {
      tracked = { bar: this.multi.create(left, 0, {}), total: left, lastLeft: left }
      this.bars.set(key, tracked)
    }
    if (left > tracked.lastLeft) tracked.total += left - tracked.lastLeft // more work arrived: grow the bar
    tracked.lastLeft = left
    const doneNow = tracked.total - left
    tracked.bar.setTotal(tracked.total)
    tracked.bar.update(doneNow, { label, doneText: formatBytes(doneNow), totalText: formatBytes(tracked.total), rateText: rateBps > 0 ? `| ${formatBytes(Math.round(rateBps))}/s` : '' })
  }

  /** Shows scan progress (bytes hashed of bytes to hash). */
  setScan (folder: string, done: number, total: number): void {
    this.set(`scan/${folder}`, `scanning ${folder}`, Math.max(total - done, 0))
  }

  remove (key: string): void {
    const tracked = this.bars.get(key)
    if (tracked === undefined || this.multi === undefined) return
    this.multi.remove(tracked.bar)
    this.bars.delete(key)
  }

  /** Brings the transfer bars in line with the agent's peer state; bars of finished work go. */
  showTransfers (peers: PeerProgress[]): void {
    if (this.multi === undefined) return
    const live = new Set<string>()
    for (const peer of peers) {
      if (!peer.isConnected) continue
      for (const f of peer.folders) {
        const down = `down/${peer.deviceId}/${f.folder}`
        const up = `up/${peer.deviceId}/${f.folder}`
        if (f.needBytes > 0) { live.add(down); this.set(down, `↓ ${f.label} from ${peer.name}`, f.needBytes, peer.recvRateBps) }
        if (f.peerNeedBytes > 0) { live.add(up); this.set(up, `↑ ${f.label} to ${peer.name}`, f.peerNeedBytes, peer.sendRateBps) }
      }
    }
    for (const key of [...this.bars.keys()]) {
      if ((key.startsWith('down/') || key.startsWith('up/')) && !live.has(key)) this.remove(key)
    }
  }

  stop (): void {
    this.multi?.stop()
    this.bars.clear()
  }
}
