// `lansync dashboard on|off|url`: the local web dashboard in the config, applied to the running
// agent at once through its control socket; `url` prints the address with its access token.
import type { Argv } from 'yargs'
import { homePaths, loadConfig, updateConfig } from '../config.js'
import { callAgent } from '../control/client.js'
import { LansyncError, isLansyncError } from '../errors.js'
import { offlineStatus, type DashboardStatus } from '../dashboard/host.js'
import { print } from './output.js'
import type { GlobalArgs } from './main.js'

/** A port given on the command line: 0 (any free port) to 65535; ARG_INVALID otherwise. */
export function parsePort (text: unknown, what = 'port'): number {
  const value = String(text ?? '').trim()
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new LansyncError('ARG_INVALID', `${what} must be a port number from 0 to 65535, not "${value}"`)
  return Number(value)
}

export function dashboardCommands (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('dashboard', 'the local web dashboard (127.0.0.1 only, token-protected)', y => y
    .command('on', 'serve the dashboard (now, if the agent runs, and at every start)',
      y => y.option('port', { type: 'string', describe: 'port on 127.0.0.1 (default 22180; 0: any free port)' }),
      async args => {
        const port = args.port === undefined ? undefined : parsePort(args.port, '--port')
        updateConfig(args.home, c => {
          c.dashboard.isEnabled = true
          if (port !== undefined) c.dashboard.port = port
        })
        await applyAndPrint(args)
      })
    .command('off', 'stop serving the dashboard', y => y, async args => {
      updateConfig(args.home, c => { c.dashboard.isEnabled = false })
      await applyAndPrint(args)
    })
    .command('url', 'print the dashboard address with its access token (open it in a browser on this machine)', y => y, async args => {
      const { status, isAgentRunning } = await currentStatus(args.home, 'dashboard.status')
      if (!status.isEnabled) throw new LansyncError('DASHBOARD_OFF', 'the dashboard is off: turn it on with `lansync dashboard on` (or `lansync start --dashboard`)')
      if (status.url === undefined) throw new LansyncError('DASHBOARD_OFF', 'the dashboard takes any free port (0) and the agent is not running: start it first (`lansync start`)')
      print(args, { ...status, isAgentRunning }, () => status.url as string)
      if (!args.json && !status.isRunning) process.stderr.write(isAgentRunning ? 'lansync: the agent could not serve the dashboard (see its log)\n' : 'lansync: the agent is not running; the dashboard answers once it is (`lansync start`)\n')
    })
    .command('$0', 'show whether the dashboard is on and where', y => y, async args => {
      const { status, isAgentRunning } = await currentStatus(args.home, 'dashboard.status')
      print(args, { ...status, isAgentRunning }, () => formatStatus(status, isAgentRunning))
    }))
}

/** Asks the running agent (`method`), else reads the config. */
async function currentStatus (home: string, method: string): Promise<{ status: DashboardStatus, isAgentRunning: boolean }> {
  try {
    return { status: await callAgent(homePaths(home).socket, method, {}), isAgentRunning: true }
  } catch (err) {
    if (!isLansyncError(err, 'AGENT_NOT_RUNNING')) throw err
    return { status: offlineStatus(home, loadConfig(home).dashboard, false), isAgentRunning: false }
  }
}

async function applyAndPrint (args: GlobalArgs): Promise<void> {
  const { status, isAgentRunning } = await currentStatus(args.home, 'dashboard')
  print(args, { ...status, isAgentRunning }, () => formatStatus(status, isAgentRunning))
}

function formatStatus (s: DashboardStatus, isAgentRunning: boolean): string {
  if (!s.isEnabled) return 'Dashboard: off (`lansync dashboard on` to serve it on 127.0.0.1)'
  const where = `http://127.0.0.1:${s.port === 0 ? 'ANY-FREE-PORT' : s.port}/`
  if (!isAgentRunning) return `Dashboard: on at ${where} while the agent runs (it is not running: \`lansync start\`); \`lansync dashboard url\` prints the address with its token`
  if (!s.isRunning) return `Dashboard: on, but the agent could not serve it on ${where} (see its log)`
  return `Dashboard: serving on ${where}; \`lansync dashboard url\` prints the address with its token`
}
