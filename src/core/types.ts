// Plain data shared by the pure core and the edges: file records, blocks, version vectors.
// No behaviour lives here; see clock.ts, chunker.ts, plan.ts for that.

/** Short device name used inside version vectors: hex of the first 8 bytes of the public key. */
export type DeviceShort = string

/** `{deviceShort: counter}`; a missing entry means 0. Counters are positive integers. */
export type VersionVector = Record<DeviceShort, number>

export type FileKind = 'file' | 'dir' | 'symlink'

/** One content-defined chunk of a file: SHA-256 of its bytes and its length in bytes. */
export interface BlockRef {
  hash: Uint8Array
  sizeBytes: number
}

/** What the index knows of one path in one folder. Paths are relative, '/'-separated, NFC. */
export interface FileRecord {
  path: string
  kind: FileKind
  sizeBytes: number
  mtimeMs: number
  /** Permission bits only (mode & 0o7777). */
  mode: number
  vector: VersionVector
  isDeleted: boolean
  /** Ordered blocks of a file; empty for dirs, symlinks, deletions and empty files. */
  blocks: BlockRef[]
  /** SHA-256 of the whole file content (empty-content hash for non-files). */
  hash: Uint8Array
  /** Symlink target, as stored by the OS; '' for other kinds. */
  linkTarget: string
  /** Device that made this version. */
  modifiedBy: DeviceShort
  /** Per-folder local sequence number of when this record last changed here. */
  sequence: number
}
