// The CLI's side of the control socket: one request, optional progress lines, one answer.
import net from 'node:net'
import { LansyncError, type ErrorCode } from '../errors.js'

export async function callAgent (socketPath: string, method: string, params: unknown, onProgress?: (p: any) => void): Promise<any> {
  const socket = net.connect(socketPath)
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve)
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(new LansyncError('AGENT_NOT_RUNNING', 'no agent is running'))
      else reject(new LansyncError('CONTROL_FAILED', `cannot reach the agent: ${err.message}`, { cause: err }))
    })
  })
  return await new Promise((resolve, reject) => {
    let buffered = ''
    let isDone = false
    socket.on('data', chunk => {
      buffered += chunk.toString('utf8')
      let nl
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const message = JSON.parse(buffered.slice(0, nl))
        buffered = buffered.slice(nl + 1)
        if (message.progress !== undefined) { onProgress?.(message.progress); continue }
        isDone = true
        socket.end()
        if (message.error !== undefined) {
          if (message.error.code === 'INTERNAL') reject(new Error(`agent failed: ${message.error.message}`))
          else reject(new LansyncError(message.error.code as ErrorCode, message.error.message))
        } else resolve(message.result)
      }
    })
    socket.on('close', () => { if (!isDone) reject(new LansyncError('CONTROL_FAILED', 'the agent closed the connection without an answer')) })
    socket.on('error', () => {})
    socket.write(JSON.stringify({ id: 1, method, params }) + '\n')
  })
}
