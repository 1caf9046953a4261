// What the benchmark needs from each tool it times: a sender and a receiver folder on this
// machine, a way to start it, to make it notice a change, to tell when it is done, and its byte
// counters; and for S1/M1, a way to run one side alone and restart it.
import type { NamedProcess } from './memory.js'

export interface WireCounters {
  /** Bytes the receiver got from the sender, and sent to it (application bytes, before any encryption). */
  down: number
  up: number
  /** lansync only: block data the receiver fetched. */
  blockBytes?: number
}

export interface Contender {
  readonly name: string
  readonly senderDir: string
  readonly receiverDir: string
  /** Entries at the folder root that are the tool's own (markers), left out of comparisons. */
  readonly ignoredAtRoot: string[]
  /** True if trigger() returns only once the receiver is done (rsync): the clock stops there. */
  readonly isSynchronous: boolean
  /** How changes are noticed, how wire bytes are counted: printed under the table. */
  readonly notes: string[]
  /** Starts the tool with both folders empty; returns the network check lines. */
  start: () => Promise<string[]>
  /** Called the instant a change is in place on the sender (rsync: does the whole transfer). */
  trigger: () => Promise<void>
  /** The tool's own word that the receiver is done (checked once the trees look equal). */
  isInSync: () => Promise<boolean>
  counters: () => Promise<WireCounters>
  /** The tool's processes running now (their children are found from /proc), for peak memory. */
  processes: () => NamedProcess[]
  /** Re-runs the network check (after the cases); returns its lines. */
  checkNetwork: () => string[]
  close: () => Promise<void>
}

/**
 * A tool with a startup scan (lansync, Syncthing; rsync keeps no state). The sender runs alone on
 * a folder already filled; the receiver is configured but never started.
 */
export interface Restartable {
  /** Writes both sides' configuration (untimed). */
  prepareAlone: () => Promise<void>
  /** Starts the sender alone; resolves once its folder is idle after its first scan. */
  startAlone: () => Promise<void>
  /**
   * Stops the sender and starts it again; resolves once it is ready to sync: the process answers
   * and its folder is idle after a scan that finished after this call began.
   */
  restartAlone: () => Promise<void>
}

export function isRestartable (c: Contender): c is Contender & Restartable {
  return 'restartAlone' in c
}
