// `lansync limits [set]`: the bandwidth limits of this device, overall and per device. `set` saves
// them in the config and applies them to the running agent at once (transfers already waiting
// included); `lansync device set DEVICE --max-send/--max-recv` sets one device's own.
import type { Argv } from 'yargs'
import { homePaths, updateConfig } from '../config.js'
import { callAgent } from '../control/client.js'
import { isLansyncError } from '../errors.js'
import { setOverallLimits } from '../ops/limits.js'
import { formatRate, parseRate } from '../core/rate.js'
import { invoke } from './invoke.js'
import { print, table } from './output.js'
import type { GlobalArgs } from './main.js'

export const RATE_HELP = 'bytes per second: e.g. 500KiB, 2MB/s, 10Mbit (K/M/G = KiB/MiB/GiB; kB/MB = 1000-based; bit = bits); 0 or off: no limit'

export function limitsCommands (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('limits', 'bandwidth limits on file data (overall; per device with `device set`)', y => y
    .command('set', 'set the overall limits (now, if the agent runs, and at every start)',
      y => y.option('max-send', { type: 'string', describe: `limit on data sent to all devices together, ${RATE_HELP}` })
        .option('max-recv', { type: 'string', describe: `limit on data received from all devices together, ${RATE_HELP}` }),
      async args => {
        const maxSendBps = args.maxSend === undefined ? undefined : parseRate(args.maxSend, '--max-send')
        const maxRecvBps = args.maxRecv === undefined ? undefined : parseRate(args.maxRecv, '--max-recv')
        updateConfig(args.home, c => setOverallLimits(c, { maxSendBps, maxRecvBps }))
        let limits: any
        try {
          limits = await callAgent(homePaths(args.home).socket, 'limits', {})
        } catch (err) {
          if (!isLansyncError(err, 'AGENT_NOT_RUNNING')) throw err
          limits = (await invoke(args.home, 'status', {})).limits
        }
        print(args, limits, () => formatLimits(limits))
      })
    .command('$0', 'show the limits in force', y => y, async args => {
      const { limits } = await invoke(args.home, 'status', {})
      print(args, limits, () => formatLimits(limits))
    }))
}

/** The overall limits on one line, then each device that has limits of its own. */
export function formatLimits (limits: any): string {
  const overall = `Bandwidth: send ${formatRate(limits.maxSendBps)}, receive ${formatRate(limits.maxRecvBps)}${limits.isFromStartFlags === true ? ' (from `lansync start` flags)' : ''}`
  const own = (limits.devices as any[]).filter(d => d.maxSendBps > 0 || d.maxRecvBps > 0)
  if (own.length === 0) return overall
  return [overall, table([['DEVICE', 'SEND', 'RECEIVE'], ...own.map(d => [d.name, formatRate(d.maxSendBps), formatRate(d.maxRecvBps)])])].join('\n')
}
