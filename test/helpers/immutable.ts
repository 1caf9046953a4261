// Denying writes even to root, for tests of what an agent does when it cannot write a path: the
// immutable attribute (chattr +i), which root's permission bits cannot override.
import { execFileSync } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from './cli.js'

/** Sets or clears the immutable attribute of `path`; a string (why) when it cannot be used here. */
export function setImmutable (path: string, isImmutable: boolean): string | undefined {
  try {
    execFileSync('chattr', [isImmutable ? '+i' : '-i', path], { stdio: 'pipe' })
    return undefined
  } catch (err) {
    return `chattr ${isImmutable ? '+i' : '-i'} failed (${(err as Error).message.split('\n')[0]})`
  }
}

/** Why immutable directories cannot deny a write here (not Linux, no chattr, a filesystem without the flag), or undefined. */
export function immutableUnavailable (): string | undefined {
  if (process.platform !== 'linux') return `chattr needs Linux (this is ${process.platform})`
  const dir = join(tempDir('lansync-chattr-probe-'), 'd')
  mkdirSync(dir)
  const why = setImmutable(dir, true)
  if (why !== undefined) return why
  let isDenied = false
  try { writeFileSync(join(dir, 'f'), 'x') } catch { isDenied = true }
  setImmutable(dir, false)
  return isDenied ? undefined : 'an immutable directory still accepts new files here'
}
