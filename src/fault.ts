// Crash points for fault tests: `LANSYNC_CRASH_AT=NAME` (or `NAME@N`, the Nth time) makes the
// process kill itself with SIGKILL when it reaches that point, as a power cut or `kill -9` would,
// so tests can stop the write path between any two of its steps and check that nothing is lost.
// Without the variable a crash point costs one comparison.
// `LANSYNC_PAUSE_AT=NAME:MS` instead holds the process at that point for MS ms (each time it passes),
// so a test can act in the window between two steps, e.g. save a file while a remote version of
// it is about to replace it.

/** The points, in the order a received file passes them (and a scan's). */
export type CrashPoint =
  | 'pull:block-stored' // a fetched block is in the store, the file not yet written
  | 'apply:patching' // a big file patched in place: a changed range written, the rest and the fsync not yet (fs/patch.ts)
  | 'apply:temp-written' // the temp file is complete and synced, not yet renamed
  | 'apply:renamed' // the new content is in place, the index does not know it yet
  | 'apply:linked' // a rename's new path is a hard link of the old file, neither recorded nor the old one deleted yet
  | 'apply:delete-checked' // a remote deletion's path was checked against the index, not yet removed
  | 'scan:blocks-stored' // a scanned file's blocks are stored, its record not yet committed
  | 'serve:block' // a block is being sent to a peer

const wanted = parse(process.env.LANSYNC_CRASH_AT)
const pause = parsePause(process.env.LANSYNC_PAUSE_AT)
let hits = 0

function parse (value: string | undefined): { point: string, nth: number } | undefined {
  if (value === undefined || value === '') return undefined
  const [point, nth = '1'] = value.split('@')
  return { point, nth: Math.max(1, Number.parseInt(nth, 10) || 1) }
}

export function crashPoint (point: CrashPoint): void {
  if (wanted === undefined || wanted.point !== point) return
  hits += 1
  if (hits < wanted.nth) return
  process.stderr.write(`crash point ${point} reached (LANSYNC_CRASH_AT): killing this process\n`)
  process.kill(process.pid, 'SIGKILL')
}

function parsePause (value: string | undefined): { point: string, ms: number } | undefined {
  if (value === undefined || value === '') return undefined
  const at = value.lastIndexOf(':') // the point names hold a colon themselves
  const ms = /^\d+$/.test(value.slice(at + 1)) ? Number.parseInt(value.slice(at + 1), 10) : undefined
  return ms === undefined ? { point: value, ms: 1000 } : { point: value.slice(0, at), ms }
}

export async function pausePoint (point: CrashPoint): Promise<void> {
  if (pause === undefined || pause.point !== point) return
  process.stderr.write(`pause point ${point} reached (LANSYNC_PAUSE_AT): waiting ${pause.ms} ms\n`)
  await new Promise(resolve => setTimeout(resolve, pause.ms))
}
