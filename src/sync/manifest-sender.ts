// Sends one folder's manifest to one peer: first everything since what the peer already has
// (in bounded batches), then each change as it is committed here, in sequence order.
import type { Store, StoredRecord } from '../store/store.js'
import type { EchoOf, FolderRunner } from './folder-runner.js'

export const BATCH_RECORDS = 1000
export const BATCH_BYTES = 1024 * 1024

export interface ManifestSenderOptions {
  runner: FolderRunner
  store: Store
  /** Sequence of ours the peer already has (0 = everything). */
  sinceSequence: number
  /** The peer's short device ID: records committed here just as it sent them are not sent back live. */
  peer?: string
  /** Sends a batch; `isInitial` batches are `manifest` messages, the rest `update`s. Resolves when written. */
  send: (records: StoredRecord[], sequence: number, isInitial: boolean, isLast: boolean) => Promise<void>
}

export class ManifestSender {
  private readonly runner: FolderRunner
  private readonly store: Store
  private readonly send: ManifestSenderOptions['send']
  private readonly peer: string | undefined
  private sentSequence: number
  private isLive = false
  private isClosed = false
  private chain: Promise<void> = Promise.resolve()
  private readonly onChanged = (records: StoredRecord[], echoOf?: EchoOf): void => {
    if (!this.isLive || this.isClosed) return
    const echoes = echoOf !== undefined && echoOf.peer === this.peer ? echoOf.paths : undefined
    this.chain = this.chain.then(async () => await this.sendLive(records, echoes)).catch(() => {})
  }

  constructor ({ runner, store, sinceSequence, send, peer }: ManifestSenderOptions) {
    this.peer = peer
    this.runner = runner
    this.store = store
    this.sentSequence = sinceSequence
    this.send = send
  }

  /** Sends the initial manifest, then follows live changes until `close()`. */
  async start (): Promise<void> {
    this.runner.on('changed', this.onChanged)
    // Catch up until nothing new appeared while sending, then switch to live updates.
    let isFirstPass = true
    for (;;) {
      const before = this.sentSequence
      await this.sendSince(isFirstPass)
      isFirstPass = false
      const meta = await this.store.folderMeta(this.runner.folder.id)
      if (this.sentSequence === before || this.sentSequence >= meta.sequence) break
    }
    this.isLive = true
    // Changes committed between the last pass and going live.
    const meta = await this.store.folderMeta(this.runner.folder.id)
    if (meta.sequence > this.sentSequence) await this.sendSince(false)
  }

  close (): void {
    this.isClosed = true
    this.runner.off('changed', this.onChanged)
  }

  private async sendSince (isInitial: boolean): Promise<void> {
    let batch: StoredRecord[] = []
    let bytes = 0
    const meta = await this.store.folderMeta(this.runner.folder.id)
    const upTo = meta.sequence
    let skipped = 0
    for await (const record of this.store.recordsSince(this.runner.folder.id, this.sentSequence)) {
      if (this.isClosed) return
      if (record.sequence > upTo) break
      // A receive-only folder's local changes stay here: peers keep the cluster's version.
      if (record.isLocalOnly === true) { skipped = record.sequence; continue }
      batch.push(record)
      bytes += 120 + record.path.length + record.blocks.length * 40
      if (batch.length >= BATCH_RECORDS || bytes >= BATCH_BYTES) {
        await this.flush(batch, isInitial, false)
        batch = []
        bytes = 0
      }
    }
    // Skipped local changes count as reached (an empty last batch says so).
    this.sentSequence = Math.max(this.sentSequence, skipped)
    // The initial manifest always ends with an `isLast` batch, even an empty one.
    if (batch.length > 0 || isInitial) await this.flush(batch, isInitial, isInitial)
  }

  private async flush (batch: StoredRecord[], isInitial: boolean, isLast: boolean): Promise<void> {
    const sequence = batch.length > 0 ? batch[batch.length - 1].sequence : this.sentSequence
    await this.send(batch, sequence, isInitial, isLast)
    this.sentSequence = Math.max(this.sentSequence, sequence)
  }

  /**
   * Sends live changes, less local-only ones and `echoes` (records just applied here as the peer
   * sent them). What is left out counts as sent here, but the peer's idea of our
   * sequence stays at the last record it got: after a reconnect it is sent those records again.
   */
  private async sendLive (records: StoredRecord[], echoes: ReadonlySet<string> | undefined): Promise<void> {
    if (this.isClosed) return
    const after = records.filter(r => r.sequence > this.sentSequence)
    const fresh = after.filter(r => r.isLocalOnly !== true && echoes?.has(r.path) !== true)
    for (let i = 0; i < fresh.length; i += BATCH_RECORDS) {
      await this.flush(fresh.slice(i, i + BATCH_RECORDS), false, false)
    }
    for (const r of after) this.sentSequence = Math.max(this.sentSequence, r.sequence)
  }
}
