// rsync as a contender: an rsync daemon bound to 127.0.0.1 whose one module is the receiver
// folder, and one `rsync -a --no-whole-file` push per case. Its --stats give the wire bytes.
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { checkLoopbackOnly, freePort, runAsync, startChild, waitFor, type Child } from './procs.js'
import type { Contender, WireCounters } from './contender.js'
import type { NamedProcess } from './memory.js'

export const RSYNC_FLAGS = ['-a', '--no-whole-file', '--fuzzy', '--delete-after', '--stats']

export class RsyncContender implements Contender {
  readonly name = 'rsync'
  readonly isSynchronous = true
  readonly senderDir: string
  readonly receiverDir: string
  readonly ignoredAtRoot: string[] = []
  readonly notes = [
    `rsync: daemon on 127.0.0.1 (use chroot = no), one push per case: rsync ${RSYNC_FLAGS.join(' ')} SENDER/ rsync://127.0.0.1:PORT/docs/; ` +
      'time = that command (it reads and compares both trees itself); --fuzzy lets the renamed file use the old one as its basis (rsync has no rename detection); ' +
      'wire bytes = "Total bytes sent" + "Total bytes received" (unencrypted)'
  ]

  private readonly workDir: string
  private port = 0
  private daemon: Child | undefined
  private client: Child | undefined
  private total: WireCounters = { down: 0, up: 0 }

  constructor (workDir: string) {
    this.workDir = workDir
    this.senderDir = join(workDir, 'sender')
    this.receiverDir = join(workDir, 'receiver')
  }

  async start (): Promise<string[]> {
    mkdirSync(this.senderDir, { recursive: true })
    mkdirSync(this.receiverDir, { recursive: true })
    this.port = await freePort()
    const configFile = join(this.workDir, 'rsyncd.conf')
    const uid = process.getuid?.() ?? 0
    const gid = process.getgid?.() ?? 0
    writeFileSync(configFile, [
      'use chroot = no',
      `uid = ${uid}`,
      `gid = ${gid}`,
      'numeric ids = yes',
      `pid file = ${join(this.workDir, 'rsyncd.pid')}`,
      `log file = ${join(this.workDir, 'rsyncd.log')}`,
      '[docs]',
      `path = ${this.receiverDir}`,
      'read only = no',
      ''
    ].join('\n'))
    this.daemon = startChild('rsync daemon', 'rsync', ['--daemon', '--no-detach', `--config=${configFile}`, '--address=127.0.0.1', `--port=${this.port}`])
    const daemon = this.daemon
    await waitFor(() => {
      if (daemon.process.exitCode !== null) throw new Error(`the rsync daemon exited:\n${daemon.output()}`)
      return checkLoopbackOnly('rsync daemon', daemon.process.pid ?? -1).includes(`127.0.0.1:${this.port}`)
    }, { timeoutMs: 15_000, what: 'the rsync daemon to listen' })
    return this.checkNetwork()
  }

  checkNetwork (): string[] {
    return [checkLoopbackOnly('rsync daemon', this.daemon?.process.pid ?? -1)]
  }

  async trigger (): Promise<void> {
    const out = await runAsync('rsync push', 'rsync', [...RSYNC_FLAGS, `${this.senderDir}/`, `rsync://127.0.0.1:${this.port}/docs/`], { timeoutMs: 900_000, onStart: child => { this.client = child } })
    const count = (label: string): number => {
      const m = out.match(new RegExp(`^${label}: ([\\d,.]+)`, 'm'))
      if (m === null) throw new Error(`no "${label}" in rsync --stats:\n${out}`)
      return Number(m[1].replace(/[,.]/g, ''))
    }
    // The client pushes: what it sent is what the receiver got.
    this.total = { down: this.total.down + count('Total bytes sent'), up: this.total.up + count('Total bytes received') }
  }

  async isInSync (): Promise<boolean> { return true }

  processes (): NamedProcess[] {
    const out: NamedProcess[] = []
    for (const [name, child] of [['rsync daemon', this.daemon], ['rsync client', this.client]] as const) {
      const pid = child?.process.pid
      if (pid !== undefined && child?.process.exitCode === null) out.push({ name, pid })
    }
    return out
  }

  async counters (): Promise<WireCounters> { return { ...this.total } }

  async close (): Promise<void> {
    await this.daemon?.stop('SIGTERM', 5_000)
  }
}
