// The web dashboard with real agents and a real browser: two devices make a real conflict; the
// dashboard of one, opened in headless Chromium (Debian's, driven by playwright-core), lists it,
// resolves it with a click and restores a version with another, and the files change on both
// devices. Its API answers only with the token, only to 127.0.0.1/localhost, and never to another
// site's page; `lansync dashboard on|off|url` turn it on and off on a running agent.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { existsSync, copyFileSync, mkdirSync, readFileSync, readdirSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import http from 'node:http'
import net from 'node:net'
import { chromium, type Browser } from 'playwright-core'
import { cleanupAll, cli, onCleanup, runCli, tempDir, waitFor } from '../helpers/cli.js'
import { callAgent } from '../../src/control/client.js'
import { freePort, makeCluster, snapshotTree, waitConverged, type Device } from '../helpers/cluster.js'

const sha = (text: string): string => createHash('sha256').update(text).digest('hex')
const call = async (d: Device, method: string, params: object = {}): Promise<any> => await callAgent(join(d.home, 'agent.sock'), method, params)
const inbox = async (d: Device): Promise<any[]> => (await call(d, 'conflicts')).conflicts
const copies = (d: Device): string[] => readdirSync(d.folder).filter(n => n.includes('.sync-conflict-'))
const read = (d: Device, name: string): string => readFileSync(join(d.folder, name), 'utf8')

interface Reply { status: number, json: any, headers: http.IncomingHttpHeaders }

/** One HTTP request to 127.0.0.1 (or `address`) with exactly these headers (fetch would not let the test set Host). */
async function request (port: number, path: string, { method = 'GET', headers = {}, body, address = '127.0.0.1' }: { method?: string, headers?: Record<string, string>, body?: string, address?: string } = {}): Promise<Reply> {
  return await new Promise((resolve, reject) => {
    const req = http.request({ host: address, port, path, method, headers: { Host: `127.0.0.1:${port}`, ...headers } }, res => {
      let text = ''
      res.on('data', d => { text += d })
      res.on('end', () => {
        let json: any
        try { json = JSON.parse(text) } catch {}
        resolve({ status: res.statusCode ?? 0, json, headers: res.headers })
      })
    })
    req.on('error', reject)
    req.end(body)
  })
}

/** Debian's chromium (`apt-get install chromium`, as .ci/run does), or CHROMIUM_PATH. */
function findChromium (): string | undefined {
  return [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].find(p => p !== undefined && p !== '' && existsSync(p))
}

/** Width and height from a PNG's IHDR chunk (after checking the signature). */
function pngSize (png: Buffer): { width: number, height: number } {
  assert.equal([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a], 'a PNG signature')
  assert.is(png.subarray(12, 16).toString('latin1'), 'IHDR')
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) }
}

let a: Device
let b: Device
let url: string
let port: number
let token: string
const auth = (): Record<string, string> => ({ Authorization: `Bearer ${token}` })
const json = (value: unknown): { headers: Record<string, string>, body: string } => ({ headers: { ...auth(), 'Content-Type': 'application/json' }, body: JSON.stringify(value) })

test('a real conflict; the dashboard URL carries a token kept 0600 in the home', async () => {
  [a, b] = await makeCluster(['a', 'b'], { isSetUpInProcess: true })
  port = await freePort()
  // Before they first meet, both write each file (two unrelated versions: a conflict, as for edits
  // made while apart); b's are newer and keep the paths, a's become the conflict copies.
  const past = new Date(Date.now() - 60_000)
  for (const name of ['c.txt', 'd.txt', 'e.txt']) {
    writeFileSync(join(a.folder, name), `${name} edit on a`)
    utimesSync(join(a.folder, name), past, past)
    writeFileSync(join(b.folder, name), `${name} edit on b`)
  }
  await a.start({ args: ['--dashboard', String(port)] }); await b.start()
  await waitConverged([a, b], { what: 'the conflicts to settle' })
  await waitFor(async () => (await inbox(a)).length === 3 && (await inbox(b)).length === 3, { what: 'the conflicts in both inboxes' })

  const r = await cli(a.home, ['dashboard', 'url', '--json'])
  assert.is(r.json.isRunning, true)
  assert.is(r.json.port, port)
  url = r.json.url
  assert.match(url, new RegExp(`^http://127\\.0\\.0\\.1:${port}/#token=[A-Za-z0-9_-]{43}$`))
  token = url.slice(url.indexOf('#token=') + 7)
  const tokenFile = join(a.home, 'dashboard-token')
  assert.is(readFileSync(tokenFile, 'utf8').trim(), token)
  assert.is(statSync(tokenFile).mode & 0o777, 0o600)
  assert.ok(a.agent?.output().includes(`dashboard: serving on http://127.0.0.1:${port}/`))
  assert.not.ok(a.agent?.output().includes(token), 'the token is never logged')
})

