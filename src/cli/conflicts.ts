// `lansync conflicts` (the inbox of unresolved conflicts) and `lansync conflicts resolve PATH --keep …`.
import type { Argv } from 'yargs'
import { formatBytes, print, table } from './output.js'
import { invoke } from './invoke.js'
import type { GlobalArgs } from './main.js'

export function conflictsCommands (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('conflicts', 'unresolved conflicts of every folder, and their resolution', y => y
    .command('resolve <path>', 'resolve the conflict at PATH on every device (the losing content stays in history)',
      y => y.positional('path', { type: 'string', demandOption: true, describe: 'the file, or one of its .sync-conflict- copies' })
        .option('keep', { type: 'string', demandOption: true, describe: 'mine (the file at PATH) | theirs (the conflict copy) | both (the copy becomes "name (from DEVICE).ext") | N (version N of PATH from `lansync history`)' }),
      async args => {
        const r = await invoke(args.home, 'conflicts.resolve', { path: args.path, keep: args.keep })
        print(args, r, () => {
          const what = r.keptAs !== undefined
            ? `kept both: the copy is now ${r.keptAs as string}`
            : r.restoredVersion !== undefined ? `restored version ${r.restoredVersion as number}` : r.keep === 'theirs' ? 'kept the conflict copy\'s content' : 'kept the current content'
          const removed = r.keptAs !== undefined ? '' : `; removed ${(r.removed as string[]).join(', ')} (\`lansync restore\` brings it back)`
          return `Resolved ${r.path as string} in "${r.folder as string}": ${what}${removed}.`
        })
      })
    .command('$0', 'list unresolved conflicts',
      y => y.option('folder', { type: 'string', describe: 'only this folder (label, id or path)' }),
      async args => {
        const r = await invoke(args.home, 'conflicts', { folder: args.folder })
        print(args, r, () => {
          if (r.conflicts.length === 0) return 'No unresolved conflicts.'
          const describe = (s: any): string => s === undefined ? 'deleted' : `${s.device as string}, ${s.time as string}, ${formatBytes(s.sizeBytes)}`
          return table([
            ['FOLDER', 'PATH', 'KEPT AT PATH', 'CONFLICT COPY', 'COPY'],
            ...r.conflicts.map((c: any) => [c.label, c.path, describe(c.winner), describe(c.loser), c.loser.path])
          ]) + '\nResolve with `lansync conflicts resolve PATH --keep mine|theirs|both|VERSION`.'
        })
      }))
}
