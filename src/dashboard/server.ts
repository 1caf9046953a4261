// The local web dashboard: a small HTTP server on 127.0.0.1 that serves one static page and a JSON
// API over the agent's own operations (the ones the control socket runs: status, conflicts and
// their resolution, history and restore). It adds no logic of its own beyond mapping a folder and a
// folder-relative path to the path on disk those operations take. Every request passes
// request-guard.ts first.
import http from 'node:http'
import { readFileSync } from 'node:fs'
import { resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { Config } from '../config.js'
import { joinFolderPath } from '../core/paths.js'
import { LansyncError, isLansyncError } from '../errors.js'
import { findFolder } from '../ops/locate.js'
import { checkRequest } from './request-guard.js'

/**
 * The page's files. The same path from src/dashboard/ (run with tsx) and from dist/dashboard/ (the
 * build): the files stay in src/, which the published package includes.
 */
export const WEB_DIR = fileURLToPath(new URL('../../src/dashboard/web/', import.meta.url))
const STATIC_FILES: Record<string, { file: string, type: string }> = {
  '/': { file: 'index.html', type: 'text/html; charset=utf-8' },
  '/app.js': { file: 'app.js', type: 'text/javascript; charset=utf-8' },
  '/app.css': { file: 'app.css', type: 'text/css; charset=utf-8' }
}
const MAX_BODY_BYTES = 64 * 1024
const SECURITY_HEADERS = {
  'Content-Security-Policy': "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  'X-Frame-Options': 'DENY',
  'X-Content-Type-Options': 'nosniff',
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-store'
}

export interface DashboardOptions {
  /** Port on 127.0.0.1; 0 takes any free one (see `port` after `listen()`). */
  port: number
  token: string
  /** The agent's operation entry point (Agent.call). */
  call: (method: string, params: object) => Promise<unknown>
  config: () => Config
  log: (line: string) => void
}

export class DashboardServer {
  private readonly options: DashboardOptions
  private server: http.Server | undefined
  private boundPort = 0
  private files = new Map<string, { body: Buffer, type: string }>()

  constructor (options: DashboardOptions) {
    this.options = options
  }

  /** The port it listens on (after `listen()`). */
  get port (): number { return this.boundPort }

  /** The address to open, with the token in the fragment (which browsers never send to a server). */
  get url (): string { return dashboardUrl(this.boundPort, this.options.token) }

  /** Binds 127.0.0.1 only. Throws DASHBOARD_LISTEN when the port is taken or the page is missing. */
  async listen (): Promise<void> {
    if (this.server !== undefined) return
    for (const [route, { file, type }] of Object.entries(STATIC_FILES)) {
      try {
        this.files.set(route, { body: readFileSync(resolve(WEB_DIR, file)), type })
      } catch (err) {
        throw new LansyncError('DASHBOARD_LISTEN', `the dashboard page is missing from this install (${resolve(WEB_DIR, file)})`, { cause: err })
      }
    }
    const server = http.createServer((req, res) => { void this.handle(req, res) })
    server.headersTimeout = 10_000
    server.requestTimeout = 30_000
    await new Promise<void>((resolve, reject) => {
      server.once('error', err => reject(new LansyncError('DASHBOARD_LISTEN', `the dashboard cannot listen on 127.0.0.1:${this.options.port}: ${(err as NodeJS.ErrnoException).code ?? err.message}`, { cause: err })))
      server.listen(this.options.port, '127.0.0.1', () => { server.removeAllListeners('error'); resolve() })
    })
    server.on('error', err => this.options.log(`dashboard: ${err.message}`))
    this.boundPort = (server.address() as { port: number }).port
    this.server = server
  }

  async close (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    server.closeAllConnections()
    await new Promise<void>(resolve => server.close(() => resolve()))
  }

  private async handle (req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let pathname: string
    let query: URLSearchParams
    try {
      const url = new URL(req.url ?? '/', 'http://127.0.0.1')
      pathname = url.pathname
      query = url.searchParams
    } catch {
      sendJson(res, 400, { error: { code: 'BAD_REQUEST', message: 'unreadable URL' } })
      return
    }
    const verdict = checkRequest({
      method: req.method ?? '',
      pathname,
      host: req.headers.host,
      origin: req.headers.origin,
      secFetchSite: header(req, 'sec-fetch-site'),
      authorization: req.headers.authorization
    }, { port: this.boundPort, token: this.options.token })
    if (!verdict.isAllowed) {
      const code = verdict.status === 401 ? 'UNAUTHORIZED' : verdict.status === 405 ? 'METHOD_NOT_ALLOWED' : 'FORBIDDEN'
      if (verdict.status === 401) res.setHeader('WWW-Authenticate', 'Bearer realm="lansync"')
      sendJson(res, verdict.status, { error: { code, message: verdict.reason } })
      req.resume()
      return
    }
    try {
      if (!pathname.startsWith('/api/')) { this.serveStatic(req, res, pathname); return }
      const result = await this.route(req, pathname, query)
      sendJson(res, 200, result ?? null)
    } catch (err) {
      if (err instanceof HttpError) { sendJson(res, err.status, { error: { code: err.code, message: err.message } }); return }
      if (isLansyncError(err)) { sendJson(res, statusOf(err.code), { error: { code: err.code, message: err.message } }); return }
      this.options.log(`dashboard: internal error: ${(err as Error)?.stack ?? String(err)}`)
      sendJson(res, 500, { error: { code: 'INTERNAL', message: 'internal error (see the agent log)' } })
    }
  }

  private serveStatic (req: http.IncomingMessage, res: http.ServerResponse, pathname: string): void {
    const file = this.files.get(pathname === '/index.html' ? '/' : pathname)
    if (file === undefined || (req.method !== 'GET' && req.method !== 'HEAD')) {
      sendJson(res, 404, { error: { code: 'NOT_FOUND', message: `no ${req.method ?? ''} ${pathname}` } })
      return
    }
    res.writeHead(200, { ...SECURITY_HEADERS, 'Content-Type': file.type, 'Content-Length': file.body.length })
    res.end(file.body)
  }

  /** The API: each route is one agent operation. */
  private async route (req: http.IncomingMessage, pathname: string, query: URLSearchParams): Promise<unknown> {
    const { call } = this.options
    const route = `${req.method ?? ''} ${pathname}`
    switch (route) {
      case 'GET /api/status': return await call('status', {})
      case 'GET /api/conflicts': return await call('conflicts', {})
      case 'GET /api/paths':
        return await call('history.paths', { folder: required(query.get('folder'), 'folder'), filter: query.get('filter') ?? '' })
      case 'GET /api/history':
        return await call('history', { path: this.diskPath(query.get('folder'), query.get('path')) })
      case 'POST /api/conflicts/resolve': {
        const body = await readJson(req)
        return await call('conflicts.resolve', { path: this.diskPath(body.folder, body.path), keep: required(body.keep, 'keep') })
      }
      case 'POST /api/restore': {
        const body = await readJson(req)
        if (!Number.isInteger(body.version) || body.version < 1) throw new LansyncError('ARG_INVALID', `version must be a version number (1 or more), not ${JSON.stringify(body.version)}`)
        return await call('restore', { path: this.diskPath(body.folder, body.path), version: body.version })
      }
      default: throw new HttpError(404, 'NOT_FOUND', `no API ${route}`)
    }
  }

  /** A folder (id or label) and a path inside it, as the path on disk the operations take. */
  private diskPath (folderName: unknown, relPath: unknown): string {
    const folder = findFolder(this.options.config(), required(folderName, 'folder'))
    return joinFolderPath(resolve(folder.path), required(relPath, 'path'))
  }
}

export function dashboardUrl (port: number, token: string): string {
  return `http://127.0.0.1:${port}/#token=${token}`
}

class HttpError extends Error {
  constructor (readonly status: number, readonly code: string, message: string) { super(message) }
}

function required (value: unknown, what: string): string {
  if (typeof value !== 'string' || value === '') throw new LansyncError('ARG_INVALID', `${what} is required (text)`)
  return value
}

function header (req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name]
  return Array.isArray(value) ? value[0] : value
}