test('the API answers only with the token, to 127.0.0.1 or localhost, and not to other sites; bad inputs change nothing', async () => {
  const before = snapshotTree(a.folder)
  const conflicts = await inbox(a)

  const none = await request(port, '/api/status')
  assert.is(none.status, 401)
  assert.is(none.json.error.code, 'UNAUTHORIZED')
  assert.is(none.headers['www-authenticate'], 'Bearer realm="lansync"')
  assert.is((await request(port, '/api/conflicts', { headers: { Authorization: `Bearer ${token.slice(1)}x` } })).status, 401)
  assert.is((await request(port, '/api/conflicts', { headers: { Authorization: token } })).status, 401, 'the token only as a Bearer credential')
  const ok = await request(port, '/api/status', { headers: auth() })
  assert.is(ok.status, 200)
  assert.is(ok.json.deviceName, 'a')
  assert.is(ok.json.folders[0].label, 'docs')
  assert.is((await request(port, '/api/status', { headers: { ...auth(), Host: `localhost:${port}` } })).status, 200)

  // DNS rebinding: a page of another name that resolves to 127.0.0.1 gets nothing, not even the page.
  for (const host of ['evil.example', `evil.example:${port}`, `127.0.0.1:${port + 1}`, '127.0.0.1']) {
    const rebound = await request(port, '/api/status', { headers: { ...auth(), Host: host } })
    assert.is(rebound.status, 403, host)
    assert.is(rebound.json.error.code, 'FORBIDDEN')
    assert.is((await request(port, '/', { headers: { Host: host } })).status, 403, host)
  }
  // Another site's page posting here (the browser would add the cookie-less token only if it had it).
  const resolveTheirs = { folder: 'docs', path: 'c.txt', keep: 'theirs' }
  const crossOrigin = await request(port, '/api/conflicts/resolve', { method: 'POST', ...json(resolveTheirs), headers: { ...json(resolveTheirs).headers, Origin: 'http://evil.example' } })
  assert.is(crossOrigin.status, 403)
  assert.match(crossOrigin.json.error.message, /evil\.example/)
  const crossSite = await request(port, '/api/conflicts/resolve', { method: 'POST', ...json(resolveTheirs), headers: { ...json(resolveTheirs).headers, 'Sec-Fetch-Site': 'cross-site' } })
  assert.is(crossSite.status, 403)

  // Bad inputs: each a clear error, and nothing changes.
  const cases: Array<[string, { method?: string, headers?: Record<string, string>, body?: string }, number, string]> = [
    ['/api/conflicts/resolve', { method: 'POST', ...json({ folder: 'docs', path: '../c.txt', keep: 'theirs' }) }, 400, 'PATH_INVALID'],
    ['/api/conflicts/resolve', { method: 'POST', ...json({ folder: 'docs', path: '/etc/passwd', keep: 'theirs' }) }, 400, 'PATH_INVALID'],
    ['/api/conflicts/resolve', { method: 'POST', ...json({ folder: 'docs', path: 'c.txt', keep: 'yours' }) }, 400, 'ARG_INVALID'],
    ['/api/conflicts/resolve', { method: 'POST', ...json({ folder: 'docs', path: 'c.txt' }) }, 400, 'ARG_INVALID'],
    ['/api/conflicts/resolve', { method: 'POST', ...json({ folder: 'nope', path: 'c.txt', keep: 'mine' }) }, 404, 'FOLDER_NOT_FOUND'],
    ['/api/conflicts/resolve', { method: 'POST', ...json({ folder: 'docs', path: 'other.txt', keep: 'mine' }) }, 404, 'CONFLICT_NOT_FOUND'],
    ['/api/conflicts/resolve', { method: 'POST', headers: { ...auth(), 'Content-Type': 'text/plain' }, body: JSON.stringify(resolveTheirs) }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['/api/conflicts/resolve', { method: 'POST', headers: json({}).headers, body: '{"folder":' }, 400, 'BAD_REQUEST'],
    ['/api/conflicts/resolve', { method: 'POST', headers: json({}).headers, body: '["docs"]' }, 400, 'BAD_REQUEST'],
    ['/api/conflicts/resolve', { method: 'POST', headers: json({}).headers, body: JSON.stringify({ ...resolveTheirs, pad: 'x'.repeat(70_000) }) }, 413, 'TOO_LARGE'],
    ['/api/restore', { method: 'POST', ...json({ folder: 'docs', path: 'c.txt', version: 0 }) }, 400, 'ARG_INVALID'],
    ['/api/restore', { method: 'POST', ...json({ folder: 'docs', path: 'c.txt', version: '1' }) }, 400, 'ARG_INVALID'],
    ['/api/restore', { method: 'POST', ...json({ folder: 'docs', path: 'c.txt', version: 99 }) }, 404, 'VERSION_NOT_FOUND'],
    ['/api/history?folder=docs&path=nothing.txt', { headers: auth() }, 404, 'VERSION_NOT_FOUND'],
    ['/api/history?folder=docs', { headers: auth() }, 400, 'ARG_INVALID'],
    ['/api/paths', { headers: auth() }, 400, 'ARG_INVALID'],
    ['/api/status', { method: 'PUT', headers: auth() }, 405, 'METHOD_NOT_ALLOWED'],
    ['/api/restore', { headers: auth() }, 404, 'NOT_FOUND'],
    ['/api/nothing', { headers: auth() }, 404, 'NOT_FOUND']
  ]
  for (const [path, options, status, code] of cases) {
    const reply = await request(port, path, options)
    assert.is(reply.status, status, `${options.method ?? 'GET'} ${path} ${options.body?.slice(0, 80) ?? ''}: ${JSON.stringify(reply.json)}`)
    assert.is(reply.json?.error?.code, code, `${path}: ${JSON.stringify(reply.json)}`)
  }
  assert.equal(snapshotTree(a.folder), before)
  assert.equal(await inbox(a), conflicts)

  // The history browser's path list: files of the folder, filtered (case does not matter). Every
  // file whose name holds "c." comes back: c.txt, its conflict copy, and any other copy made by a
  // device whose label ends in C (the labels are random).
  const paths = await request(port, '/api/paths?folder=docs&filter=C.', { headers: auth() })
  assert.is(paths.status, 200)
  const named = Object.keys(before).filter(path => before[path] !== 'dir' && path.toLowerCase().includes('c.'))
  assert.ok(named.includes('c.txt') && named.includes(conflicts[0].loser.path))
  assert.equal(paths.json.paths.map((p: any) => p.path).sort(), named.sort())
  assert.is(paths.json.isTruncated, false)

  // Bound to 127.0.0.1 alone: another loopback address (which 0.0.0.0 would also answer) is refused.
  const other = await new Promise<string>(resolve => {
    const s = net.connect({ host: '127.0.0.2', port }, () => { s.destroy(); resolve('connected') })
    s.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? 'error'))
  })
  assert.is(other, 'ECONNREFUSED')
})

