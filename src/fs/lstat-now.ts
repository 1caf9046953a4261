// lstat on the calling thread. A metadata call takes microseconds on a local disk, while a call
// through libuv's thread pool costs the main thread some 30 µs of dispatch and completion here,
// whatever it does: applying 10,000 small received files made some 40,000 of them (parents
// checked, the target checked, the watcher's and the echo filter's looks at what was written).
import { lstatSync, type Stats } from 'node:fs'

/** fs/promises' lstat, done synchronously: resolves or rejects (same errors) without a thread-pool round trip. */
export async function lstatNow (path: string): Promise<Stats> {
  return lstatSync(path)
}

/**
 * lstat that returns the error instead of throwing, and undefined for a path that is gone.
 * Synchronous on purpose: a rescan's time is mostly lstat calls, and on the thread pool each one
 * costs the main thread a dispatch and a completion (with thread wake-ups) that outweigh the
 * call itself. 100,000 lstats here: 0.28 s of CPU in all synchronously, against 0.9 s through
 * callbacks 16 at a time (1.8 s of main-thread time inside an agent). The scanner lstats a chunk of
 * 512 siblings between awaits, so the event loop is held about 1.5 ms at a time.
 */
export function lstatOrError (path: string): Stats | NodeJS.ErrnoException | undefined {
  try {
    return lstatSync(path, { throwIfNoEntry: false })
  } catch (err) {
    return err as NodeJS.ErrnoException
  }
}
