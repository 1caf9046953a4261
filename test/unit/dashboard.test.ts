// The dashboard's pure request checks (Host, Origin, Sec-Fetch-Site, token), its token file, its
// config block and the port argument.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { chmodSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { execFileSync } from 'node:child_process'
import { checkRequest, type RequestFacts } from '../../src/dashboard/request-guard.js'
import { isTokenMatch, loadOrCreateToken } from '../../src/dashboard/token.js'
import { defaultConfig, loadConfig, saveConfig } from '../../src/config.js'
import { parsePort } from '../../src/cli/dashboard.js'
import { isLansyncError } from '../../src/errors.js'
import { WEB_DIR } from '../../src/dashboard/server.js'
import { ROOT, cleanupAll, tempDir } from '../helpers/cli.js'

const TOKEN = 'A'.repeat(43)
const PORT = 22180
const base: RequestFacts = { method: 'GET', pathname: '/api/status', host: `127.0.0.1:${PORT}`, authorization: `Bearer ${TOKEN}` }

test('checkRequest: who may reach the page and the API', () => {
  const cases: Array<[string, Partial<RequestFacts>, true | 401 | 403 | 405]> = [
    ['the token, to 127.0.0.1', {}, true],
    ['the token, to localhost', { host: `localhost:${PORT}` }, true],
    ['Host case does not matter', { host: `LOCALHOST:${PORT}` }, true],
    ['a same-origin POST', { method: 'POST', origin: `http://127.0.0.1:${PORT}`, secFetchSite: 'same-origin' }, true],
    ['a POST without Origin (a program, not a browser)', { method: 'POST' }, true],
    ['typed in the address bar', { secFetchSite: 'none' }, true],
    ['the page needs no token', { pathname: '/', authorization: undefined }, true],
    ['HEAD of the page', { method: 'HEAD', pathname: '/', authorization: undefined }, true],
    ['no token', { authorization: undefined }, 401],
    ['a wrong token', { authorization: `Bearer ${'B'.repeat(43)}` }, 401],
    ['a shorter token', { authorization: `Bearer ${TOKEN.slice(1)}` }, 401],
    ['the token without Bearer', { authorization: TOKEN }, 401],
    ['the token with trailing text', { authorization: `Bearer ${TOKEN} x` }, 401],
    ['another name (DNS rebinding)', { host: `evil.example:${PORT}` }, 403],
    ['another name, page', { host: 'evil.example', pathname: '/' }, 403],
    ['another port', { host: `127.0.0.1:${PORT + 1}` }, 403],
    ['no port', { host: '127.0.0.1' }, 403],
    ['no Host', { host: undefined }, 403],
    ['0.0.0.0', { host: `0.0.0.0:${PORT}` }, 403],
    ['a cross-origin POST', { method: 'POST', origin: 'http://evil.example' }, 403],
    ['a POST from the same host, other port', { method: 'POST', origin: `http://127.0.0.1:${PORT + 1}` }, 403],
    ['a POST from https', { method: 'POST', origin: `https://127.0.0.1:${PORT}` }, 403],
    ['Origin null (a sandboxed frame, a file:// page)', { method: 'POST', origin: 'null' }, 403],
    ['a cross-site fetch', { secFetchSite: 'cross-site' }, 403],
    ['a same-site fetch (another port)', { secFetchSite: 'same-site' }, 403],
    ['PUT', { method: 'PUT' }, 405],
    ['DELETE of the page', { method: 'DELETE', pathname: '/' }, 405]
  ]
  for (const [what, change, expected] of cases) {
    const verdict = checkRequest({ ...base, ...change }, { port: PORT, token: TOKEN })
    if (expected === true) assert.ok(verdict.isAllowed, `${what}: ${JSON.stringify(verdict)}`)
    else {
      assert.not.ok(verdict.isAllowed, what)
      if (!verdict.isAllowed) { assert.is(verdict.status, expected, what); assert.ok(verdict.reason.length > 0) }
    }
  }
})

test('isTokenMatch: only the same token', () => {
  assert.ok(isTokenMatch(TOKEN, TOKEN))
  assert.not.ok(isTokenMatch(TOKEN, undefined))
  assert.not.ok(isTokenMatch(TOKEN, ''))
  assert.not.ok(isTokenMatch(TOKEN, TOKEN + 'A'))
  assert.not.ok(isTokenMatch(TOKEN, 'Á'.repeat(43)), 'same length in characters, not in bytes')
})

