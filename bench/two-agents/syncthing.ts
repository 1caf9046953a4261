// Syncthing as a contender, kept on loopback: configs are generated, then rewritten before the
// first start so that only tcp://127.0.0.1 is used (no discovery, relays, NAT, usage or crash
// reports, upgrades), the effective config is read back over the REST API and checked, and `ss`
// confirms the processes hold no UDP socket and nothing bound or connected beyond 127.0.0.1.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { checkLoopbackOnly, freePort, run, startChild, waitFor, type Child } from './procs.js'
import type { Contender, Restartable, WireCounters } from './contender.js'
import type { NamedProcess } from './memory.js'

const FOLDER_ID = 'docs'

interface Side { name: string, home: string, dir: string, id: string, port: number, guiPort: number, apiKey: string, process?: Child }

/** Options set in every config, whatever the generated defaults say. */
function optionsFor (port: number): Record<string, string> {
  return {
    listenAddress: `tcp://127.0.0.1:${port}`,
    globalAnnounceEnabled: 'false',
    localAnnounceEnabled: 'false',
    relaysEnabled: 'false',
    natEnabled: 'false',
    urAccepted: '-1',
    autoUpgradeIntervalH: '0',
    crashReportingEnabled: 'false',
    startBrowser: 'false',
    announceLANAddresses: 'false',
    stunKeepaliveStartS: '0',
    stunKeepaliveMinS: '0',
    // Syncthing lowers its own CPU priority by default; lansync and rsync run at normal priority.
    setLowPriority: 'false'
  }
}

function replaceOnce (xml: string, pattern: RegExp, replacement: string, what: string): string {
  const matches = xml.match(new RegExp(pattern.source, 'g'))
  if (matches?.length !== 1) throw new Error(`syncthing config: expected one ${what}, found ${matches?.length ?? 0}`)
  return xml.replace(pattern, replacement)
}

export class SyncthingContender implements Contender, Restartable {
  readonly name = 'syncthing'
  readonly isSynchronous = false
  readonly senderDir: string
  readonly receiverDir: string
  readonly ignoredAtRoot = ['.stfolder', '.stversions']
  readonly notes = [
    'syncthing: two instances (syncthing serve --no-browser --no-restart --no-upgrade), tcp://127.0.0.1 only, discovery/relays/NAT/reports/upgrades off, low priority off; ' +
      'fsWatcher off: each change is followed at once by POST /rest/db/scan on the sender (time includes that scan); done = trees equal and the receiver\'s /rest/db/status is idle with needTotalItems 0; ' +
      'wire bytes = the receiver\'s /rest/system/connections inBytesTotal + outBytesTotal for the sender (application bytes inside TLS); compression "metadata" (default)'
  ]

  private readonly workDir: string
  private readonly sender: Side
  private readonly receiver: Side
  version = ''

  constructor (workDir: string) {
    this.workDir = workDir
    const side = (name: string): Side => ({ name, home: join(workDir, `${name}-home`), dir: join(workDir, name), id: '', port: 0, guiPort: 0, apiKey: randomBytes(16).toString('hex') })
    this.sender = side('sender')
    this.receiver = side('receiver')
    this.senderDir = this.sender.dir
    this.receiverDir = this.receiver.dir
  }

  private env (): NodeJS.ProcessEnv {
    return { ...process.env, HOME: join(this.workDir, 'home'), STNODEFAULTFOLDER: '1', STNOUPGRADE: '1', STNORESTART: '1' }
  }

  async start (): Promise<string[]> {
    await this.configure()
    const sides = [this.sender, this.receiver]
    for (const side of sides) this.spawn(side)
    for (const side of sides) await this.answering(side)
    const lines = [...await Promise.all(sides.map(async side => await this.checkConfig(side))), ...this.checkNetwork()]
    await waitFor(async () => {
      for (const [self, peer] of [[this.sender, this.receiver], [this.receiver, this.sender]]) {
        const c = await this.rest(self, 'GET', '/rest/system/connections')
        if (c.connections[peer.id]?.connected !== true) return false
        if ((await this.rest(self, 'GET', `/rest/db/status?folder=${FOLDER_ID}`)).state !== 'idle') return false
      }
      return true
    }, { timeoutMs: 90_000, intervalMs: 200, what: 'the syncthing instances to connect' })
    return lines
  }

