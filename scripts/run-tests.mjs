#!/usr/bin/env node
// Runs every test file under test/ (or those named on the command line) as its own Node process
// with the tsx loader, so that each file starts clean, and sums uvu's per-file totals into the
// plain closing line CI counts: "N passed, N failed, N skipped".
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'

const root = new URL('..', import.meta.url).pathname
const args = process.argv.slice(2)
const jobs = Number(process.env.TEST_JOBS ?? 2)
// A file that runs longer than this is killed with everything it started (agents included) and
// counted as failed, so one hung test can never hold CI past its deadline.
const fileTimeoutMs = Number(process.env.TEST_FILE_TIMEOUT_S ?? 240) * 1000

function findTests (dir) {
  const out = []
  for (const name of readdirSync(dir).sort()) {
    const full = join(dir, name)
    if (statSync(full).isDirectory()) out.push(...findTests(full))
    else if (name.endsWith('.test.ts')) out.push(full)
  }
  return out
}

const files = args.length > 0
  ? args.flatMap(a => statSync(a).isDirectory() ? findTests(a) : [a])
  : findTests(join(root, 'test'))

// Unit tests are cheap and run `TEST_JOBS` at a time. Tests that start agents or namespaces spend
// most of their time waiting on the agents (sync, timeouts, polling), so `TEST_AGENT_JOBS` of them
// (default 2) run at once after the unit tests: every such test uses its own temp dirs, free ports
// and namespaces, so they do not meet.
const agentJobs = Number(process.env.TEST_AGENT_JOBS ?? 2)
const isSerial = f => !f.includes('/unit/')
const running = new Set()
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => { for (const pid of running) { try { process.kill(-pid, 'SIGKILL') } catch {} } process.exit(130) })
}
let passed = 0; let failed = 0; let skipped = 0
const failures = []

function runFile (file) {
  return new Promise(resolve => {
    const started = Date.now()
    // Agents the file starts write their output here too (test/helpers/cli.ts), so that a failure
    // in CI shows what the agents were doing, not only which wait timed out.
    const logDir = mkdtempSync(join(tmpdir(), 'lansync-test-logs-'))
    const child = spawn(process.execPath, ['--import', 'tsx', file], {
      cwd: root, env: { ...process.env, FORCE_COLOR: '0', NO_COLOR: '1', LANSYNC_TEST_LOG_DIR: logDir }, stdio: ['ignore', 'pipe', 'pipe'], detached: true
    })
    running.add(child.pid)
    let isTimedOut = false
    const killGroup = () => { try { process.kill(-child.pid, 'SIGKILL') } catch {} }
    const timer = setTimeout(() => { isTimedOut = true; killGroup() }, fileTimeoutMs)
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    child.on('close', code => {
      clearTimeout(timer)
      running.delete(child.pid)
      killGroup() // agents a test forgot to stop must not outlive it
      if (isTimedOut) out += `\nkilled: the file ran longer than ${fileTimeoutMs / 1000} s (TEST_FILE_TIMEOUT_S)`
      const total = Number(/Total:\s+(\d+)/.exec(out)?.[1] ?? 0)
      const ok = Number(/Passed:\s+(\d+)/.exec(out)?.[1] ?? 0)
      const skip = Number(/Skipped:\s+(\d+)/.exec(out)?.[1] ?? 0)
      let bad = Math.max(0, total - ok - skip) // uvu counts a skipped test in Skipped but not in Total
      if ((code !== 0 || isTimedOut) && bad === 0) bad = 1 // crashed outside a test: count the file as one failure
      passed += ok; failed += bad; skipped += skip
      const name = relative(root, file)
      const secs = ((Date.now() - started) / 1000).toFixed(1)
      console.log(`${bad > 0 ? 'FAIL' : 'ok  '} ${name} (${ok} passed, ${bad} failed${skip ? `, ${skip} skipped` : ''}, ${secs}s)`)
      if (bad > 0 || process.env.TEST_VERBOSE) {
        failures.push(name)
        console.log(out.split('\n').map(l => '    ' + l).join('\n'))
        if (bad > 0) printAgentLogs(logDir)
      }
      else {
        // Surface skip reasons, which tests print as lines starting with "SKIP".
        for (const line of out.split('\n')) if (line.startsWith('SKIP')) console.log('    ' + line)
      }
      rmSync(logDir, { recursive: true, force: true })
      resolve()
    })
  })
}

/** The last lines of each agent log of a failed file. */
function printAgentLogs (logDir) {
  for (const name of readdirSync(logDir).sort()) {
    const lines = readFileSync(join(logDir, name), 'utf8').trimEnd().split('\n')
    console.log(`    --- agent log ${name} (last ${Math.min(lines.length, 60)} of ${lines.length} lines)`)
    console.log(lines.slice(-60).map(l => '    | ' + l).join('\n'))
  }
}

async function runAll (list, width) {
  const queue = [...list]
  await Promise.all(Array.from({ length: Math.max(1, width) }, async () => {
    while (queue.length > 0) await runFile(queue.shift())
  }))
}
await runAll(files.filter(f => !isSerial(f)), jobs)
await runAll(files.filter(isSerial), agentJobs)

if (failures.length > 0) console.log(`\nfailed files:\n  ${failures.join('\n  ')}`)
console.log(`\n${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`)
process.exit(failed > 0 ? 1 : 0)
