// Run as its own process by test/unit/heap.test.ts: makes 400 MiB of short-lived buffers with
// few JS objects besides, as a transfer does (each of the last 128 is still held, like blocks in
// flight), and prints the most external memory V8 held at once. With `collect`, the agent's
// collectDeadBuffersEarly runs first.
import { getHeapStatistics } from 'node:v8'
import { collectDeadBuffersEarly } from '../../src/heap.js'

if (process.argv[2] === 'collect') collectDeadBuffersEarly()
const base = getHeapStatistics().external_memory
let most = 0
const held: Buffer[] = new Array(128)
let n = 0
const sleep = async (ms: number): Promise<void> => await new Promise(resolve => setTimeout(resolve, ms))
for (let i = 0; i < 400; i++) {
  for (let k = 0; k < 16; k++) held[n++ % held.length] = Buffer.allocUnsafe(64 * 1024) // 1 MiB; the oldest dropped
  most = Math.max(most, getHeapStatistics().external_memory - base)
  await sleep(4)
}
process.stdout.write(`${most}\n`)
// The collector's timer must not keep the process alive: it exits here by itself.
