// The `lansync` command line: declares the commands; each is a plain async function. Only this
// entry point decides the exit code.
import yargs, { type Argv } from 'yargs'
import { resolveHome } from '../config.js'
import { reportError } from './output.js'
import { initCommands } from './init.js'
import { folderCommands } from './folder.js'
import { historyCommands } from './history.js'
import { startCommand } from './start.js'
import { statusCommand } from './status.js'
import { deviceCommands } from './device.js'
import { pairCommand } from './pair.js'
import { peersCommand } from './peers.js'
import { wanCommands } from './wan.js'
import { conflictsCommands } from './conflicts.js'
import { planCommand } from './plan.js'
import { dashboardCommands } from './dashboard.js'
import { whyCommand } from './why.js'
import { fetchCommand } from './fetch.js'
import { limitsCommands } from './limits.js'

export interface GlobalArgs { home: string, json: boolean }

export function buildCli (argv: string[]): Argv<GlobalArgs> {
  let cli = yargs(argv)
    .scriptName('lansync')
    .option('home', { type: 'string', describe: 'lansync home (default $LANSYNC_HOME or the platform config dir)', coerce: (h?: string) => resolveHome(h) })
    .option('json', { type: 'boolean', default: false, describe: 'machine-readable output' })
    .default('home', undefined as unknown as string)
    .middleware(args => { args.home = resolveHome(args.home as string | undefined) }) as unknown as Argv<GlobalArgs>
  cli = initCommands(cli)
  cli = folderCommands(cli)
  cli = startCommand(cli)
  cli = statusCommand(cli)
  cli = historyCommands(cli)
  cli = deviceCommands(cli)
  cli = pairCommand(cli)
  cli = peersCommand(cli)
  cli = wanCommands(cli)
  cli = conflictsCommands(cli)
  cli = planCommand(cli)
  cli = dashboardCommands(cli)
  cli = whyCommand(cli)
  cli = fetchCommand(cli)
  cli = limitsCommands(cli)
  return cli
    .demandCommand(1, 'name a command (see --help)')
    .strict()
    .recommendCommands()
    .fail((message, err, y) => {
      if (err !== undefined && err !== null) throw err
      throw Object.assign(new Error(message), { isUsage: true, help: y.help })
    })
    .help()
    // `--version N` belongs to `restore`; the package version is in `lansync status --json`.
    .version(false)
}

export async function main (argv: string[]): Promise<void> {
  const isJson = argv.includes('--json')
  try {
    await buildCli(argv).parseAsync()
  } catch (err: any) {
    if (err?.isUsage === true) {
      process.stderr.write(`lansync: ${err.message as string}\nRun \`lansync --help\` for the commands.\n`)
      process.exitCode = 2
      return
    }
    process.exitCode = reportError(err, isJson)
  }
}

// Run directly (`node --import tsx src/cli/main.ts ...`), as the tests and the dev setup do.
if (process.argv[1] !== undefined && import.meta.url === new URL(process.argv[1], 'file://').href) {
  void main(process.argv.slice(2))
}