test('the token file: created once with mode 0600, kept, narrowed, replaced when it holds no token', () => {
  const home = tempDir()
  const file = join(home, 'dashboard-token')
  const token = loadOrCreateToken(home)
  assert.match(token, /^[A-Za-z0-9_-]{43}$/)
  assert.is(statSync(file).mode & 0o777, 0o600)
  assert.is(loadOrCreateToken(home), token, 'the same token on every load')
  assert.is.not(loadOrCreateToken(tempDir()), token, 'another home, another token')
  chmodSync(file, 0o644)
  assert.is(loadOrCreateToken(home), token)
  assert.is(statSync(file).mode & 0o777, 0o600, 'a token others could read is narrowed')
  writeFileSync(file, 'short\n')
  const fresh = loadOrCreateToken(home)
  assert.match(fresh, /^[A-Za-z0-9_-]{43}$/)
  assert.is(readFileSync(file, 'utf8').trim(), fresh)
  assert.is(statSync(file).mode & 0o777, 0o600)
})

test('config: the dashboard block has defaults, is validated, and round-trips', () => {
  const home = tempDir()
  const config = defaultConfig()
  assert.equal(config.dashboard, { isEnabled: false, port: 22180 })
  saveConfig(home, { ...config, dashboard: { isEnabled: true, port: 0 } })
  assert.equal(loadConfig(home).dashboard, { isEnabled: true, port: 0 })
  // An older config without the block gets the defaults.
  const { dashboard: _, ...old } = config
  writeFileSync(join(home, 'config.json'), JSON.stringify(old))
  assert.equal(loadConfig(home).dashboard, { isEnabled: false, port: 22180 })
  for (const [bad, message] of [
    [{ isEnabled: 'yes', port: 1 }, /dashboard\.isEnabled must be true or false/],
    [{ isEnabled: true, port: 70000 }, /dashboard\.port must be a port number from 0 to 65535/],
    [{ isEnabled: true, port: 1.5 }, /dashboard\.port/],
    [{ isEnabled: true, port: '80' }, /dashboard\.port/],
    ['on', /dashboard must be an object/]
  ] as const) {
    writeFileSync(join(home, 'config.json'), JSON.stringify({ ...config, dashboard: bad }))
    try {
      loadConfig(home)
      assert.unreachable(`accepted ${JSON.stringify(bad)}`)
    } catch (err) {
      assert.ok(isLansyncError(err, 'CONFIG_INVALID'), String(err))
      assert.match((err as Error).message, message)
    }
  }
})

test('parsePort: 0 to 65535, else ARG_INVALID', () => {
  assert.is(parsePort('0'), 0)
  assert.is(parsePort('22180'), 22180)
  assert.is(parsePort(' 65535 '), 65535)
  for (const bad of ['65536', '-1', '', 'abc', '1e3', '80.5', undefined]) {
    try {
      parsePort(bad, '--port')
      assert.unreachable(`accepted ${String(bad)}`)
    } catch (err) {
      assert.ok(isLansyncError(err, 'ARG_INVALID'), String(err))
      assert.match((err as Error).message, /--port must be a port number from 0 to 65535/)
    }
  }
})

test('the page is where the server looks for it, from src/ and from dist/, and in the published package', () => {
  assert.is(WEB_DIR, join(ROOT, 'src/dashboard/web/'))
  const packed = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--ignore-scripts', '--json'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }))
  const files: string[] = packed[0].files.map((f: { path: string }) => f.path)
  for (const name of ['index.html', 'app.js', 'app.css']) assert.ok(files.includes(`src/dashboard/web/${name}`), `${name} in the package`)
  // dist/dashboard/server.js resolves the same ../../src/dashboard/web/ as src/dashboard/server.ts.
  assert.ok(files.includes('bin/lansync.js'))
  // The build (which `npm ci` runs) is published too: bin/lansync.js runs it.
  if (existsSync(join(ROOT, 'dist/dashboard/server.js'))) assert.ok(files.includes('dist/dashboard/server.js'), 'the build in the package')
})

test.after(cleanupAll)
test.run()
