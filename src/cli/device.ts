// `lansync device add|list|remove` and `lansync folder share|unshare|accept|offers`.
import type { Argv } from 'yargs'
import { existsSync, mkdirSync, rmdirSync } from 'node:fs'
import { resolve } from 'node:path'
import { loadConfig, updateConfig, type FolderConfig } from '../config.js'
import { loadIdentity } from '../identity.js'
import { addDevice, removeDevice, setDeviceLimits, setDevicePaused, shareFolder, unshareFolder } from '../ops/devices.js'
import { formatRate, parseRate } from '../core/rate.js'
import { RATE_HELP } from './limits.js'
import { addFolder } from '../ops/folders.js'
import { LansyncError } from '../errors.js'
import { invoke, notifyAgent } from './invoke.js'
import { print, table } from './output.js'
import type { GlobalArgs } from './main.js'

export function deviceCommands (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli.command('device', 'manage paired devices', y => y
    .command('add <id>', 'pair a device by its ID (run the same on the other device with this one\'s ID)',
      y => y.positional('id', { type: 'string', demandOption: true, describe: 'device ID' })
        .option('addr', { type: 'string', array: true, describe: 'a static address HOST:PORT to dial' })
        .option('name', { type: 'string', describe: 'a name for people' }),
      async args => {
        const self = loadIdentity(args.home).deviceId
        const device = updateConfig(args.home, c => addDevice(c, self, { id: args.id, addresses: args.addr, name: args.name }))
        await notifyAgent(args.home)
        print(args, device, () => `Paired with "${device.name}" (${device.id})${device.addresses.length > 0 ? ` at ${device.addresses.join(', ')}` : ''}`)
      })
    .command('list', 'list paired devices', y => y, async args => {
      const config = loadConfig(args.home)
      let live: any[] = []
      try { live = (await invoke(args.home, 'status', {})).peers ?? [] } catch {}
      const rows = config.devices.map(d => {
        const peer = live.find(p => p.deviceId === d.id)
        return { ...d, isConnected: peer?.isConnected === true, address: peer?.address }
      })
      print(args, rows, () => rows.length === 0
        ? 'No paired devices: pair one with `lansync pair`, or add one with `lansync device add DEVICE-ID --addr HOST:PORT`.'
        : table([['NAME', 'DEVICE ID', 'ADDRESSES', 'CONNECTED'], ...rows.map(d => [d.name, d.id, d.addresses.join(',') || '-', d.isPaused === true ? 'paused' : d.isConnected ? `yes (${String(d.address)})` : 'no'])]))
    })
    .command('set <device>', "change a device's settings: its own bandwidth limits (the overall ones apply too)",
      y => y.positional('device', { type: 'string', demandOption: true, describe: 'device ID or name' })
        .option('max-send', { type: 'string', describe: `limit on file data sent to this device, ${RATE_HELP}` })
        .option('max-recv', { type: 'string', describe: `limit on file data received from this device, ${RATE_HELP}` }),
      async args => {
        const maxSendBps = args.maxSend === undefined ? undefined : parseRate(args.maxSend, '--max-send')
        const maxRecvBps = args.maxRecv === undefined ? undefined : parseRate(args.maxRecv, '--max-recv')
        const device = updateConfig(args.home, c => setDeviceLimits(c, args.device, { maxSendBps, maxRecvBps }))
        await notifyAgent(args.home)
        print(args, device, () => `Device "${device.name}": send ${formatRate(device.maxSendBps ?? 0)}, receive ${formatRate(device.maxRecvBps ?? 0)} (the overall limits, \`lansync limits\`, apply too)`)
      })
    .command('pause <device>', 'stop syncing with a device: its connection closes, it is not dialed and not accepted (kept in the config)',
      y => y.positional('device', { type: 'string', demandOption: true, describe: 'device ID or name' }),
      async args => {
        const { device, isChanged } = updateConfig(args.home, c => setDevicePaused(c, args.device, true))
        await notifyAgent(args.home)
        print(args, device, () => `${isChanged ? 'Paused' : 'Already paused:'} "${device.name}": no connection until \`lansync device resume ${device.name}\``)
      })
    .command('resume <device>', 'sync with a paused device again',
      y => y.positional('device', { type: 'string', demandOption: true, describe: 'device ID or name' }),
      async args => {
        const { device, isChanged } = updateConfig(args.home, c => setDevicePaused(c, args.device, false))
        await notifyAgent(args.home)
        print(args, device, () => isChanged ? `Resumed "${device.name}": connecting again` : `"${device.name}" is not paused`)
      })
    .command('remove <device>', 'unpair a device (its connection closes at once)',
      y => y.positional('device', { type: 'string', demandOption: true, describe: 'device ID or name' }),
      async args => {
        const device = updateConfig(args.home, c => removeDevice(c, args.device))
        await notifyAgent(args.home)
        print(args, device, () => `Removed "${device.name}" (${device.id})`)
      })
    .demandCommand(1, 'name a device command: add, list, remove, set, pause, resume'))
}

