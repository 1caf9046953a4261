// `lansync why PATH` / `lansync why FOLDER PATH`: is this path synced, and which rule says so.
import type { Argv } from 'yargs'
import { loadConfig } from '../config.js'
import { explainPath, type WhyResult } from '../ops/why.js'
import { print } from './output.js'
import type { GlobalArgs } from './main.js'

export function whyCommand (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('why <path> [relpath]', 'say whether a path is ignored and by which rule (layer, file, line, pattern), and whether this device holds it',
    y => y.positional('path', { type: 'string', demandOption: true, describe: 'a path inside a folder; or a folder (label, id or path) followed by RELPATH' })
      .positional('relpath', { type: 'string', describe: 'a path relative to the folder root' }),
    args => {
      const config = loadConfig(args.home)
      const r = args.relpath === undefined ? explainPath(config, { path: args.path }) : explainPath(config, { folder: args.path, path: args.relpath })
      print(args, r, () => describeVerdict(r))
    })
}

function describeVerdict (r: WhyResult): string {
  const name = `${r.path}${r.isDir ? '/' : ''} (folder "${r.label}")`
  const rule = r.layer === 'built-in'
    ? `built-in rule ${r.pattern as string}`
    : `${r.layer as string} rule ${r.file as string}:${r.line as number}: ${r.pattern as string}`
  const lines: string[] = []
  if (r.isIgnored) lines.push(`${name} is ignored: ${rule}${r.viaDirectory !== undefined ? ` (it ignores the directory ${r.viaDirectory}/)` : ''}`)
  else if (r.layer !== undefined) lines.push(`${name} is not ignored: re-included by ${rule}`)
  else lines.push(`${name} is not ignored: no rule matches it`)
  if (!r.isIgnored && !r.isSelected) lines.push(`It is outside this device's selection (${r.selection.join(' ')}): not pulled here unless a copy is here; \`lansync fetch\` brings it.`)
  return lines.join('\n')
}
