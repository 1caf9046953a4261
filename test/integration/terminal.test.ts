// `lansync start` on a terminal (a real pty, via script(1)) shows progress bars for transfers and
// keeps its log lines readable above them; off a terminal it prints log lines only.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { spawn, spawnSync } from 'node:child_process'
import { cleanupAll, onCleanup, waitFor, ROOT } from '../helpers/cli.js'
import { makeCluster, waitConverged } from '../helpers/cluster.js'

const hasScript = spawnSync('script', ['--version']).status === 0

test('start on a terminal draws a bar for what it receives', async () => {
  if (!hasScript) { console.log('SKIP terminal test: script(1) from util-linux is not installed'); return }
  const [a, b] = await makeCluster(['a', 'b'])
  for (let i = 0; i < 32; i++) writeFileSync(join(b.folder, `f${i}.bin`), randomBytes(4 * 1024 * 1024))
  await b.start()
  const command = `exec ${process.execPath} --import tsx ${join(ROOT, 'src/cli/main.ts')} --home ${a.home} start --listen 127.0.0.1:${a.port}`
  const child = spawn('script', ['-qfec', command, '/dev/null'], { cwd: ROOT, stdio: ['pipe', 'pipe', 'pipe'], detached: true, env: { ...process.env, COLUMNS: '120', LINES: '40' } })
  const stop = (): void => { try { process.kill(-(child.pid as number), 'SIGKILL') } catch {} }
  onCleanup(stop)
  let screen = ''
  child.stdout.on('data', d => { screen += d })
  await waitFor(() => screen.includes(' ready'), { what: 'the agent on the pty to start', timeoutMs: 30_000 })
  await waitConverged([a, b], { timeoutMs: 90_000 })
  // The total is what is known to be missing when the bar is drawn: all 128 MiB, or (when the
  // manifest comes in more than one batch on a slow machine) a part of it.
  assert.match(screen, /↓ docs from b \[[█░]+\] +\d+% \| [\d.]+ (B|KiB|MiB) \/ [\d.]+ MiB/, `a transfer bar with the total to receive; the screen:\n${screen}`)
  assert.match(screen, /connected to b at 127\.0\.0\.1/, 'log lines still print')
  assert.match(screen, /\u001b\[\?25l/, 'drawn as a live bar (cursor hidden while drawing)')
  stop()
  await b.stop()
  // Off a terminal: log lines only, no escape sequences.
  const piped = b.agent === undefined ? await b.start() : b.agent
  await waitFor(() => piped.output().includes('ready'))
  assert.not.match(piped.output(), /\u001b\[/)
  await b.stop()
})

test.after(cleanupAll)
test.run()
