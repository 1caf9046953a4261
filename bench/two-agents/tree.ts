// Compares a sender's folder with a receiver's: a cheap listing (paths, kinds, sizes) to poll
// with, and a full content hash to confirm. Hashes are cached by (path, size, mtime, inode), so
// confirming after a small change rereads only what changed.
import { createHash } from 'node:crypto'
import { openSync, readSync, closeSync, readdirSync, lstatSync } from 'node:fs'
import { join } from 'node:path'

/** rel path → 'dir' or the file's size in bytes, for everything but `ignoredAtRoot`. */
export function listTree (root: string, ignoredAtRoot: string[]): Map<string, string> {
  const out = new Map<string, string>()
  // A tool may rename or remove an entry between readdir and lstat: it is then simply not listed.
  const walk = (dir: string, rel: string): void => {
    let entries
    try { entries = readdirSync(dir, { withFileTypes: true }) } catch (err) { if (isGone(err)) return; throw err }
    for (const entry of entries) {
      if (rel === '' && ignoredAtRoot.includes(entry.name)) continue
      const relPath = rel === '' ? entry.name : `${rel}/${entry.name}`
      if (entry.isDirectory()) { out.set(relPath, 'dir'); walk(join(dir, entry.name), relPath); continue }
      try { out.set(relPath, String(lstatSync(join(dir, entry.name)).size)) } catch (err) { if (!isGone(err)) throw err }
    }
  }
  walk(root, '')
  return out
}

const isGone = (err: unknown): boolean => (err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR'

export function sameListing (a: Map<string, string>, b: Map<string, string>): boolean {
  if (a.size !== b.size) return false
  for (const [k, v] of a) if (b.get(k) !== v) return false
  return true
}

const hashCache = new Map<string, { key: string, hash: string }>()
const buffer = Buffer.allocUnsafe(4 * 1024 * 1024)

/** SHA-256 of a file's content (cached while path, size, mtime and inode stay the same). */
export function hashFile (path: string, { isCached = true } = {}): string {
  const key = stateKey(path)
  const cached = hashCache.get(path)
  if (isCached && cached?.key === key) return cached.hash
  const hash = createHash('sha256')
  const fd = openSync(path, 'r')
  try {
    let n: number
    while ((n = readSync(fd, buffer, 0, buffer.length, null)) > 0) hash.update(buffer.subarray(0, n))
  } finally { closeSync(fd) }
  const digest = hash.digest('hex')
  hashCache.set(path, { key, hash: digest })
  return digest
}

/**
 * hashFile, and whether the file stood still while it was read: its size, mtime, ctime and inode
 * were the same just before and just after. Then the content hashed was in place when the read
 * began (a writer that changed it meanwhile changed its mtime and ctime too). A ctime that moved
 * together with the link count is a name added or removed, not a write: a receiver that renames
 * by linking the new name and then unlinking the old one does that while the file is in place,
 * and a poll that hashed 256 MiB across the unlink counted as "not in place yet" (D3 read
 * 0.36–0.41 s in about a third of the runs, against 0.10 s, for a file linked at 0.13 s).
 */
export function hashFileSettled (path: string): { hash: string, isSettled: boolean } {
  const before = lstatSync(path, { bigint: true })
  const hash = hashFile(path)
  const after = lstatSync(path, { bigint: true })
  const isSameContent = before.size === after.size && before.mtimeNs === after.mtimeNs && before.ino === after.ino
  return { hash, isSettled: isSameContent && (before.ctimeNs === after.ctimeNs || before.nlink !== after.nlink) }
}

function stateKey (path: string): string {
  const s = lstatSync(path, { bigint: true })
  return `${s.size}:${s.mtimeNs}:${s.ino}:${s.ctimeNs}`
}

export function forgetHashes (root: string): void {
  for (const path of hashCache.keys()) if (path.startsWith(root)) hashCache.delete(path)
}

/** The first difference between two trees, content included, or undefined if they are equal. */
export function treeDifference (sender: string, receiver: string, ignoredAtRoot: string[]): string | undefined {
  const a = listTree(sender, ignoredAtRoot)
  const b = listTree(receiver, ignoredAtRoot)
  for (const [k, v] of a) {
    if (!b.has(k)) return `${k} missing on the receiver`
    if (b.get(k) !== v) return `${k}: ${v} on the sender, ${b.get(k) ?? ''} on the receiver`
  }
  for (const k of b.keys()) if (!a.has(k)) return `${k} only on the receiver`
  for (const [k, v] of a) {
    if (v !== 'dir' && hashFile(join(sender, k)) !== hashFile(join(receiver, k))) return `${k}: content differs`
  }
  return undefined
}
