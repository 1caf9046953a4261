// A save that lands while a remote version of the same file is being put in place: the window
// between the agent's last check of the path and its replacement is held open (LANSYNC_PAUSE_AT)
// and the user's save is made inside it. The save must survive (a conflict, both versions kept),
// whether it creates the file, replaces it by a rename (as editors save), rewrites it in place, or
// saves it while a remote deletion of it is being carried out, or just after the replacement.
import { test } from 'uvu'
import { rmSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, waitFor } from '../helpers/cli.js'
import { makeCluster, type Device } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const pausesOf = (d: Device, point = 'apply:temp-written'): number => d.agent?.output().split(`pause point ${point} reached`).length ?? 0

test('saves made between the last check and the replacement are all kept', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  const ledger = new Ledger([a, b])
  ledger.write(a, 'kept.txt', 'kept v1')
  ledger.write(a, 'inplace.txt', 'in place v1')
  ledger.write(a, 'gone.txt', 'gone v1')
  ledger.write(a, 'same.txt', 'same size v1')
  await a.start()
  await b.start({ env: { LANSYNC_PAUSE_AT: 'apply:temp-written:1500' } })
  await ledger.check({ timeoutMs: 60_000 })

  // 1. A file B does not have yet: B saves its own while A's is about to be created.
  let pauses = pausesOf(b)
  ledger.write(a, 'new.txt', 'new, made on a')
  await waitFor(() => pausesOf(b) > pauses, { timeoutMs: 30_000, what: 'B to hold before creating new.txt' })
  ledger.write(b, 'new.txt', 'new, saved on b meanwhile')

  // 2. A file both have, replaced on B by a rename (an editor's save) inside the window.
  pauses = pausesOf(b)
  ledger.write(a, 'kept.txt', 'kept v2 from a')
  await waitFor(() => pausesOf(b) > pauses, { timeoutMs: 30_000, what: 'B to hold before replacing kept.txt' })
  ledger.write(b, 'kept.txt', 'kept, saved on b meanwhile')

  // 3. The same, rewritten in place (same inode).
  pauses = pausesOf(b)
  ledger.write(a, 'inplace.txt', 'in place v2 from a')
  await waitFor(() => pausesOf(b) > pauses, { timeoutMs: 30_000, what: 'B to hold before replacing inplace.txt' })
  const inPlace = 'in place, rewritten on b meanwhile'
  writeFileSync(join(b.folder, 'inplace.txt'), inPlace)
  ledger.noteWritten(b, 'inplace.txt', Buffer.from(inPlace))

  // 4. A deletes a file; B saves it just before the deletion reaches the disk: the edit wins.
  await ledger.check({ timeoutMs: 90_000 })
  await b.stop()
  await b.start({ env: { LANSYNC_PAUSE_AT: 'apply:delete-checked:1500' } })
  pauses = pausesOf(b, 'apply:delete-checked')
  rmSync(join(a.folder, 'gone.txt'))
  await waitFor(() => pausesOf(b, 'apply:delete-checked') > pauses, { timeoutMs: 30_000, what: 'B to hold before deleting gone.txt' })
  ledger.write(b, 'gone.txt', 'gone, but saved on b meanwhile')

  // 5. Saved (by a rename, same size) just after the remote version was put in place and before
  // the index records it: the index must describe the file the agent wrote, not the user's, or the
  // user's version would look already known and never be scanned.
  await ledger.check({ timeoutMs: 90_000 })
  await b.stop()
  await b.start({ env: { LANSYNC_PAUSE_AT: 'apply:renamed:1500' } })
  pauses = pausesOf(b, 'apply:renamed')
  ledger.write(a, 'same.txt', 'same size v2 (a)')
  await waitFor(() => pausesOf(b, 'apply:renamed') > pauses, { timeoutMs: 30_000, what: 'B to hold after replacing same.txt' })
  ledger.write(b, 'same.txt', 'same size v2 (b)')

  // Every version (both sides of all three) is in some history, the devices agree, no temp left.
  await ledger.check({ timeoutMs: 90_000 })
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
