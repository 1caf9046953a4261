// `lansync status`: folders (and, with a running agent, live state) of this device.
import type { Argv } from 'yargs'
import { formatBytes, print, table } from './output.js'
import { invoke } from './invoke.js'
import type { GlobalArgs } from './main.js'

export function statusCommand (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('status', 'show folders, peers and progress', y => y, async args => {
    const s = await invoke(args.home, 'status', {})
    print(args, s, () => [
      `Device ${s.deviceName}: ${s.deviceId}`,
      `Agent: ${s.isAgentRunning ? `running for ${Math.round(s.uptimeMs / 1000)} s` : 'not running (`lansync start`)'}`,
      '',
      s.folders.length === 0
        ? 'No folders.'
        : table([['FOLDER', 'STATE', 'FILES', 'SIZE', 'PATH'], ...s.folders.map((f: any) => [
          f.label, f.state + (f.reason !== undefined && f.reason !== null ? `: ${f.reason as string}` : ''), String(f.files), formatBytes(f.bytes), f.path
        ])])
    ].join('\n'))
  })
}