export function sharingCommands (y: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return y
    .command('share <folder> <device>', 'share a folder with a paired device',
      y => y.positional('folder', { type: 'string', demandOption: true }).positional('device', { type: 'string', demandOption: true }),
      async args => {
        const { folder, device } = updateConfig(args.home, c => shareFolder(c, args.folder, args.device))
        await notifyAgent(args.home)
        print(args, { folder: folder.id, device: device.id }, () => `Sharing "${folder.label}" with "${device.name}"`)
      })
    .command('unshare <folder> <device>', 'stop sharing a folder with a device',
      y => y.positional('folder', { type: 'string', demandOption: true }).positional('device', { type: 'string', demandOption: true }),
      async args => {
        const { folder, device } = updateConfig(args.home, c => unshareFolder(c, args.folder, args.device))
        await notifyAgent(args.home)
        print(args, { folder: folder.id, device: device.id }, () => `No longer sharing "${folder.label}" with "${device.name}"`)
      })
    .command('offers', 'folders paired devices offered to share with this one', y => y, args => {
      const { offers, devices } = loadConfig(args.home)
      const nameOf = (id: string): string => devices.find(d => d.id === id)?.name ?? ''
      print(args, offers, () => offers.length === 0
        ? 'No folder offers.'
        : table([['FOLDER ID', 'LABEL', 'FROM', 'DEVICE ID'], ...offers.map(o => [o.folderId, o.label, nameOf(o.fromDevice), o.fromDevice])]) +
          '\nAccept one with `lansync folder accept FOLDER-ID PATH`.')
    })
    .command('accept <id> <path>', 'accept a folder a device offered, syncing it into PATH',
      y => y.positional('id', { type: 'string', demandOption: true, describe: 'folder ID from `lansync folder offers`' })
        .positional('path', { type: 'string', demandOption: true }),
      async args => {
        // Like Syncthing, accepting into a path that does not exist yet creates it (and only it:
        // if the accept fails, the new empty directory goes again).
        const target = resolve(args.path)
        const isCreated = !existsSync(target)
        if (isCreated) mkdirSync(target, { recursive: true })
        const accept = (): FolderConfig => updateConfig(args.home, c => {
          const offer = c.offers.find(o => o.folderId === args.id)
          if (offer === undefined) throw new LansyncError('FOLDER_NOT_FOUND', `no device offered folder ${args.id} (see \`lansync folder offers\`)`)
          const added = addFolder(c, args.home, { path: args.path, id: offer.folderId, label: c.folders.some(f => f.label === offer.label) ? offer.folderId : offer.label })
          added.sharedWith = [...new Set(c.offers.filter(o => o.folderId === args.id).map(o => o.fromDevice))]
          c.offers = c.offers.filter(o => o.folderId !== args.id)
          return added
        })
        let folder: FolderConfig
        try {
          folder = accept()
        } catch (err) {
          if (isCreated) rmdirSync(target)
          throw err
        }
        await notifyAgent(args.home)
        print(args, folder, () => `Accepted "${folder.label}" into ${folder.path}, shared with ${folder.sharedWith.length} device(s)`)
      })
}
