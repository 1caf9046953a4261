// A hand-driven peer for tests: reads the agent's frames off a real Noise connection and hands
// each decoded message to the test, which answers (or misbehaves) as it likes.
import { Packr } from 'msgpackr'
import type { Connection } from '../../src/net/transport.js'
import { encodeFrame } from '../../src/protocol/framing.js'
import { encodeMessage } from '../../src/protocol/codec.js'
import type { Message } from '../../src/protocol/messages.js'

const packr = new Packr({ useRecords: false })

/** Calls `onMessage` with every message the agent sends (raw msgpack maps, not validated). */
export function onMessages (conn: Connection, onMessage: (message: any) => void): void {
  let buffered = Buffer.alloc(0)
  conn.on('data', (chunk: Buffer) => {
    buffered = Buffer.concat([buffered, chunk])
    while (buffered.length >= 4 && buffered.length >= 4 + buffered.readUInt32BE(0)) {
      const n = buffered.readUInt32BE(0)
      const message = packr.unpack(buffered.subarray(4, 4 + n))
      buffered = buffered.subarray(4 + n)
      onMessage(message)
    }
  })
}

/** Sends one well-formed message. */
export function sendMessage (conn: Connection, message: Message): void {
  conn.send(encodeFrame(encodeMessage(message)))
}
