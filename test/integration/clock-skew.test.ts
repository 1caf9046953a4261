// Clock skew of a year both ways (GitHub issue 5): one device's files carry mtimes a year in the
// future or a year in the past. An agent's system clock cannot be changed safely in a test (it is
// the machine's), so the skewed device is simulated by its files' mtimes (utimes), which is all a
// skewed clock leaves in what devices exchange. Causal order comes from version vectors, never from
// mtimes; between concurrent edits the newer mtime wins (deterministically, on both devices), the
// other is kept as a conflict copy and in history; `history` and `restore --at` (by recording
// time, not mtime) still work. Every scenario ends with the ledger's checks.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync, readdirSync, statSync, utimesSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, cli, tempDir, waitFor } from '../helpers/cli.js'
import { makeCluster, type Device } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'

const YEAR_MS = 365 * 24 * 3600 * 1000

/** Writes through the ledger, then dates the file as a device whose clock is off by `skewMs` would. */
function writeSkewed (ledger: Ledger, device: Device, path: string, content: string, skewMs: number): void {
  ledger.write(device, path, content)
  const t = new Date(Date.now() + skewMs)
  utimesSync(join(device.folder, path), t, t)
}

test('a year of clock skew both ways: causal edits win, concurrent ones pick one winner, nothing is lost', async () => {
  const [a, b] = await makeCluster(['a', 'b'])
  const ledger = new Ledger([a, b])
  await a.start(); await b.start()
  // b's clock runs a year ahead for two files, a year behind for one.
  writeSkewed(ledger, b, 'future.txt', 'future v1 (b, +1 year)', YEAR_MS)
  writeSkewed(ledger, b, 'causal.txt', 'causal v1 (b, +1 year)', YEAR_MS)
  writeSkewed(ledger, b, 'past.txt', 'past v1 (b, -1 year)', -YEAR_MS)
  await waitFor(() => ['future.txt', 'causal.txt', 'past.txt'].every(p => {
    // Mtimes travel in whole milliseconds (protocol.md), so that is the precision to compare at.
    try { return Math.floor(statSync(join(a.folder, p)).mtimeMs) === Math.floor(statSync(join(b.folder, p)).mtimeMs) } catch { return false }
  }), { timeoutMs: 30_000, what: 'the skewed files to reach a with their mtimes' })

  // A later edit on a, dated by a's right clock (a year *older* than what it replaces): the version
  // vectors say it came after, so it wins everywhere though its mtime is older.
  const causal = ledger.write(a, 'causal.txt', 'causal v2 (a, later, right clock)')
  await ledger.recorded(a, causal)
  await waitFor(() => readFileSync(join(b.folder, 'causal.txt'), 'utf8') === 'causal v2 (a, later, right clock)', { timeoutMs: 30_000, what: 'the causal edit to replace the future-dated file on b' })

  // Concurrent edits: both devices offline, each edits the same two files.
  const beforeConflictsMs = Date.now()
  await new Promise(resolve => setTimeout(resolve, 1100)) // recording times are ms; keep them apart from the edits below
  await a.stop(); await b.stop()
  ledger.write(a, 'future.txt', 'future v2 (a, right clock)')
  writeSkewed(ledger, b, 'future.txt', 'future v2 (b, +1 year)', YEAR_MS)
  ledger.write(a, 'past.txt', 'past v2 (a, right clock)')
  writeSkewed(ledger, b, 'past.txt', 'past v2 (b, -1 year)', -YEAR_MS)
  await a.start(); await b.start()
  await ledger.check({ timeoutMs: 60_000 })

  // One winner, the same on both: the newer mtime (b's future; a's right clock over b's past).
  for (const d of [a, b]) {
    assert.is(readFileSync(join(d.folder, 'future.txt'), 'utf8'), 'future v2 (b, +1 year)', `${d.name}: future.txt`)
    assert.is(readFileSync(join(d.folder, 'past.txt'), 'utf8'), 'past v2 (a, right clock)', `${d.name}: past.txt`)
    assert.is(readFileSync(join(d.folder, 'causal.txt'), 'utf8'), 'causal v2 (a, later, right clock)', `${d.name}: causal.txt`)
    const names = readdirSync(d.folder).sort()
    const futureCopies = names.filter(n => n.startsWith('future.sync-conflict-'))
    const pastCopies = names.filter(n => n.startsWith('past.sync-conflict-'))
    assert.is(futureCopies.length, 1, JSON.stringify(names))
    assert.is(pastCopies.length, 1, JSON.stringify(names))
    assert.is(readFileSync(join(d.folder, futureCopies[0]), 'utf8'), 'future v2 (a, right clock)')
    assert.is(readFileSync(join(d.folder, pastCopies[0]), 'utf8'), 'past v2 (b, -1 year)')
    // The loser's copy is named by its (skewed) mtime: a year back.
    assert.match(pastCopies[0], new RegExp(`^past\\.sync-conflict-${new Date(Date.now() - YEAR_MS).getUTCFullYear()}`))
  }

  // `history` lists every version; `restore --at` picks by recording time, which no mtime skews.
  for (const d of [a, b]) {
    const h = await cli(d.home, ['history', join(d.folder, 'future.txt'), '--json'])
    const hashes = h.json.versions.map((v: any) => v.hash)
    assert.ok(h.json.versions.length >= 2, JSON.stringify(h.json))
    for (const v of h.json.versions) assert.ok(Math.abs(Date.parse(v.time) - Date.now()) < 10 * 60_000, `recorded now, not at the skewed mtime: ${v.time}`)
    assert.ok(new Set(hashes).size >= 2)
    const out = join(tempDir('lansync-skew-restore-'), 'future.txt')
    await cli(d.home, ['restore', join(d.folder, 'future.txt'), '--at', new Date(beforeConflictsMs).toISOString(), '--to', out])
    assert.is(readFileSync(out, 'utf8'), 'future v1 (b, +1 year)', `${d.name}: restore --at before the conflict`)
    const now = join(tempDir('lansync-skew-restore-'), 'future-now.txt')
    await cli(d.home, ['restore', join(d.folder, 'future.txt'), '--at', new Date().toISOString(), '--to', now])
    assert.is(readFileSync(now, 'utf8'), 'future v2 (b, +1 year)', `${d.name}: restore --at now`)
  }
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