test('in headless Chromium: the conflict is listed and resolved with a click on both devices; a Restore click restores a version', async () => {
  const executablePath = findChromium()
  if (executablePath === undefined) {
    // In CI a missing browser is a failure, unless .ci/run tried to install it and could not (then
    // the run says why, loudly, instead of failing every other test's submission with it).
    const whyMissing = process.env.LANSYNC_BROWSER_UNAVAILABLE
    if (process.env.CI !== undefined && whyMissing === undefined) assert.unreachable('no chromium: .ci/run installs Debian\'s chromium (apt-get install chromium); or set CHROMIUM_PATH')
    console.log(`SKIP dashboard browser test: no chromium (${whyMissing ?? 'apt-get install chromium, or set CHROMIUM_PATH'})`)
    return
  }
  const browser: Browser = await chromium.launch({
    executablePath,
    // No background traffic: this machine (and CI) reach only loopback.
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-default-apps', '--disable-dev-shm-usage']
  })
  onCleanup(async () => { await browser.close() })
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  const page = await context.newPage()
  const pageErrors: string[] = []
  page.on('pageerror', err => pageErrors.push(err.message))
  // A Content-Security-Policy violation or a failed request shows up here.
  page.on('console', message => { if (message.type() === 'error') pageErrors.push(message.text()) })
  await page.goto(url)
  // The token leaves the address bar at once (it stays in this tab's sessionStorage).
  await waitFor(() => !page.url().includes('token'), { what: 'the token to leave the address bar' })
  await page.locator('#device').filter({ hasText: a.id }).waitFor()
  assert.ok(await page.locator('tr[data-folder] .state').first().isVisible())
  if (process.env.LANSYNC_SCREENSHOTS !== undefined) {
    mkdirSync(process.env.LANSYNC_SCREENSHOTS, { recursive: true })
    await page.screenshot({ path: join(process.env.LANSYNC_SCREENSHOTS, 'folders.png') })
    await page.getByRole('tab', { name: 'Peers' }).click()
    await page.locator('tr[data-device]').first().waitFor()
    await page.screenshot({ path: join(process.env.LANSYNC_SCREENSHOTS, 'peers.png') })
  }

  await page.getByRole('tab', { name: /Conflicts/ }).click()
  const [conflict] = await inbox(a)
  const row = page.locator('tr[data-conflict="c.txt"]')
  await row.waitFor({ state: 'visible' })
  assert.is(await page.locator('#conflict-count').textContent(), '3')
  const cells = row.locator('td')
  assert.is(await cells.nth(1).textContent(), 'c.txt')
  assert.match(await cells.nth(2).textContent() ?? '', /^b/) // mine: b's edit is at the path
  assert.match(await cells.nth(3).textContent() ?? '', /^a/) // theirs: a's edit is the copy
  assert.ok((await cells.nth(3).textContent())?.includes(conflict.loser.path))

  // The screenshot: a PNG of the viewport, not blank, with the conflict row inside it.
  const shots = tempDir('lansync-dashboard-shots-')
  const shotFile = join(shots, 'conflicts.png')
  const png = await page.screenshot({ path: shotFile })
  assert.ok(existsSync(shotFile) && statSync(shotFile).size === png.length)
  assert.equal(pngSize(png), { width: 1280, height: 800 })
  const box = await row.boundingBox()
  assert.ok(box !== null && box.y >= 0 && box.y + box.height <= 800 && box.width > 600, `the row within the screenshot: ${JSON.stringify(box)}`)
  // Decoded by the browser itself: many colours, and the row's area is not one flat colour.
  const decoded = await context.newPage()
  const area = { x: Math.floor(box!.x), y: Math.floor(box!.y), width: Math.floor(box!.width), height: Math.floor(box!.height) }
  // A source string: tsx would wrap a function's inner names in a helper the page does not have.
  const pixels: { whole: number, row: number } = await decoded.evaluate(`(async () => {
    const img = new Image()
    img.src = 'data:image/png;base64,${png.toString('base64')}'
    await img.decode()
    const canvas = document.createElement('canvas')
    canvas.width = img.width; canvas.height = img.height
    const g = canvas.getContext('2d')
    g.drawImage(img, 0, 0)
    const count = (x, y, w, h) => {
      const d = g.getImageData(x, y, w, h).data
      const seen = new Set()
      for (let i = 0; i < d.length; i += 4) seen.add((d[i] << 16) | (d[i + 1] << 8) | d[i + 2])
      return seen.size
    }
    const area = ${JSON.stringify(area)}
    return { whole: count(0, 0, img.width, img.height), row: count(area.x, area.y, area.width, area.height) }
  })()`)
  await decoded.close()
  assert.ok(pixels.whole > 20, `colours in the screenshot: ${pixels.whole}`)
  assert.ok(pixels.row > 5, `colours in the conflict row: ${pixels.row}`)
  if (process.env.LANSYNC_SCREENSHOTS !== undefined) { copyFileSync(shotFile, join(process.env.LANSYNC_SCREENSHOTS, 'conflicts.png')) }

  // Keep theirs: a's content (the copy) goes to the path on both devices; b's stays in history.
  // Keep both: the copy becomes "d (from a).txt". Keep mine: b's content stays, the copy goes.
  // One at a time: three requests in flight may answer in any order, and the notice shows the last answer.
  const notice = page.locator('#notice')
  await row.getByRole('button', { name: 'Keep theirs' }).click()
  await notice.filter({ hasText: /^Resolved c\.txt: kept the conflict copy/ }).waitFor()
  await page.locator('tr[data-conflict="d.txt"]').getByRole('button', { name: 'Keep both' }).click()
  await notice.filter({ hasText: /^Resolved d\.txt: kept both; the copy is now d \(from a\)\.txt/ }).waitFor()
  await page.locator('tr[data-conflict="e.txt"]').getByRole('button', { name: 'Keep mine' }).click()
  await notice.filter({ hasText: /^Resolved e\.txt: kept the version at the path/ }).waitFor()
  const isResolved = (d: Device): boolean => copies(d).length === 0 && read(d, 'c.txt') === 'c.txt edit on a' &&
    read(d, 'd.txt') === 'd.txt edit on b' && existsSync(join(d.folder, 'd (from a).txt')) && read(d, 'd (from a).txt') === 'd.txt edit on a' &&
    read(d, 'e.txt') === 'e.txt edit on b'
  for (const d of [a, b]) {
    await waitFor(() => isResolved(d), { what: `the resolutions on ${d.name}: ${JSON.stringify(snapshotTree(d.folder))}`, timeoutMs: 20_000 })
  }
  await waitFor(async () => (await inbox(a)).length === 0 && (await inbox(b)).length === 0, { what: 'both inboxes to empty' })
  for (const d of [a, b]) {
    const versions: any[] = (await call(d, 'history', { path: join(d.folder, 'c.txt') })).versions
    assert.ok(versions.some(v => v.hash === sha('c.txt edit on b')), `b's content of c.txt in ${d.name}'s history`)
  }
  await page.locator('[data-empty="conflicts"]').waitFor()
  assert.is(await page.locator('#conflict-count').isVisible(), false)

  // History: pick the path, see its versions, restore the first content with a click.
  await page.getByRole('tab', { name: 'History' }).click()
  await page.locator('#history-paths button[data-path="c.txt"]').click()
  const versionRows = page.locator('#history-versions tr[data-version]')
  await versionRows.first().waitFor()
  const shown = await versionRows.evaluateAll(rows => rows.map(r => (r as HTMLElement).dataset.hash))
  for (const text of ['c.txt edit on a', 'c.txt edit on b']) assert.ok(shown.includes(sha(text)), `a version of "${text}" listed`)
  // Restore b's content, which "Keep theirs" replaced.
  await page.locator(`#history-versions tr[data-hash="${sha('c.txt edit on b')}"]`).first().getByRole('button', { name: 'Restore' }).click()
  for (const d of [a, b]) {
    await waitFor(() => read(d, 'c.txt') === 'c.txt edit on b' && copies(d).length === 0, { what: `the restored c.txt on ${d.name}`, timeoutMs: 20_000 })
  }
  assert.match(await notice.textContent() ?? '', /Restored version \d+ of c\.txt/)
  // The restore is a new version, listed after the list reloads.
  await waitFor(async () => (await versionRows.count()) > shown.length, { what: 'the restore in the version list' })
  if (process.env.LANSYNC_SCREENSHOTS !== undefined) await page.screenshot({ path: join(process.env.LANSYNC_SCREENSHOTS, 'history.png') })
  assert.equal(pageErrors, [])
  await browser.close()
})

