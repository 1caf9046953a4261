// The dashboard's access token: 32 random bytes (base64url), created once and kept in the lansync
// home readable by this user only. Whoever has it can resolve conflicts and restore files, like
// whoever can reach the control socket.
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { chmodSync, readFileSync, statSync } from 'node:fs'
import { homePaths, writeFileAtomic } from '../config.js'

const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/

/**
 * The token of this home, created (mode 0600) when there is none or the file does not hold one.
 * A token file others could read is narrowed to 0600 on load.
 */
export function loadOrCreateToken (home: string): string {
  const file = homePaths(home).dashboardToken
  let text: string | undefined
  try { text = readFileSync(file, 'utf8').trim() } catch {}
  if (text !== undefined && TOKEN_PATTERN.test(text)) {
    if ((statSync(file).mode & 0o077) !== 0) chmodSync(file, 0o600)
    return text
  }
  const token = randomBytes(32).toString('base64url')
  writeFileAtomic(file, token + '\n', 0o600)
  chmodSync(file, 0o600) // the umask may have narrowed nothing, but it may have been set oddly
  return token
}

/** Constant-time comparison of a presented token with the real one. */
export function isTokenMatch (expected: string, presented: string | undefined): boolean {
  if (presented === undefined) return false
  const a = Buffer.from(expected, 'utf8')
  const b = Buffer.from(presented, 'utf8')
  return a.length === b.length && timingSafeEqual(a, b)
}
