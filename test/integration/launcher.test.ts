// bin/lansync.js, the `lansync` command as installed: a shell script and an ES module in one file.
// Run as a command, it must become node (the same process) with the young-generation cap that
// M1's memory figure depends on; run as `node bin/lansync.js`, node must run it as plain
// JavaScript. Runs the build (dist/), which `npm ci` makes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { execFileSync, spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { basename, join } from 'node:path'
import { ROOT, cleanupAll, onCleanup, tempDir, waitFor } from '../helpers/cli.js'

const BIN = join(ROOT, 'bin/lansync.js')

function assertBuilt (): void {
  assert.ok(existsSync(join(ROOT, 'dist/cli/main.js')), 'dist/ is missing: run `npm run build` (npm ci does) before this test')
}

/** The environment of a running process, from /proc. */
function environment (pid: number): string[] {
  return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(a => a !== '')
}

/** The argv of a running process, from /proc. */
function commandLine (pid: number): string[] {
  return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(a => a !== '')
}

interface RunningAgent { pid: number, stop: () => Promise<void> }

/** Starts `lansync --home HOME start` as a command with `env`, and resolves once it is ready. */
async function startAsCommand (home: string, env: NodeJS.ProcessEnv): Promise<RunningAgent> {
  const child = spawn(BIN, ['--home', home, 'start', '--no-mdns', '--listen', '127.0.0.1:0'], { stdio: ['ignore', 'pipe', 'pipe'], env })
  let output = ''
  child.stdout.on('data', d => { output += d })
  child.stderr.on('data', d => { output += d })
  const exited = new Promise<number | null>(resolve => child.on('close', code => resolve(code)))
  onCleanup(() => { child.kill('SIGKILL') })
  await waitFor(() => output.includes(' ready'), { timeoutMs: 30_000, what: `the agent to start; output:\n${output}` })
  return {
    pid: child.pid as number,
    // SIGTERM stops it cleanly: exit code 0.
    stop: async () => { child.kill('SIGTERM'); assert.is(await exited, 0, output) }
  }
}

test('run as a command, the launcher execs node in its own process, with the young generation capped', async () => {
  assertBuilt()
  // Arguments reach the CLI as given, through sh ("$@"): spaces, quotes and $ untouched.
  const home = join(tempDir(), 'a home')
  const name = 'launcher "x" $HOME'
  assert.match(execFileSync(BIN, ['--home', home, 'init', '--name', name], { encoding: 'utf8' }), `Created device "${name}" in ${home}`)
  const env = { ...process.env }
  delete env.MALLOC_ARENA_MAX
  const agent = await startAsCommand(home, env)
  // exec: the pid spawned is node now, not a shell waiting on a child node.
  const argv = commandLine(agent.pid)
  assert.is(basename(argv[0]), 'node', argv.join(' '))
  assert.ok(argv.includes('--max-semi-space-size=4'), argv.join(' '))
  assert.is(argv[argv.indexOf('--max-semi-space-size=4') + 1], BIN)
  assert.equal(argv.slice(-6), ['--home', home, 'start', '--no-mdns', '--listen', '127.0.0.1:0'])
  // glibc's arenas limited to 2, as the caller did not choose.
  assert.ok(environment(agent.pid).includes('MALLOC_ARENA_MAX=2'), environment(agent.pid).join(' '))
  await agent.stop()
})

test('a MALLOC_ARENA_MAX the caller set is kept', async () => {
  assertBuilt()
  const home = join(tempDir(), 'home')
  execFileSync(BIN, ['--home', home, 'init', '--name', 'arenas'])
  const agent = await startAsCommand(home, { ...process.env, MALLOC_ARENA_MAX: '5' })
  const env = environment(agent.pid)
  assert.ok(env.includes('MALLOC_ARENA_MAX=5'), env.join(' '))
  assert.not.ok(env.includes('MALLOC_ARENA_MAX=2'))
  await agent.stop()
})

test('run by node, the launcher is plain JavaScript: same commands, same exit codes', () => {
  assertBuilt()
  const home = join(tempDir(), 'home')
  const out = execFileSync(process.execPath, [BIN, '--home', home, 'init', '--name', 'by-node'], { encoding: 'utf8' })
  assert.match(out, /[A-Z0-9]{7}-/) // the new device's ID
  const id = execFileSync(BIN, ['--home', home, 'id'], { encoding: 'utf8' })
  assert.ok(out.includes(id.trim()), `${out} / ${id}`)
  // A bad command fails the same way either way, with the CLI's own message and exit code.
  const [asCommand, byNode] = [[BIN], [process.execPath, BIN]].map(argv =>
    spawnSync(argv[0], [...argv.slice(1), '--home', home, 'no-such-command'], { encoding: 'utf8' }))
  for (const r of [asCommand, byNode]) {
    assert.is.not(r.status, 0)
    assert.match(r.stderr, /Unknown argument: no-such-command/)
  }
  assert.is(asCommand.status, byNode.status)
})

test.after(cleanupAll)
test.run()
