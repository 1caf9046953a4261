// A small disk for full-disk tests: a tmpfs mounted over a directory (the tests run as root).
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, rmSync } from 'node:fs'
import { onCleanup, tempDir } from './cli.js'

export interface SmallDisk { resize: (mib: number) => void }

/**
 * Mounts a tmpfs of `sizeMiB` over `dir`, keeping what `dir` held, unmounted at cleanup; a string
 * (why) when mounting is not allowed here.
 */
export function mountSmallDisk (dir: string, sizeMiB: number): SmallDisk | string {
  mkdirSync(dir, { recursive: true })
  const saved = tempDir('lansync-small-disk-saved-')
  cpSync(dir, saved, { recursive: true })
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    return `cannot mount a tmpfs (${(err as Error).message.split('\n')[0]})`
  }
  onCleanup(() => { try { execFileSync('umount', ['-l', dir], { stdio: 'pipe' }) } catch {} })
  cpSync(saved, dir, { recursive: true })
  rmSync(saved, { recursive: true, force: true })
  return { resize: mib => { execFileSync('mount', ['-o', `remount,size=${mib}m`, dir], { stdio: 'pipe' }) } }
}
