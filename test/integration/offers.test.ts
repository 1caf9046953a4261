// A folder shared by a paired device shows up as an offer; `folder accept` syncs it into a path
// of our choosing, and a wrong accept says what to do.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync, readFileSync, existsSync } from 'node:fs'
import { join, dirname } from 'node:path'
import { cleanupAll, cli, runCli, waitFor } from '../helpers/cli.js'
import { makeCluster, waitConverged } from '../helpers/cluster.js'

test('an offered folder is listed, accepted into a new path, and synced', async () => {
  const [a, b] = await makeCluster(['a', 'b'], { links: [] })
  await cli(b.home, ['folder', 'remove', 'docs'])
  for (const [x, y] of [[a, b], [b, a]]) await cli(x.home, ['device', 'add', y.id, '--addr', `127.0.0.1:${y.port}`, '--name', y.name])
  await cli(a.home, ['folder', 'share', 'docs', b.id])
  writeFileSync(join(a.folder, 'report.txt'), 'quarterly numbers')
  await a.start(); await b.start()

  const offers = await waitFor(async () => {
    const r = await cli(b.home, ['folder', 'offers', '--json'])
    return r.json.length > 0 ? r.json : undefined
  }, { what: 'the offer to reach b', timeoutMs: 20_000 })
  assert.is(offers[0].folderId, 'docs')
  assert.is(offers[0].fromDevice, a.id)
  assert.match((await cli(b.home, ['folder', 'offers'])).stdout, /docs +docs +a /)

  const wrong = await runCli(b.home, ['folder', 'accept', 'no-such-folder', join(dirname(b.folder), 'x')])
  assert.is.not(wrong.code, 0)
  assert.match(wrong.stderr, /no device offered folder no-such-folder/)
  assert.not.ok(existsSync(join(dirname(b.folder), 'x')), 'a failed accept leaves no directory behind')

  const target = join(dirname(b.folder), 'accepted-docs')
  const accepted = await cli(b.home, ['folder', 'accept', 'docs', target, '--json'])
  assert.is(accepted.json.id, 'docs')
  assert.equal(accepted.json.sharedWith, [a.id])
  assert.equal((await cli(b.home, ['folder', 'offers', '--json'])).json, [], 'the offer is used up')

  await waitConverged([a, { ...b, folder: target }])
  assert.is(readFileSync(join(target, 'report.txt'), 'utf8'), 'quarterly numbers')
  writeFileSync(join(target, 'reply.txt'), 'looks good')
  await waitFor(() => { try { return readFileSync(join(a.folder, 'reply.txt'), 'utf8') === 'looks good' } catch { return false } }, { what: 'the reply to reach a', timeoutMs: 20_000 })
  await a.stop(); await b.stop()
})

test.after(cleanupAll)
test.run()
