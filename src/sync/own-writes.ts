// The files this device just wrote for a peer, as the index recorded them, so that the watcher's
// echo of those writes does not queue a scan. Each such scan found nothing new, yet it held the
// folder's lock between two groups of applied files: receiving 1,000 small files spent about a
// fifth of its time rescanning them. A path is dropped from a watcher batch only when lstat still
// shows exactly the recorded inode, size, mtime and mode (the facts a scan itself compares to
// decide a file is unchanged), or, for a path deleted for a peer, when it is still gone: so nothing
// a scan would have noticed is missed. Directories are always scanned: files may have come into a
// new one before it was watched. Anything else is scanned as usual.
import { join } from 'node:path'
import { lstatNow } from '../fs/lstat-now.js'
import type { StoredRecord } from '../store/store.js'

/** Recorded writes older than this are no longer expected to echo (the watcher reports within seconds). */
const ECHO_WINDOW_MS = 30_000
/** Bounds memory when a peer sends a huge batch: the oldest entries go first (their echo is only a scan). */
const MAX_ENTRIES = 20_000

/** A file as written, or `isGone` for a path deleted (a file, a symlink or a directory with all below it). */
type Written = { isGone: false, inode: number, sizeBytes: number, mtimeMs: number, mode: number, atMs: number } | { isGone: true, atMs: number }

export class OwnWrites {
  private readonly written = new Map<string, Written>()
  private readonly now: () => number

  constructor ({ now = Date.now }: { now?: () => number } = {}) {
    this.now = now
  }

  /** Records just committed for paths this device put on disk, deleted, or left as they were. */
  note (records: Iterable<StoredRecord>): void {
    const atMs = this.now()
    for (const r of records) {
      const written: Written | undefined = r.isDeleted
        ? { isGone: true, atMs }
        : r.kind === 'file' && r.inode !== 0 ? { isGone: false, inode: r.inode, sizeBytes: r.sizeBytes, mtimeMs: r.mtimeMs, mode: r.mode, atMs } : undefined
      this.written.delete(r.path) // re-inserted last: the map's order is oldest first
      if (written !== undefined) this.written.set(r.path, written)
    }
    for (const path of this.written.keys()) {
      if (this.written.size <= MAX_ENTRIES) break
      this.written.delete(path)
    }
  }

  /** `paths` (relative to `root`) without those that are only the echo of a noted write. Each note is used once. */
  async withoutEchoes (root: string, paths: Iterable<string>): Promise<string[]> {
    const nowMs = this.now()
    const kept: string[] = []
    for (const path of paths) {
      const w = this.written.get(path)
      if (w === undefined) { kept.push(path); continue }
      this.written.delete(path)
      if (nowMs - w.atMs > ECHO_WINDOW_MS) { kept.push(path); continue }
      const s = await lstatNow(join(root, path)).catch((err: NodeJS.ErrnoException) => err.code === 'ENOENT' ? 'gone' as const : undefined)
      const isEcho = w.isGone
        ? s === 'gone'
        : typeof s === 'object' && s.isFile() && s.ino === w.inode && s.size === w.sizeBytes && Math.floor(s.mtimeMs) === w.mtimeMs && (s.mode & 0o7777) === w.mode
      if (!isEcho) kept.push(path)
    }
    return kept
  }
}
