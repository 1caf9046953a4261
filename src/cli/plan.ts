// `lansync plan [FOLDER]`: what the next sync with each connected peer would do here, without doing it.
import type { Argv } from 'yargs'
import { formatBytes, print } from './output.js'
import { invoke } from './invoke.js'
import type { GlobalArgs } from './main.js'

export function planCommand (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('plan [folder]', 'preview what syncing with each connected peer would do (pulls, deletes, conflicts, bytes); changes nothing',
    y => y.positional('folder', { type: 'string', describe: 'label, id or path (default: every folder)' }),
    async args => {
      const r = await invoke(args.home, 'plan', { folder: args.folder })
      print(args, r, () => {
        const lines: string[] = []
        if (r.isAgentRunning !== true) lines.push('The agent is not running: only held deletes are known (start it with `lansync start`).')
        for (const f of r.folders) {
          lines.push(`${f.label as string} (${f.state as string}${f.reason !== undefined ? `: ${f.reason as string}` : ''})`)
          if (f.heldDeletes.length > 0) {
            lines.push(`  held deletes (${f.heldDeletes.length as number}; \`lansync folder resume ${f.label as string}\` applies them):`)
            for (const h of f.heldDeletes) lines.push(`    - ${h.path as string} (deleted by ${h.deletedBy as string})`)
          }
          for (const p of f.peers) {
            if (p.isConnected !== true) { lines.push(`  ${p.name as string}: not connected`); continue }
            if (p.isSharing !== true) { lines.push(`  ${p.name as string}: connected, but does not share this folder`); continue }
            if (p.pull.length + p.delete.length + p.conflict.length === 0) { lines.push(`  ${p.name as string}: nothing to do`); continue }
            lines.push(`  ${p.name as string}: pull ${p.pull.length as number}, delete ${p.delete.length as number}, conflicts ${p.conflict.length as number}; ${formatBytes(p.bytes)} of content, ${formatBytes(p.bytesToFetch)} to fetch`)
            for (const x of p.pull) lines.push(`    ${x.isNew === true ? '+' : '~'} ${x.path as string}${x.kind === 'dir' ? '/' : ''}${x.kind === 'file' ? ` (${formatBytes(x.sizeBytes)}${x.isMetadataOnly === true ? ', metadata only' : ''})` : ''}`)
            for (const x of p.delete) lines.push(`    - ${x.path as string}`)
            for (const x of p.conflict) lines.push(`    ! ${x.path as string} (${x.winner === 'remote' ? 'theirs wins' : 'ours wins'}; the other kept as ${x.conflictPath as string})`)
          }
        }
        return lines.join('\n')
      })
    })
}
