// The receiving end of the secret-stream ceiling (ceilings.ts), in its own process as a receiving
// agent is: listens on 127.0.0.1 (a free port, printed as "listening PORT"), takes one connection,
// decrypts the number of bytes given as its argument, answers one byte, prints "cpu MICROSECONDS"
// (its user + system CPU from the first byte received to the last), and exits.
import net from 'node:net'
import NoiseSecretStream from '@hyperswarm/secret-stream'

const expectedBytes = Number(process.argv[2])
if (!Number.isSafeInteger(expectedBytes) || expectedBytes <= 0) throw new TypeError('usage: secret-stream-sink.ts BYTES')

const server = net.createServer(socket => {
  server.close()
  const stream = new NoiseSecretStream(false, socket)
  let received = 0
  let cpuAtFirstByte: NodeJS.CpuUsage | undefined
  stream.on('data', (data: Buffer) => {
    cpuAtFirstByte ??= process.cpuUsage()
    received += data.byteLength
    if (received >= expectedBytes) {
      const cpu = process.cpuUsage(cpuAtFirstByte)
      process.stdout.write(`cpu ${cpu.user + cpu.system}\n`)
      stream.write(Buffer.from([1]))
      stream.end()
    }
  })
  stream.on('error', (err: Error) => { console.error(`secret-stream sink: ${err.message}`); process.exitCode = 1 })
  stream.on('close', () => process.exit())
})
server.listen(0, '127.0.0.1', () => {
  process.stdout.write(`listening ${(server.address() as net.AddressInfo).port}\n`)
})