/** The request's JSON object body (at most 64 KiB, Content-Type application/json). */
async function readJson (req: http.IncomingMessage): Promise<Record<string, any>> {
  if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
    req.resume()
    throw new HttpError(415, 'UNSUPPORTED_MEDIA_TYPE', 'send the body as application/json')
  }
  const text = await new Promise<string>((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    // Past the limit the rest is read and dropped, and the answer waits for its end: a socket
    // closed with unread bytes is reset, and the reset could destroy the answer before it is read.
    // The server's request timeout bounds how long that takes.
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size > MAX_BODY_BYTES) chunks.length = 0
      else chunks.push(chunk)
    })
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) reject(new HttpError(413, 'TOO_LARGE', `the body is larger than ${MAX_BODY_BYTES} bytes`))
      else resolve(Buffer.concat(chunks).toString('utf8'))
    })
    req.on('error', reject)
  })
  let body: unknown
  try { body = JSON.parse(text) } catch { throw new HttpError(400, 'BAD_REQUEST', 'the body is not JSON') }
  if (body === null || typeof body !== 'object' || Array.isArray(body)) throw new HttpError(400, 'BAD_REQUEST', 'the body must be a JSON object')
  return body as Record<string, any>
}

function statusOf (code: string): number {
  if (code === 'ARG_INVALID' || code === 'PATH_INVALID') return 400
  if (code.endsWith('_NOT_FOUND') || code === 'PATH_NOT_IN_FOLDER') return 404
  return 409
}

function sendJson (res: http.ServerResponse, status: number, value: unknown): void {
  if (res.headersSent) { res.destroy(); return }
  const body = Buffer.from(JSON.stringify(value))
  // A request whose body was not read whole (refused, or too large) ends its connection.
  const isBodyLeft = !res.req.complete
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': body.length, ...(isBodyLeft ? { Connection: 'close' } : {}) })
  res.end(body)
}
