// `lansync init` creates this device (key pair and config); `lansync id` prints its device ID.
import { existsSync, mkdirSync } from 'node:fs'
import type { Argv } from 'yargs'
import { defaultConfig, homePaths, loadConfig, saveConfig, parseHostPort } from '../config.js'
import { createIdentity, loadIdentity } from '../identity.js'
import { LansyncError } from '../errors.js'
import { print } from './output.js'
import type { GlobalArgs } from './main.js'

export function initCommands (cli: Argv<GlobalArgs>): Argv<GlobalArgs> {
  return cli
    .command('init', 'create this device: its key pair and config',
      y => y.option('name', { type: 'string', describe: 'device name shown to other devices' })
        .option('listen', { type: 'string', describe: 'address to listen on, HOST:PORT' }),
      args => {
        const paths = homePaths(args.home)
        if (existsSync(paths.identity) || existsSync(paths.config)) {
          throw new LansyncError('CONFIG_EXISTS', `${args.home} already holds a device (${loadIdentity(args.home).deviceId}); nothing was changed`)
        }
        const config = defaultConfig()
        if (args.name !== undefined) config.deviceName = args.name
        if (args.listen !== undefined) { parseHostPort(args.listen, '--listen'); config.listen = args.listen }
        mkdirSync(args.home, { recursive: true, mode: 0o700 })
        const identity = createIdentity(args.home)
        saveConfig(args.home, config)
        print(args, { deviceId: identity.deviceId, name: config.deviceName, home: args.home },
          () => `Created device "${config.deviceName}" in ${args.home}\nDevice ID: ${identity.deviceId}`)
      })
    .command('id', "print this device's ID", y => y, args => {
      loadConfig(args.home)
      const identity = loadIdentity(args.home)
      print(args, { deviceId: identity.deviceId }, () => identity.deviceId)
    })
}
