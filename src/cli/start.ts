// `lansync start`: runs the agent in the foreground until Ctrl-C / SIGTERM.
import type { Argv } from 'yargs'
import { Agent } from '../agent.js'
import { collectDeadBuffersEarly, keepHeapNearLiveSize } from '../heap.js'
import { parseBootstrapNode } from '../config.js'
import { parseRate } from '../core/rate.js'
import { RATE_HELP } from './limits.js'
import { LiveBars } from './live-bars.js'
import { parsePort } from './dashboard.js'
import type { GlobalArgs } from './main.js'

export function startCommand (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('start', 'run the agent in the foreground',
    y => y.option('listen', { type: 'string', describe: 'listen on HOST:PORT (default from config, 0.0.0.0:22100)' })
      .option('mdns', { type: 'boolean', default: true, describe: 'announce this device and find paired ones on the LAN by mDNS (--no-mdns: configured addresses only)' })
      .option('wan', { type: 'boolean', describe: 'join the hyperswarm DHT so paired devices on other networks find this one (default from config: `lansync wan on|off`)' })
      .option('dashboard', { type: 'string', describe: 'serve the web dashboard on 127.0.0.1 (optional PORT; default from config, 22180) while this agent runs' })
      .option('bootstrap', {
        type: 'string',
        array: true,
        describe: 'DHT bootstrap node HOST:PORT (repeatable; default from config, else the public ones)'
      })
      .option('max-send', { type: 'string', describe: `limit on file data sent to all devices together, for this run (default from config: \`lansync limits set\`); ${RATE_HELP}` })
      .option('max-recv', { type: 'string', describe: `limit on file data received from all devices together, for this run; ${RATE_HELP}` }),
    async args => {
    // Checked first, so a typo fails before anything starts.
    for (const node of args.bootstrap ?? []) parseBootstrapNode(node)
    const dashboardArg = args.dashboard === undefined || args.dashboard === '' ? undefined : parsePort(args.dashboard, '--dashboard')
    const maxSendBps = args.maxSend === undefined ? undefined : parseRate(args.maxSend, '--max-send')
    const maxRecvBps = args.maxRecv === undefined ? undefined : parseRate(args.maxRecv, '--max-recv')
    keepHeapNearLiveSize()
    collectDeadBuffersEarly()
    const agent = await Agent.open(args.home)
    const dashboardPort = args.dashboard === undefined ? undefined : dashboardArg ?? agent.config.dashboard.port
    const bars = new LiveBars(args)
    const say = (line: string): void => {
      if (args.json) process.stdout.write(JSON.stringify({ timeMs: Date.now(), message: line }) + '\n')
      else bars.log(`${new Date().toISOString()} ${line}`)
    }
    agent.on('log', say)
    agent.on('progress', p => bars.setScan(p.folder, p.bytesDone, p.bytesTotal))
    // Transfers: the peers' state is sampled twice a second (only when bars are shown).
    const transferTimer = bars.isActive ? setInterval(() => bars.showTransfers(agent.peerStatus()), 500) : undefined
    transferTimer?.unref()
    agent.on('scanned', r => {
      bars.remove(`scan/${r.folder}`)
      // A rename is also one added and one deleted path in the result; say it once.
      const moves = r.renamed.length
      const parts = [['added', r.added.length - moves], ['modified', r.modified.length], ['deleted', r.deleted.length - moves], ['renamed', moves]]
        .filter(([, n]) => (n as number) > 0).map(([w, n]) => `${n as number} ${w as string}`)
      if (parts.length > 0) say(`${r.folder}: ${parts.join(', ')}`)
      if (r.staleTempsRemoved.length > 0) say(`${r.folder}: removed ${r.staleTempsRemoved.length} temp file(s) left by an interrupted write`)
    })
    const stopped = new Promise<void>(resolve => {
      const stop = (): void => {
        clearInterval(transferTimer)
        bars.stop()
        say('stopping')
        void agent.close().then(resolve)
      }
      process.once('SIGINT', stop)
      process.once('SIGTERM', stop)
    })
    try {
      await agent.start({ listen: args.listen, isMdnsEnabled: args.mdns, isWanEnabled: args.wan, wanBootstrap: args.bootstrap, dashboardPort, maxSendBps, maxRecvBps })
    } catch (err) {
      await agent.close()
      throw err
    }
    say('ready')
    await stopped
  })
}
