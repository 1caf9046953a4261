// `lansync wan [on|off|bootstrap]`: WAN mode (the hyperswarm DHT) in the config, applied to the
// running agent at once through its control socket; without a subcommand, WAN reachability.
import type { Argv } from 'yargs'
import { homePaths, parseBootstrapNode, updateConfig } from '../config.js'
import { callAgent } from '../control/client.js'
import { LansyncError, isLansyncError } from '../errors.js'
import type { WanStatus } from '../sync/wan-discovery.js'
import { invoke } from './invoke.js'
import { print } from './output.js'
import type { GlobalArgs } from './main.js'

const bootstrapOption = {
  type: 'string',
  array: true,
  describe: 'DHT bootstrap node HOST:PORT (repeatable); saved in the config'
} as const

export function wanCommands (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('wan', 'WAN mode: find paired devices beyond the LAN through the hyperswarm DHT', y => y
    .command('on', 'turn WAN mode on (now, if the agent runs, and at every start)',
      y => y.option('bootstrap', bootstrapOption),
      async args => {
        for (const node of args.bootstrap ?? []) parseBootstrapNode(node)
        updateConfig(args.home, c => {
          c.isWanEnabled = true
          if (args.bootstrap !== undefined) c.wanBootstrap = args.bootstrap
        })
        await applyAndPrint(args)
      })
    .command('off', 'turn WAN mode off (leaves the DHT; WAN connections close)', y => y, async args => {
      updateConfig(args.home, c => { c.isWanEnabled = false })
      await applyAndPrint(args)
    })
    .command('bootstrap [nodes..]', 'set the DHT bootstrap nodes (a group\'s own DHT); --public for the public ones',
      y => y.positional('nodes', { type: 'string', array: true, describe: 'HOST:PORT ...' })
        .option('public', { type: 'boolean', default: false, describe: 'use hyperswarm\'s public bootstrap nodes' }),
      async args => {
        const nodes = args.nodes ?? []
        if (args.public === (nodes.length > 0)) throw new LansyncError('ARG_INVALID', 'name bootstrap nodes HOST:PORT, or --public (not both)')
        for (const node of nodes) parseBootstrapNode(node)
        updateConfig(args.home, c => { c.wanBootstrap = args.public ? [] : (args.nodes ?? []) })
        await applyAndPrint(args)
      })
    .command('$0', 'show WAN reachability', y => y, async args => {
      const s = await invoke(args.home, 'status', {})
      print(args, s.wan, () => formatWan(s.wan, s.isAgentRunning === true))
    }))
}

/** Tells a running agent to apply the saved WAN settings; prints what holds now. */
async function applyAndPrint (args: GlobalArgs): Promise<void> {
  let status: WanStatus
  let isAgentRunning = true
  try {
    status = await callAgent(homePaths(args.home).socket, 'wan', {})
  } catch (err) {
    if (!isLansyncError(err, 'AGENT_NOT_RUNNING')) throw err
    isAgentRunning = false
    status = (await invoke(args.home, 'status', {})).wan
  }
  print(args, status, () => formatWan(status, isAgentRunning))
}

/** One line, and with the agent running a second, on WAN mode and what the DHT node knows. */
export function formatWan (s: WanStatus, isAgentRunning: boolean): string {
  const via = s.bootstrap.length > 0 ? `bootstrap ${s.bootstrap.join(', ')}` : 'public bootstrap nodes'
  if (!s.isEnabled) return `WAN: off (\`lansync wan on\` to find paired devices beyond the LAN; ${via})`
  if (!isAgentRunning) return `WAN: on (${via}); the agent is not running`
  if (!s.isRunning) return `WAN: on but not in the DHT${s.error !== undefined ? `: ${s.error}` : ''} (${via})`
  const dht = s.dhtNodes === undefined || s.dhtNodes === 0
    ? (s.isBootstrapped === true ? 'no DHT node answered yet' : 'bootstrapping')
    : `in the DHT (${s.dhtNodes} nodes${s.isFirewalled === true ? ', behind a firewall or NAT' : ', reachable'}${s.publicAddress !== undefined ? `, seen as ${s.publicAddress}` : ''})`
  return `WAN: on, ${dht}; ${s.topics ?? 0} topic(s), ${s.wanPeers ?? 0} device(s) connected over the WAN, ${s.refused ?? 0} refused (${via})`
}
