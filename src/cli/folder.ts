// `lansync folder add|list|remove|set|resume|override|revert`: which directories this device syncs, and how.
import type { Argv } from 'yargs'
import { loadConfig, updateConfig, type FolderType } from '../config.js'
import { addFolder, removeFolder, setFolderPaused, setFolderSelection, setFolderSettings } from '../ops/folders.js'
import { findFolder } from '../ops/locate.js'
import { invoke, notifyAgent } from './invoke.js'
import { sharingCommands } from './device.js'
import { print, table } from './output.js'
import type { GlobalArgs } from './main.js'
import { FOLDER_TYPES } from '../core/folder-type.js'

const TYPES = FOLDER_TYPES
const TYPE_HELP = 'sendreceive (default), sendonly (remote changes are not applied here), receiveonly (local changes are not sent)'

export function folderCommands (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('folder', 'manage synced folders', y => sharingCommands(y
    .command('add <path>', 'start syncing a directory (creates its .lansync marker)',
      y => y.positional('path', { type: 'string', demandOption: true })
        .option('label', { type: 'string', describe: 'a name for people' })
        .option('id', { type: 'string', describe: 'folder ID (use the same ID on every device)' })
        .option('type', { choices: TYPES, describe: TYPE_HELP }),
      async args => {
        const folder = updateConfig(args.home, config => addFolder(config, args.home, { path: args.path, label: args.label, id: args.id, type: args.type as FolderType | undefined }))
        const isRunning = await notifyAgent(args.home)
        print(args, folder, () => `Added folder "${folder.label}" (id ${folder.id}) at ${folder.path}${isRunning ? '' : '\nIt is scanned when the agent starts (`lansync start`).'}`)
      })
    .command('list', 'list folders', y => y, args => {
      const { folders } = loadConfig(args.home)
      print(args, folders, () => folders.length === 0
        ? 'No folders yet: add one with `lansync folder add PATH`.'
        : table([['LABEL', 'ID', 'TYPE', 'PATH'], ...folders.map(f => [f.label, f.id, f.type + (f.isPaused ? ' (paused)' : ''), f.path])]))
    })
    .command('remove <folder>', "stop syncing a folder (the files stay; history stays in the store)",
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' }),
      async args => {
        const folder = updateConfig(args.home, config => removeFolder(config, args.folder))
        await notifyAgent(args.home)
        print(args, folder, () => `Stopped syncing "${folder.label}"; the files in ${folder.path} were not touched.`)
      })
    .command('set <folder>', "change a folder's settings",
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' })
        .option('max-delete-share', { type: 'number', describe: 'hold remote deletes of more than this share of the files at once (0-1, default 0.5; 1 = off) until `folder resume`' })
        .option('type', { choices: TYPES, describe: TYPE_HELP }),
      async args => {
        const folder = updateConfig(args.home, config => setFolderSettings(config, args.folder, { maxDeleteShare: args.maxDeleteShare, type: args.type as FolderType | undefined }))
        await notifyAgent(args.home)
        print(args, folder, () => [
          ...(args.maxDeleteShare !== undefined ? [`Folder "${folder.label}": remote deletes of more than ${Math.round(folder.maxDeleteShare * 100)}% of its files at once are held until \`lansync folder resume ${folder.label}\`${folder.maxDeleteShare >= 1 ? ' (guard off)' : ''}`] : []),
          ...(args.type !== undefined ? [`Folder "${folder.label}" is ${describeType(folder.type)}.`] : [])
        ].join('\n'))
      })
    .command('only <folder> [patterns..]', 'hold only the paths matching these patterns on this device (gitignore style, e.g. "docs/**"); nothing is deleted anywhere',
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' })
        .positional('patterns', { type: 'string', array: true, describe: 'what to hold here' })
        .option('all', { type: 'boolean', default: false, describe: 'hold everything again' }),
      async args => {
        const folder = updateConfig(args.home, config => setFolderSelection(config, args.folder, { patterns: args.patterns ?? [], isAll: args.all }))
        await notifyAgent(args.home)
        print(args, folder, () => folder.selection.length === 0
          ? `Folder "${folder.label}": this device holds everything again; what it did not hold is pulled now.`
          : `Folder "${folder.label}": this device holds only ${folder.selection.join(' ')}. Files already here stay (delete one to drop the copy here only); \`lansync fetch PATH\` brings any other file.`)
      })
    .command('pause <folder>', 'stop syncing a folder with every device (local changes are still recorded in history)',
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' }),
      async args => {
        const { folder, isChanged } = updateConfig(args.home, config => setFolderPaused(config, args.folder, true))
        await notifyAgent(args.home)
        print(args, folder, () => `${isChanged ? 'Paused' : 'Already paused:'} folder "${folder.label}": synced with no device until \`lansync folder resume ${folder.label}\`; local changes are still recorded in history.`)
      })
    .command('resume <folder>', 'sync a paused folder again; on a folder that is not paused, apply the remote deletes the mass-delete guard held (they stay in history)',
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'only list the held deletes' }),
      async args => {
        // A paused folder is only unpaused: held deletes are applied by a resume of its own, so
        // that undoing a pause never deletes anything a person did not look at.
        if (!args.dryRun && findFolder(loadConfig(args.home), args.folder).isPaused) {
          const { folder } = updateConfig(args.home, config => setFolderPaused(config, args.folder, false))
          await notifyAgent(args.home)
          const { held } = await invoke(args.home, 'folder.resume', { folder: folder.id, isDryRun: true })
          const result = { folder: folder.id, label: folder.label, wasPaused: true, held: held.length as number, deleted: 0, kept: 0 }
          print(args, result, () => `Resumed folder "${folder.label}": syncing with its devices again.` + (result.held === 0 ? '' : ` It still holds ${result.held} remote deletes: list them with \`lansync folder resume ${folder.label} --dry-run\`, and run \`lansync folder resume ${folder.label}\` again to apply them.`))
          return
        }
        if (args.dryRun) {
          const list = await invoke(args.home, 'folder.resume', { folder: args.folder, isDryRun: true })
          print(args, list, () => list.held.length === 0
            ? `Folder "${list.label as string}" holds no deletes.`
            : [`Folder "${list.label as string}": \`lansync folder resume ${list.label as string}\` would delete ${list.held.length as number}:`,
                ...list.held.map((h: any) => `  ${h.path as string}${h.kind === 'dir' ? '/' : ''} (deleted by ${h.deletedBy as string})`)].join('\n'))
          return
        }
        const result = { ...await invoke(args.home, 'folder.resume', { folder: args.folder }), wasPaused: false }
        print(args, result, () => result.held === 0
          ? `Folder "${result.label as string}" holds no deletes; nothing to resume.`
          : `Folder "${result.label as string}": ${result.deleted as number} held deletes applied${result.kept > 0 ? `, ${result.kept as number} files kept (changed here since)` : ''}; every deleted version stays in history (\`lansync restore PATH\`).`)
      })
    .command('override <folder>', "send-only: push this device's files over the remote changes it did not apply (peers keep theirs in history)",
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'only list what the peers would get' }),
      async args => {
        const result = await invoke(args.home, 'folder.override', { folder: args.folder, isDryRun: args.dryRun })
        const label = result.label as string
        print(args, result, () => {
          if (result.overridden === 0) return `Folder "${label}" is in sync: nothing to override.`
          const head = result.isDryRun === true
            ? `Folder "${label}": \`lansync folder override ${label}\` would push this device's version of ${plural(result.overridden, 'path')}:`
            : `Folder "${label}": this device's version of ${plural(result.overridden, 'path')} now wins; peers take it (their own versions stay in their history):`
          return [head, ...itemLines(result.items, OVERRIDE_WORDS)].join('\n')
        })
      })
    .command('revert <folder>', "receive-only: undo this device's local changes, taking the other devices' version back (the local edits stay in history)",
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'only list the local changes and what reverting does to each' }),
      async args => {
        const result = await invoke(args.home, 'folder.revert', { folder: args.folder, isDryRun: args.dryRun })
        const label = result.label as string
        const failed = result.failed as Array<{ path: string, code: string, message: string }>
        print(args, result, () => {
          if (result.reverted === 0 && failed.length === 0) return `Folder "${label}" has no local changes: nothing to revert.`
          const head = result.isDryRun === true
            ? `Folder "${label}": \`lansync folder revert ${label}\` would take the other devices' version back for ${plural(result.reverted, 'locally changed path')}:`
            : `Folder "${label}": ${plural(result.reverted, 'locally changed path')} reverted to the other devices' version; the local edits stay in history (\`lansync history PATH\`, \`lansync restore PATH\`):`
          return [head, ...itemLines(result.items, REVERT_WORDS), ...failed.map(f => `  not reverted: ${f.path}: ${f.code}: ${f.message}`)].join('\n')
        })
      })
    ).demandCommand(1, 'name a folder command: add, list, remove, set, only, pause, resume, override, revert, share, unshare, offers, accept'))
}

function describeType (type: FolderType): string {
  if (type === 'sendonly') return 'send only: remote changes are not applied here (`lansync folder override` pushes this device\'s files)'
  if (type === 'receiveonly') return 'receive only: local changes are not sent (`lansync folder revert` undoes them)'
  return 'send and receive'
}

const OVERRIDE_WORDS: Record<string, string> = { replace: 'their version replaced by this one', restore: 'restored (deleted there)', delete: 'deleted (not on this device)', index: 'already the same' }
const REVERT_WORDS: Record<string, string> = { replace: 'the local edit replaced by their version', restore: 'restored (deleted here)', delete: 'removed (added here)', index: 'already the same' }

/** The first 20 items, one a line, then how many more (--json lists all). */
function itemLines (items: Array<{ path: string, change: string }>, words: Record<string, string>): string[] {
  const lines = items.slice(0, 20).map(i => `  ${i.path}: ${words[i.change] ?? i.change}`)
  if (items.length > 20) lines.push(`  … ${items.length - 20} more (--json lists all)`)
  return lines
}

function plural (n: number, noun: string): string { return `${n} ${noun}${n === 1 ? '' : 's'}` }
