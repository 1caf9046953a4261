// Writes a file so that readers only ever see the old content or the whole new content: a temp
// file beside the target, fsync, whole-file hash check, optional last-moment check, rename, then
// fsync of the directory so the rename itself survives a crash.
import { open, rename, rm, utimes, chmod, mkdir } from 'node:fs/promises'
import { createHash, randomBytes } from 'node:crypto'
import { basename, dirname, join } from 'node:path'
import { LansyncError } from '../errors.js'
import { TEMP_PREFIX } from './ignore-rules.js'
import { crashPoint } from '../fault.js'

export interface AtomicWriteOptions {
  target: string
  /** The content, in order. */
  chunks: AsyncIterable<Uint8Array>
  /** SHA-256 the whole content must have; checked before the rename. */
  expectedHash: Uint8Array
  mode: number
  mtimeMs: number
  /** Called after the temp file is complete and before the rename; throw to abandon the write. */
  beforeRename?: () => Promise<void>
}

export function tempPathFor (target: string): string {
  return join(dirname(target), `${TEMP_PREFIX}${basename(target).slice(0, 100)}-${randomBytes(4).toString('hex')}`)
}

/** Writes atomically; returns the number of bytes written. The temp file never outlives a failure. */
export async function writeFileAtomically ({ target, chunks, expectedHash, mode, mtimeMs, beforeRename }: AtomicWriteOptions): Promise<number> {
  await mkdir(dirname(target), { recursive: true })
  const temp = tempPathFor(target)
  const handle = await open(temp, 'wx', 0o600)
  let sizeBytes = 0
  try {
    const hasher = createHash('sha256')
    for await (const chunk of chunks) {
      hasher.update(chunk)
      let offset = 0
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset)
        offset += bytesWritten
      }
      sizeBytes += chunk.byteLength
    }
    await handle.sync()
    await handle.close()
    const actual = hasher.digest()
    if (!actual.equals(Buffer.from(expectedHash))) {
      throw new LansyncError('STORE_CORRUPT', `assembled content of ${target} does not match its hash; nothing was replaced`)
    }
    await chmod(temp, mode & 0o7777)
    const seconds = utimesSeconds(mtimeMs)
    await utimes(temp, seconds, seconds)
    if (beforeRename !== undefined) await beforeRename()
    crashPoint('apply:temp-written')
    await rename(temp, target)
  } catch (err) {
    await handle.close().catch(() => {})
    await rm(temp, { force: true })
    throw err
  }
  await fsyncDir(dirname(target))
  return sizeBytes
}

export async function fsyncDir (dir: string): Promise<void> {
  const handle = await open(dir, 'r')
  try { await handle.sync() } finally { await handle.close() }
}

/**
 * The seconds to give `utimes` so that the file's mtime reads back as `mtimeMs` (floored to the
 * ms, as records hold it). `ms / 1000` alone does not: libuv converts the double to nanoseconds as
 * `(t - trunc(t)) * 1e9`, truncated, which for about half of all ms values lands a hair below the
 * ms (…802.999999) and floors to 1 ms less. A peer's index then held the file 1 ms off its author's
 * record and the two compared as different states (an extra resolution round after each conflict).
 * Where the plain value converts right it is kept (whole seconds stay exact); else half a
 * microsecond more floors to the intended ms.
 */
export function utimesSeconds (mtimeMs: number): number {
  const ms = Math.floor(mtimeMs)
  const seconds = ms / 1000
  const whole = Math.trunc(seconds)
  const nanos = Math.trunc((seconds - whole) * 1e9) // as libuv's uv__fs_to_timespec does
  return whole * 1000 + Math.floor(nanos / 1e6) === ms ? seconds : (ms + 0.0005) / 1000
}