test('lansync dashboard on|off|url on a running agent; a port that is taken stops `start --dashboard`', async () => {
  // Off: `url` says how to turn it on. (CLI processes are few here: each costs seconds on a busy machine.)
  const off = await runCli(b.home, ['dashboard', 'url'])
  assert.is(off.code, 1, off.stderr)
  assert.is(off.stdout, '')
  assert.match(off.stderr, /the dashboard is off: turn it on with `lansync dashboard on`/)

  const portB = await freePort()
  const on = await cli(b.home, ['dashboard', 'on', '--port', String(portB)])
  assert.match(on.stdout, new RegExp(`Dashboard: serving on http://127\\.0\\.0\\.1:${portB}/`))
  // What `lansync dashboard url` asks the agent.
  const status = await call(b, 'dashboard.status')
  assert.is(status.isRunning, true)
  assert.is(status.port, portB)
  const tokenB = status.url.slice(status.url.indexOf('#token=') + 7)
  assert.is(tokenB, readFileSync(join(b.home, 'dashboard-token'), 'utf8').trim())
  assert.is.not(tokenB, token, 'each device has its own token')
  assert.is((await request(portB, '/api/status', { headers: { Authorization: `Bearer ${tokenB}` } })).json.deviceName, 'b')
  assert.is((await request(portB, '/api/status', { headers: auth() })).status, 401, "a's token does not open b's dashboard")

  const stopped = await cli(b.home, ['dashboard', 'off', '--json'])
  assert.equal(stopped.json, { isEnabled: false, isRunning: false, port: portB, isAgentRunning: true })
  const refused = await request(portB, '/api/status', { headers: { Authorization: `Bearer ${tokenB}` } }).catch(err => err.code)
  assert.is(refused, 'ECONNREFUSED')
  assert.equal(JSON.parse(readFileSync(join(b.home, 'config.json'), 'utf8')).dashboard, { isEnabled: false, port: portB })

  // `start --dashboard PORT` on a port another program holds: a clear error, no agent.
  await a.stop()
  const holder = net.createServer().listen(port, '127.0.0.1')
  onCleanup(() => { holder.close() })
  await new Promise(resolve => holder.once('listening', resolve))
  const taken = await runCli(a.home, ['start', '--no-mdns', '--listen', '127.0.0.1:0', '--dashboard', String(port)])
  assert.is(taken.code, 1, taken.stderr)
  assert.match(taken.stderr, new RegExp(`the dashboard cannot listen on 127\\.0\\.0\\.1:${port}: EADDRINUSE`))
  holder.close()
  await b.stop()
})

test.after(cleanupAll)
test.run()