  /** Generated homes (keys, config) for both sides, rewritten to loopback only. */
  private async configure (): Promise<void> {
    mkdirSync(join(this.workDir, 'home'), { recursive: true })
    this.version = run('syncthing', ['--version'], { env: this.env() }).trim()
    const sides = [this.sender, this.receiver]
    for (const side of sides) {
      mkdirSync(join(side.dir, '.stfolder'), { recursive: true })
      run('syncthing', ['generate', `--home=${side.home}`, '--skip-port-probing', '--no-default-folder'], { env: this.env() })
      side.id = run('syncthing', ['serve', `--home=${side.home}`, '--device-id'], { env: this.env() }).trim()
      side.port = await freePort()
      side.guiPort = await freePort()
    }
    for (const [self, peer] of [[this.sender, this.receiver], [this.receiver, this.sender]]) this.writeConfig(self, peer)
  }

  private spawn (side: Side): void {
    side.process = startChild(`syncthing ${side.name}`, 'syncthing', ['serve', `--home=${side.home}`, '--no-browser', '--no-restart', '--no-upgrade', '--no-default-folder', '--skip-port-probing', '--logflags=3'], { env: this.env() })
  }

  private async answering (side: Side): Promise<void> {
    await waitFor(async () => {
      if (side.process?.process.exitCode !== null) throw new Error(`syncthing ${side.name} exited:\n${side.process?.output() ?? ''}`)
      return (await this.rest(side, 'GET', '/rest/system/ping')).ping === 'pong'
    }, { timeoutMs: 60_000, intervalMs: 25, what: `syncthing ${side.name} to answer on its REST API` })
  }

  /** When the sender's folder last finished a scan (epoch ms; 0 if never). */
  private async lastScanMs (): Promise<number> {
    const at = (await this.rest(this.sender, 'GET', '/rest/stats/folder'))[FOLDER_ID]?.lastScan
    const ms = typeof at === 'string' ? Date.parse(at) : NaN
    return Number.isFinite(ms) && ms > 0 ? ms : 0
  }

  /** Resolves once the sender's folder is idle after a scan that finished later than `afterMs`. */
  private async senderScanned (afterMs: number): Promise<void> {
    await waitFor(async () => {
      if ((await this.rest(this.sender, 'GET', `/rest/db/status?folder=${FOLDER_ID}`)).state !== 'idle') return false
      return await this.lastScanMs() > afterMs
    }, { timeoutMs: 900_000, intervalMs: 25, what: 'the syncthing sender to finish its startup scan' })
  }

  async prepareAlone (): Promise<void> {
    await this.configure()
  }

  async startAlone (): Promise<void> {
    this.spawn(this.sender)
    await this.answering(this.sender)
    await this.checkConfig(this.sender)
    await this.senderScanned(0)
  }

  async restartAlone (): Promise<void> {
    const previousScanMs = await this.lastScanMs()
    await this.sender.process?.stop('SIGTERM', 30_000)
    this.spawn(this.sender)
    await this.answering(this.sender)
    await this.senderScanned(previousScanMs)
  }

  processes (): NamedProcess[] {
    return [this.sender, this.receiver].flatMap(side => {
      const pid = side.process?.process.pid
      return pid !== undefined && side.process?.process.exitCode === null ? [{ name: `syncthing ${side.name}`, pid }] : []
    })
  }

