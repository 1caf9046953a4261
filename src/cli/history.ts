// `lansync history PATH`, `lansync history prune`, `lansync restore`, `lansync snapshot restore`.
import type { Argv } from 'yargs'
import { formatBytes, print, progressBar, table } from './output.js'
import { invoke } from './invoke.js'
import type { GlobalArgs } from './main.js'

export function historyCommands (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli
    .command('history', "a file's versions, and pruning of old ones", y => y
      .command('prune', 'drop versions the retention policy does not keep, then free unreferenced blocks',
        y => y.option('folder', { type: 'string', describe: 'only this folder (label, id or path)' })
          .option('policy', { type: 'string', describe: 'override the retention: all | last:N | staggered' }),
        async args => {
          const r = await invoke(args.home, 'history.prune', { folder: args.folder, policy: args.policy })
          print(args, r, () => [
            ...r.folders.map((f: any) => `${f.folder}: removed ${f.versionsRemoved} versions, kept ${f.versionsKept}`),
            `removed ${r.blocksRemoved} blocks (${formatBytes(r.blockBytesRemoved)}), freed ${formatBytes(r.bytesFreed)} on disk`
          ].join('\n'))
        })
      .command('$0 <path>', "list a file's versions, oldest first",
        y => y.positional('path', { type: 'string', demandOption: true }),
        async args => {
          const r = await invoke(args.home, 'history', { path: args.path })
          print(args, r, () => table([
            ['#', 'TIME', 'SIZE', 'DEVICE', 'HASH'],
            ...r.versions.map((v: any) => [String(v.number), v.time, v.isDeleted ? 'deleted' : formatBytes(v.sizeBytes), v.device, v.hash.slice(0, 16)])
          ]))
        }))
    .command('restore <path>', 'restore a version of a file (default: the newest with content)',
      y => y.positional('path', { type: 'string', demandOption: true })
        .option('version', { type: 'number', describe: 'version number from `lansync history`' })
        .option('at', { type: 'string', describe: 'the version current at this time (ISO 8601, or -2h, -3d)' })
        .option('to', { type: 'string', describe: 'write here instead of in place' })
        .conflicts('version', 'at'),
      async args => {
        const r = await invoke(args.home, 'restore', { path: args.path, version: args.version, at: args.at, to: args.to })
        print(args, r, () => `Restored version ${r.number} of ${r.path} to ${r.restoredTo} (${formatBytes(r.sizeBytes)})`)
      })
    .command('snapshot', 'whole-folder snapshots', y => y
      .command('restore <folder>', 'rebuild a whole folder as it was at a time, into a new directory',
        y => y.positional('folder', { type: 'string', demandOption: true })
          .option('at', { type: 'string', demandOption: true, describe: 'time (ISO 8601, or -2h, -3d)' })
          .option('to', { type: 'string', demandOption: true, describe: 'new or empty directory' }),
        async args => {
          const bar = progressBar(args, 'restoring')
          try {
            const r = await invoke(args.home, 'snapshot.restore', { folder: args.folder, at: args.at, to: args.to }, p => bar.update(p.bytesDone, p.bytesTotal))
            bar.stop()
            print(args, r, () => `Restored "${r.folder}" as of ${new Date(r.atMs).toISOString()} into ${r.to}: ${r.files} files, ${r.dirs} directories, ${formatBytes(r.bytes)}`)
          } finally { bar.stop() }
        })
      .demandCommand(1, 'name a snapshot command: restore'))
}
