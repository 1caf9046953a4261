// Which blocks a peer may read from a folder: those of the files it holds now. A peer fetching a
// big file asks once per block, and reading (and decoding) the file's index record for each
// request made serving a 2,000-block file cost 2,000 record reads; this keeps the block sets of
// the last few files asked about, dropped as soon as their path changes.
import type { Store } from '../store/store.js'

/** Files whose block sets are kept: a peer fetches a batch's files roughly in order. */
const MAX_CACHED_PATHS = 8

export class ServableBlocks {
  private readonly store: Store
  private readonly folderId: string
  private readonly byPath = new Map<string, Set<string>>()
  /** Bumped by every change, so a lookup that raced a change does not cache what it read. */
  private generation = 0

  constructor (store: Store, folderId: string) {
    this.store = store
    this.folderId = folderId
  }

  /** Whether `hexHash` is a block of what `path` holds now (a deleted or unknown path holds none). */
  async has (path: string, hexHash: string): Promise<boolean> {
    let hashes = this.byPath.get(path)
    if (hashes === undefined) {
      const generation = this.generation
      const record = await this.store.getRecord(this.folderId, path)
      hashes = new Set(record === undefined || record.isDeleted ? [] : record.blocks.map(b => Buffer.from(b.hash).toString('hex')))
      if (generation === this.generation) {
        this.byPath.set(path, hashes)
        if (this.byPath.size > MAX_CACHED_PATHS) this.byPath.delete(this.byPath.keys().next().value as string)
      }
    }
    return hashes.has(hexHash)
  }

  /** Paths whose index records just changed. */
  forget (paths: Iterable<string>): void {
    this.generation += 1
    for (const path of paths) this.byPath.delete(path)
  }
}
