// Who may talk to the dashboard: the checks every request passes before it is served, as a pure
// function of its headers. The Host check defends against DNS rebinding (a page of another site
// whose name was re-pointed at 127.0.0.1), the Origin and Sec-Fetch-Site checks against other
// sites' pages posting to it, and the token against every other local program and user.
import { isTokenMatch } from './token.js'

export interface RequestFacts {
  method: string
  /** The path part of the URL, without the query. */
  pathname: string
  host?: string
  origin?: string
  secFetchSite?: string
  authorization?: string
}

export type Verdict = { isAllowed: true } | { isAllowed: false, status: 401 | 403 | 405, reason: string }

/** The names this server answers to: the loopback address it listens on, and localhost. */
export function allowedHosts (port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`]
}

export function allowedOrigins (port: number): string[] {
  return allowedHosts(port).map(h => `http://${h}`)
}

/**
 * Whether a request may be served. Static files (the page, its script and style) need no token
 * (they hold no data); everything under /api/ does, as `Authorization: Bearer TOKEN`.
 */
export function checkRequest (facts: RequestFacts, { port, token }: { port: number, token: string }): Verdict {
  const host = (facts.host ?? '').toLowerCase()
  if (!allowedHosts(port).includes(host)) {
    return { isAllowed: false, status: 403, reason: `this dashboard answers only to ${allowedHosts(port).join(' or ')}, not to Host "${facts.host ?? ''}"` }
  }
  if (facts.method !== 'GET' && facts.method !== 'HEAD' && facts.method !== 'POST') return { isAllowed: false, status: 405, reason: `${facts.method} is not allowed` }
  if (!facts.pathname.startsWith('/api/')) return { isAllowed: true }
  // Browsers send Origin with every POST; a page of another origin must never reach the API.
  if (facts.origin !== undefined && !allowedOrigins(port).includes(facts.origin.toLowerCase())) {
    return { isAllowed: false, status: 403, reason: `requests from ${facts.origin} are not allowed` }
  }
  if (facts.secFetchSite !== undefined && facts.secFetchSite !== 'same-origin' && facts.secFetchSite !== 'none') {
    return { isAllowed: false, status: 403, reason: `${facts.secFetchSite} requests are not allowed` }
  }
  const presented = /^Bearer ([^\s]+)$/.exec(facts.authorization ?? '')?.[1]
  if (!isTokenMatch(token, presented)) {
    return { isAllowed: false, status: 401, reason: presented === undefined ? 'no token: open the URL `lansync dashboard url` prints' : 'wrong token: open the URL `lansync dashboard url` prints' }
  }
  return { isAllowed: true }
}
