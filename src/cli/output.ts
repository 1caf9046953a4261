// How commands speak: one JSON document with --json, readable lines otherwise; progress bars
// only on a terminal; every expected error as one clear line and a non-zero exit code.
import cliProgress from 'cli-progress'
import { isLansyncError, type ErrorCode } from '../errors.js'

export interface OutputOptions { json: boolean }

export function print (options: OutputOptions, value: unknown, human: () => string): void {
  if (options.json) process.stdout.write(JSON.stringify(value, null, 2) + '\n')
  else {
    const text = human()
    if (text !== '') process.stdout.write(text.endsWith('\n') ? text : text + '\n')
  }
}

/** Exit codes: 2 for a bad argument, 3 when the thing asked for does not exist, 1 for other refusals. */
const EXIT_CODES: Partial<Record<ErrorCode, number>> = {
  ARG_INVALID: 2, DEVICE_ID_INVALID: 2, PATH_INVALID: 2, PAIR_CODE_INVALID: 2,
  VERSION_NOT_FOUND: 3, CONFLICT_NOT_FOUND: 3, PATH_NOT_FOUND: 3, FOLDER_NOT_FOUND: 3, DEVICE_NOT_FOUND: 3, PATH_NOT_IN_FOLDER: 3
}

/** Reports an error the way the CLI promises; returns the exit code. */
export function reportError (err: unknown, json: boolean): number {
  if (isLansyncError(err)) {
    if (json) process.stdout.write(JSON.stringify({ error: { code: err.code, message: err.message } }) + '\n')
    process.stderr.write(`lansync: ${err.message}\n`)
    return EXIT_CODES[err.code] ?? 1
  }
  // Not a LansyncError: a bug. Show everything.
  process.stderr.write(`lansync: internal error (please report it)\n${(err as Error)?.stack ?? String(err)}\n`)
  return 70
}

export interface Bar { update: (done: number, total: number) => void, stop: () => void }

/** A byte progress bar on stderr when it is a terminal and output is not JSON; otherwise silent. */
export function progressBar (options: OutputOptions, label: string): Bar {
  if (options.json || process.stderr.isTTY !== true) return { update: () => {}, stop: () => {} }
  const bar = new cliProgress.SingleBar({
    format: `${label} [{bar}] {percentage}% | {doneText} / {totalText}`,
    stream: process.stderr,
    hideCursor: true
  }, cliProgress.Presets.shades_classic)
  let isStarted = false
  return {
    update (done, total) {
      const payload = { doneText: formatBytes(done), totalText: formatBytes(total) }
      if (!isStarted) { bar.start(Math.max(total, 1), done, payload); isStarted = true }
      bar.setTotal(Math.max(total, 1))
      bar.update(done, payload)
    },
    stop () { if (isStarted) bar.stop() }
  }
}

export function formatBytes (n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024; let i = 0
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return `${v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`
}

export function table (rows: string[][]): string {
  if (rows.length === 0) return ''
  const widths = rows[0].map((_, c) => Math.max(...rows.map(r => (r[c] ?? '').length)))
  return rows.map(r => r.map((cell, c) => c === r.length - 1 ? cell : cell.padEnd(widths[c])).join('  ')).join('\n')
}
