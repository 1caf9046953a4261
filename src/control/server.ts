// The local control socket between the CLI and a running agent: newline-delimited JSON over a
// Unix socket in the lansync home (only this user can reach it). One request per line:
//   {"id":1,"method":"history","params":{...}}  →  {"id":1,"result":...} | {"id":1,"error":{code,message}}
// Long operations may first send {"id":1,"progress":{...}} lines.
import net from 'node:net'
import { rmSync, chmodSync } from 'node:fs'
import { LansyncError, isLansyncError } from '../errors.js'

/** `signal` aborts when the caller's connection closes (a long call such as `pair.open` then stops). */
export type Handler = (method: string, params: any, onProgress: (p: unknown) => void, signal: AbortSignal) => Promise<unknown>

const MAX_LINE_BYTES = 1024 * 1024

export class ControlServer {
  private readonly socketPath: string
  private readonly handler: Handler
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()

  constructor (socketPath: string, handler: Handler) {
    this.socketPath = socketPath
    this.handler = handler
  }

  async listen (): Promise<void> {
    await assertNoLiveAgent(this.socketPath)
    rmSync(this.socketPath, { force: true }) // a stale socket from a crashed agent
    const server = net.createServer(socket => this.serve(socket))
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.socketPath, () => { server.off('error', reject); resolve() })
    })
    chmodSync(this.socketPath, 0o600)
    this.server = server
  }

  async close (): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    for (const s of this.sockets) s.destroy()
    await new Promise<void>(resolve => server.close(() => resolve()))
    rmSync(this.socketPath, { force: true })
  }

  private serve (socket: net.Socket): void {
    this.sockets.add(socket)
    const gone = new AbortController()
    socket.on('close', () => { this.sockets.delete(socket); gone.abort() })
    socket.on('error', () => {})
    let buffered = ''
    socket.on('data', chunk => {
      buffered += chunk.toString('utf8')
      if (buffered.length > MAX_LINE_BYTES) { socket.destroy(); return }
      let nl
      while ((nl = buffered.indexOf('\n')) !== -1) {
        const line = buffered.slice(0, nl)
        buffered = buffered.slice(nl + 1)
        void this.answer(socket, line, gone.signal)
      }
    })
  }

  private async answer (socket: net.Socket, line: string, signal: AbortSignal): Promise<void> {
    let request: { id?: unknown, method?: unknown, params?: unknown }
    try { request = JSON.parse(line) } catch { socket.destroy(); return }
    const id = request.id
    const send = (body: object): void => { if (!socket.destroyed) socket.write(JSON.stringify({ id, ...body }) + '\n') }
    try {
      if (typeof request.method !== 'string') throw new LansyncError('CONTROL_FAILED', 'request without a method')
      const result = await this.handler(request.method, request.params ?? {}, progress => send({ progress }), signal)
      send({ result: result ?? null })
    } catch (err) {
      if (isLansyncError(err)) send({ error: { code: err.code, message: err.message } })
      else send({ error: { code: 'INTERNAL', message: (err as Error)?.stack ?? String(err) } })
    }
  }
}

async function assertNoLiveAgent (socketPath: string): Promise<void> {
  const isLive = await new Promise<boolean>(resolve => {
    const probe = net.connect(socketPath)
    probe.once('connect', () => { probe.destroy(); resolve(true) })
    probe.once('error', () => resolve(false))
  })
  if (isLive) throw new LansyncError('AGENT_RUNNING', `an agent is already running for this home (${socketPath})`)
}
