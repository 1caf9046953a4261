// The whole LevelDB key layout, in one place. Keys are strings; parts are joined by NUL, which no
// folder id, path or hex string can contain, so a prefix range never spills into a neighbour.
//
//   i␀folder␀path            → index record of a path (msgpack StoredRecord)
//   s␀folder␀seq(16 hex)     → path whose record has that sequence (manifest "since sequence")
//   v␀folder␀path␀seq        → one version of a path (msgpack VersionEntry), oldest first
//   B␀hash(64 hex)           → where a block's bytes are in the pack files (block-packs.ts): 16 bytes,
//                              pack number u32 BE | offset of the bytes u64 BE | length u32 BE
//   b␀hash(64 hex)           → legacy: block bytes kept in LevelDB itself, by stores written before
//                              the pack files; still read, and deleted by GC; never written now
//   m␀folder                 → folder meta (epoch, highest sequence)
//   p␀folder␀deviceShort     → what we have of a peer's manifest (epoch, sequence)
//   h␀folder␀path            → a remote tombstone held by the mass-delete guard (msgpack StoredRecord)
//   k␀folder␀path            → the latest version known of a path this device does not hold (not
//                              selected, or ignored): a peer's record, or ours forgotten (msgpack StoredRecord)
//   l␀folder␀path            → receive-only: the cluster's record a local change replaced (StoredRecord, or nil: none)
//   u␀folder␀path            → a file being patched in place: how to undo it if cut short (msgpack PatchUndo, fs/patch.ts)
//   o␀folder␀path            → send-only: the newest remote record not applied here (msgpack StoredRecord)

const SEP = '\x00'

export function indexKey (folderId: string, path: string): string { return `i${SEP}${folderId}${SEP}${path}` }
export function indexPrefix (folderId: string): string { return `i${SEP}${folderId}${SEP}` }
export function pathFromIndexKey (folderId: string, key: string): string { return key.slice(indexPrefix(folderId).length) }

export function sequenceKey (folderId: string, sequence: number): string { return `s${SEP}${folderId}${SEP}${hex16(sequence)}` }
export function sequencePrefix (folderId: string): string { return `s${SEP}${folderId}${SEP}` }

export function versionKey (folderId: string, path: string, sequence: number): string {
  return `v${SEP}${folderId}${SEP}${path}${SEP}${hex16(sequence)}`
}
/** Prefix of every version of one path; the trailing NUL keeps `a` from matching `ab`. */
export function versionPathPrefix (folderId: string, path: string): string { return `v${SEP}${folderId}${SEP}${path}${SEP}` }
export function versionFolderPrefix (folderId: string): string { return `v${SEP}${folderId}${SEP}` }
/** Splits a version key into its path and sequence (the sequence is the last part). */
export function parseVersionKey (folderId: string, key: string): { path: string, sequence: number } {
  const rest = key.slice(versionFolderPrefix(folderId).length)
  const cut = rest.lastIndexOf(SEP)
  return { path: rest.slice(0, cut), sequence: parseInt(rest.slice(cut + 1), 16) }
}

export function packedBlockKey (hexHash: string): string { return `B${SEP}${hexHash}` }
export const PACKED_BLOCK_PREFIX = `B${SEP}`
export function legacyBlockKey (hexHash: string): string { return `b${SEP}${hexHash}` }
export const LEGACY_BLOCK_PREFIX = `b${SEP}`

export function folderMetaKey (folderId: string): string { return `m${SEP}${folderId}` }
export function peerKey (folderId: string, deviceShort: string): string { return `p${SEP}${folderId}${SEP}${deviceShort}` }
export function peerPrefix (folderId: string): string { return `p${SEP}${folderId}${SEP}` }

export function heldKey (folderId: string, path: string): string { return `h${SEP}${folderId}${SEP}${path}` }
export function heldPrefix (folderId: string): string { return `h${SEP}${folderId}${SEP}` }

export function knownKey (folderId: string, path: string): string { return `k${SEP}${folderId}${SEP}${path}` }
export function knownPrefix (folderId: string): string { return `k${SEP}${folderId}${SEP}` }

export function localBaseKey (folderId: string, path: string): string { return `l${SEP}${folderId}${SEP}${path}` }
export function localBasePrefix (folderId: string): string { return `l${SEP}${folderId}${SEP}` }
export const LOCAL_BASE_PREFIX = `l${SEP}`

export function ignoredKey (folderId: string, path: string): string { return `o${SEP}${folderId}${SEP}${path}` }
export function ignoredPrefix (folderId: string): string { return `o${SEP}${folderId}${SEP}` }

export function patchUndoKey (folderId: string, path: string): string { return `u${SEP}${folderId}${SEP}${path}` }
export function patchUndoPrefix (folderId: string): string { return `u${SEP}${folderId}${SEP}` }

/**
 * Range options covering every key that starts with `prefix`. Every prefix ends with the NUL
 * separator, so raising that last character to \x01 bounds the range in byte order for any path.
 */
export function prefixRange (prefix: string): { gte: string, lt: string } {
  if (!prefix.endsWith(SEP)) throw new TypeError('prefix must end with the separator')
  return { gte: prefix, lt: prefix.slice(0, -1) + '\x01' }
}

function hex16 (n: number): string { return n.toString(16).padStart(16, '0') }
