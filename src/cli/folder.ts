// `lansync folder add|list|remove|set|resume`: which directories this device syncs, and how.
import type { Argv } from 'yargs'
import { loadConfig, updateConfig, type FolderType } from '../config.js'
import { addFolder, removeFolder, setFolderSettings } from '../ops/folders.js'
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
    .command('override <folder>', "send-only: push this device's files over the remote changes it did not apply (peers keep theirs in history)",
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' }),
      async args => {
        const result = await invoke(args.home, 'folder.override', { folder: args.folder })
        print(args, result, () => result.overridden === 0
          ? `Folder "${result.label as string}" is in sync: nothing to override.`
          : `Folder "${result.label as string}": this device's version of ${result.overridden as number} path${result.overridden === 1 ? '' : 's'} now wins; peers take it (their own versions stay in their history).`)
      })
    .command('revert <folder>', "receive-only: undo this device's local changes, taking the other devices' version back (the local edits stay in history)",
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' }),
      async args => {
        const result = await invoke(args.home, 'folder.revert', { folder: args.folder })
        const failed = result.failed as Array<{ path: string, code: string, message: string }>
        print(args, result, () => [
          result.reverted === 0 && failed.length === 0
            ? `Folder "${result.label as string}" has no local changes: nothing to revert.`
            : `Folder "${result.label as string}": ${result.reverted as number} locally changed path${result.reverted === 1 ? '' : 's'} reverted to the other devices' version; the local edits stay in history (\`lansync history PATH\`, \`lansync restore PATH\`).`,
          ...failed.map(f => `  not reverted: ${f.path}: ${f.code}: ${f.message}`)
        ].join('\n'))
      })
    .command('resume <folder>', 'apply the remote deletes the mass-delete guard held (they stay in history)',
      y => y.positional('folder', { type: 'string', demandOption: true, describe: 'label, id or path' })
        .option('dry-run', { type: 'boolean', default: false, describe: 'only list the held deletes' }),
      async args => {
        if (args.dryRun) {
          const list = await invoke(args.home, 'folder.resume', { folder: args.folder, isDryRun: true })
          print(args, list, () => list.held.length === 0
            ? `Folder "${list.label as string}" holds no deletes.`
            : [`Folder "${list.label as string}": \`lansync folder resume ${list.label as string}\` would delete ${list.held.length as number}:`,
                ...list.held.map((h: any) => `  ${h.path as string}${h.kind === 'dir' ? '/' : ''} (deleted by ${h.deletedBy as string})`)].join('\n'))
          return
        }
        const result = await invoke(args.home, 'folder.resume', { folder: args.folder })
        print(args, result, () => result.held === 0
          ? `Folder "${result.label as string}" holds no deletes; nothing to resume.`
          : `Folder "${result.label as string}": ${result.deleted as number} held deletes applied${result.kept > 0 ? `, ${result.kept as number} files kept (changed here since)` : ''}; every deleted version stays in history (\`lansync restore PATH\`).`)
      })
    ).demandCommand(1, 'name a folder command: add, list, remove, set, resume, override, revert, share, unshare, offers, accept'))
}

function describeType (type: FolderType): string {
  if (type === 'sendonly') return 'send only: remote changes are not applied here (`lansync folder override` pushes this device\'s files)'
  if (type === 'receiveonly') return 'receive only: local changes are not sent (`lansync folder revert` undoes them)'
  return 'send and receive'
}