  /** Rewrites the generated config.xml: options, GUI, both devices with loopback addresses, the folder. */
  private writeConfig (self: Side, peer: Side): void {
    const file = join(self.home, 'config.xml')
    let xml = readFileSync(file, 'utf8')
    for (const [key, value] of Object.entries(optionsFor(self.port))) {
      xml = replaceOnce(xml, new RegExp(`<${key}>[^<]*</${key}>`), `<${key}>${value}</${key}>`, `<${key}>`)
    }
    xml = replaceOnce(xml, /<gui [^>]*>[\s\S]*?<\/gui>/, `<gui enabled="true" tls="false" debugging="false">
        <address>127.0.0.1:${self.guiPort}</address>
        <apikey>${self.apiKey}</apikey>
        <theme>default</theme>
    </gui>`, '<gui>')
    const deviceXml = (side: Side): string => `<device id="${side.id}" name="${side.name}" compression="metadata" introducer="false" skipIntroductionRemovals="false" introducedBy="">
        <address>tcp://127.0.0.1:${side.port}</address>
        <paused>false</paused>
        <autoAcceptFolders>false</autoAcceptFolders>
        <maxSendKbps>0</maxSendKbps>
        <maxRecvKbps>0</maxRecvKbps>
        <maxRequestKiB>0</maxRequestKiB>
        <untrusted>false</untrusted>
        <remoteGUIPort>0</remoteGUIPort>
    </device>`
    // The folder: the generated defaults' folder template, filled in.
    const template = xml.match(/<defaults>\s*(<folder id="" [\s\S]*?<\/folder>)/)?.[1]
    if (template === undefined) throw new Error('syncthing config: no <defaults><folder> template')
    let folderXml = replaceOnce(template, /<folder id="" label="" path="[^"]*" type="[^"]*" rescanIntervalS="\d+" fsWatcherEnabled="\w+"/,
      `<folder id="${FOLDER_ID}" label="${FOLDER_ID}" path="${self.dir}" type="sendreceive" rescanIntervalS="3600" fsWatcherEnabled="false"`, 'folder template head')
    folderXml = replaceOnce(folderXml, /<device id="[^"]*" introducedBy="">[\s\S]*?<\/device>/,
      [self, peer].map(side => `<device id="${side.id}" introducedBy=""><encryptionPassword></encryptionPassword></device>`).join('\n            '), 'folder device')
    // Only our two devices, no leftovers: drop the generated device list and the defaults.
    xml = xml.replace(/\s*<device id="[^"]+" name=[\s\S]*?<\/device>/g, '')
    xml = replaceOnce(xml, /\s*<defaults>[\s\S]*<\/defaults>/, '', '<defaults>')
    xml = replaceOnce(xml, /(<configuration [^>]*>)/, `$1\n    ${folderXml}\n    ${deviceXml(self)}\n    ${deviceXml(peer)}`, '<configuration>')
    if (xml.includes('dynamic')) throw new Error('syncthing config: a "dynamic" address is left')
    writeFileSync(file, xml)
  }

  /** Reads the running config back and refuses anything that could leave loopback. */
  private async checkConfig (side: Side): Promise<string> {
    const config = await this.rest(side, 'GET', '/rest/config')
    const o = config.options
    const problems: string[] = []
    const listen: string[] = o.listenAddresses ?? []
    if (listen.length !== 1 || listen[0] !== `tcp://127.0.0.1:${side.port}`) problems.push(`listenAddresses ${JSON.stringify(listen)}`)
    for (const key of ['globalAnnounceEnabled', 'localAnnounceEnabled', 'relaysEnabled', 'natEnabled', 'crashReportingEnabled', 'startBrowser']) {
      if (o[key] !== false) problems.push(`${key} = ${String(o[key])}`)
    }
    if (o.urAccepted !== -1) problems.push(`urAccepted = ${String(o.urAccepted)}`)
    if (o.autoUpgradeIntervalH !== 0) problems.push(`autoUpgradeIntervalH = ${String(o.autoUpgradeIntervalH)}`)
    for (const d of config.devices) {
      for (const a of d.addresses as string[]) if (!/^tcp:\/\/127\.0\.0\.1:\d+$/.test(a)) problems.push(`device ${String(d.name)} address ${a}`)
    }
    if (!/^127\.0\.0\.1:\d+$/.test(config.gui.address)) problems.push(`gui address ${String(config.gui.address)}`)
    if (problems.length > 0) throw new Error(`syncthing ${side.name}: refusing to continue, its config could leave loopback: ${problems.join('; ')}`)
    return `syncthing ${side.name} config (read back): listen ${listen[0]}, GUI ${String(config.gui.address)}, device addresses 127.0.0.1 only; global/local discovery, relays, NAT, usage and crash reports, upgrades off`
  }

  checkNetwork (): string[] {
    // Only sides that were started: S1 runs the sender alone.
    return [this.sender, this.receiver].filter(side => side.process !== undefined).map(side => checkLoopbackOnly(`syncthing ${side.name}`, side.process?.process.pid ?? -1))
  }

  async trigger (): Promise<void> {
    await this.rest(this.sender, 'POST', `/rest/db/scan?folder=${FOLDER_ID}`, 900_000)
  }

  async isInSync (): Promise<boolean> {
    const s = await this.rest(this.receiver, 'GET', `/rest/db/status?folder=${FOLDER_ID}`)
    return s.state === 'idle' && s.needTotalItems === 0
  }

  async counters (): Promise<WireCounters> {
    const c = (await this.rest(this.receiver, 'GET', '/rest/system/connections')).connections[this.sender.id]
    return { down: c?.inBytesTotal ?? 0, up: c?.outBytesTotal ?? 0 }
  }

  async close (): Promise<void> {
    await Promise.all([this.sender, this.receiver].map(async side => await side.process?.stop('SIGTERM', 15_000)))
  }

  private async rest (side: Side, method: 'GET' | 'POST', path: string, timeoutMs = 30_000): Promise<any> {
    const response = await fetch(`http://127.0.0.1:${side.guiPort}${path}`, { method, headers: { 'X-API-Key': side.apiKey }, signal: AbortSignal.timeout(timeoutMs) })
    if (!response.ok) throw new Error(`syncthing ${side.name} ${method} ${path}: HTTP ${response.status} ${await response.text()}`)
    const text = await response.text()
    return text === '' ? {} : JSON.parse(text)
  }
}
