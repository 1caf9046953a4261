// Hex text of a hash, for map keys and store keys: read in place, not copied first (a rescan of a
// 256 MiB file names some 4,000 blocks this way).

/** Lower-case hex of `bytes`. */
export function hex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}
