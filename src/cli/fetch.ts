// `lansync fetch PATH` / `lansync fetch FOLDER PATH`: bring one path outside this device's
// selection from a connected peer; the copy stays here and keeps up with later versions.
import type { Argv } from 'yargs'
import { formatBytes, print } from './output.js'
import { invoke } from './invoke.js'
import type { GlobalArgs } from './main.js'

export function fetchCommand (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('fetch <path> [relpath]', 'bring a file this device does not hold (outside `folder only`) from a connected peer',
    y => y.positional('path', { type: 'string', demandOption: true, describe: 'a path inside a folder; or a folder (label, id or path) followed by RELPATH' })
      .positional('relpath', { type: 'string', describe: 'a path relative to the folder root' }),
    async args => {
      const params = args.relpath === undefined ? { path: args.path } : { folder: args.path, path: args.relpath }
      const r = await invoke(args.home, 'fetch', params)
      print(args, r, () => r.isAlreadyHere === true
        ? `${r.path as string} is already here (folder "${r.label as string}"); nothing fetched.`
        : `Fetched ${r.path as string} (${formatBytes(r.sizeBytes)}) into folder "${r.label as string}"; it stays here and keeps up with later versions (delete it to drop the copy; that deletes nothing elsewhere).`)
    })
}
