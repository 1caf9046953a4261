// A receiver that may not write where a file must go (GitHub issue 5): the path is reported
// (PATH_UNWRITABLE, per path, in `lansync status`), nothing is lost, the other files still sync,
// and once the path is writable again the file arrives by itself (the puller retries every 10 s).
// Tests run as root, which ignores permission bits, so the denial is made with `chattr +i`
// (immutable: even root gets EPERM creating, renaming or replacing there), on a directory and on a file.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { join } from 'node:path'
import { cleanupAll, cli, onCleanup, waitFor } from '../helpers/cli.js'
import { makeCluster } from '../helpers/cluster.js'
import { Ledger } from '../helpers/ledger.js'
import { immutableUnavailable, setImmutable } from '../helpers/immutable.js'

const unavailable = immutableUnavailable()
if (unavailable !== undefined) console.log(`SKIP test/integration/permission-denied.test.ts: ${unavailable}`)

test('an unwritable directory and file on the receiver are reported, the rest syncs, and they arrive once writable', async () => {
  if (unavailable !== undefined) return
  const [a, b] = await makeCluster(['a', 'b'])
  const ledger = new Ledger([a, b])
  await a.start(); await b.start()
  ledger.write(a, 'locked/first.txt', 'first v1')
  ledger.write(a, 'frozen.txt', 'frozen v1')
  await waitFor(() => existsSync(join(b.folder, 'locked/first.txt')) && existsSync(join(b.folder, 'frozen.txt')), { timeoutMs: 30_000, what: 'the first versions to reach b' })
  const lockedDir = join(b.folder, 'locked')
  const frozenFile = join(b.folder, 'frozen.txt')
  for (const path of [lockedDir, frozenFile]) {
    assert.is(setImmutable(path, true), undefined)
    // Before the temp dir is removed (cleanups run last-in first-out), or rm would fail on it.
    onCleanup(() => { setImmutable(path, false) })
  }

  // a changes a file in the locked directory, adds one there, replaces the frozen file, and adds one elsewhere.
  ledger.write(a, 'locked/first.txt', 'first v2')
  ledger.write(a, 'locked/new.txt', 'new in locked')
  ledger.write(a, 'frozen.txt', 'frozen v2')
  ledger.write(a, 'free.txt', 'goes anywhere')
  const problems = await waitFor(async () => {
    const list = (await b.status()).folders[0].problems as Array<{ path: string, code: string, message: string }>
    const wanted = ['locked/first.txt', 'locked/new.txt', 'frozen.txt']
    return wanted.every(p => list.some(x => x.path === p)) ? list : undefined
  }, { timeoutMs: 30_000, what: 'b to report the three unwritable paths' })
  for (const p of problems) assert.is(p.code, 'PATH_UNWRITABLE', JSON.stringify(p))
  assert.match(problems[0].message, /permission denied/)
  const human = await cli(b.home, ['status'])
  assert.match(human.stdout, /locked\/new\.txt/)
  await waitFor(() => existsSync(join(b.folder, 'free.txt')), { what: 'free.txt to reach b meanwhile' })
  // Nothing half-done: the old versions stay, no temp file anywhere, no new file.
  assert.is(readFileSync(join(b.folder, 'locked/first.txt'), 'utf8'), 'first v1')
  assert.is(readFileSync(frozenFile, 'utf8'), 'frozen v1')
  assert.equal(readdirSync(lockedDir).sort(), ['first.txt'])
  assert.equal(readdirSync(b.folder).filter(n => n.startsWith('.lansync-tmp-')), [])

  // Writable again (chmod 755 for a user; -i here): retried while running, everything arrives.
  assert.is(setImmutable(lockedDir, false), undefined)
  assert.is(setImmutable(frozenFile, false), undefined)
  await waitFor(() => readFileSync(frozenFile, 'utf8') === 'frozen v2' && existsSync(join(lockedDir, 'new.txt')),
    { timeoutMs: 30_000, what: 'the retried files to arrive' })
  await ledger.check()
  assert.equal((await b.status()).folders[0].problems, [], 'no problem is left once the files are in place')
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
