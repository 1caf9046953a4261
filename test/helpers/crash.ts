// Shared by the crash tests: waiting for an agent to die at its crash point, and a mix of files
// (several blocks and one) for a crash to land between blocks as well as between files.
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { waitFor } from './cli.js'
import type { Device } from './cluster.js'
import type { Ledger } from './ledger.js'
import type { CrashPoint } from '../../src/fault.js'

export async function killedAt (device: Device, point: CrashPoint): Promise<void> {
  const agent = device.agent
  if (agent === undefined) throw new Error(`${device.name} is not running`)
  await waitFor(() => agent.child.signalCode === 'SIGKILL', { timeoutMs: 30_000, what: `${device.name} to die at ${point}\n${agent.output()}` })
  assert.match(agent.output(), new RegExp(`crash point ${point} reached`))
  device.agent = undefined
}

/** Files of several blocks and of one, so a crash lands between blocks as well as between files. */
export function writeSome (ledger: Ledger, device: Device, tag: string): void {
  ledger.write(device, `big-${tag}.bin`, randomBytes(1024 * 1024 + 123))
  ledger.write(device, `dir/small-${tag}.txt`, `small ${tag}`)
  ledger.write(device, `dir/sub/other-${tag}.txt`, `other ${tag}`)
}
