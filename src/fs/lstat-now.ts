// lstat on the calling thread. A metadata call takes microseconds on a local disk, while a call
// through libuv's thread pool costs the main thread some 30 µs of dispatch and completion here,
// whatever it does: applying 10,000 small received files made some 40,000 of them (parents
// checked, the target checked, the watcher's and the echo filter's looks at what was written).
import { lstatSync, type Stats } from 'node:fs'

/** fs/promises' lstat, done synchronously: resolves or rejects (same errors) without a thread-pool round trip. */
export async function lstatNow (path: string): Promise<Stats> {
  return lstatSync(path)
}
