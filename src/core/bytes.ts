// Small helpers on hashes and other byte strings, shared by the pure core and the I/O edges.

/**
 * Lower-case hex of `bytes`, for map keys and store keys: read in place, not copied first (a
 * rescan of a 256 MiB file names some 4,000 blocks this way).
 */
export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

/** The bytes a list of blocks covers: a file's size from its block list. */
export function totalBlockBytes (blocks: ReadonlyArray<{ sizeBytes: number }>): number {
  let n = 0
  for (const b of blocks) n += b.sizeBytes
  return n
}

/** Whether two byte strings (hashes, mostly) are equal. */
export function bytesEqual (a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
