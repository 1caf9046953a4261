// The device key pair: an ed25519 key that is also the Noise static key of every connection.
// Created once by `lansync init`; the secret half never leaves identity.json (mode 0600).
import { existsSync, readFileSync } from 'node:fs'
import crypto from 'hypercore-crypto'
import { LansyncError } from './errors.js'
import { homePaths, writeFileAtomic } from './config.js'
import { deviceShort, encodeDeviceId } from './core/device-id.js'

export interface Identity {
  publicKey: Buffer
  secretKey: Buffer
  /** Printable device ID (with check characters). */
  deviceId: string
  /** Hex of the first 8 bytes of the public key: the device's name inside version vectors. */
  short: string
}

export function createIdentity (home: string): Identity {
  const { publicKey, secretKey } = crypto.keyPair()
  const file = homePaths(home).identity
  writeFileAtomic(file, JSON.stringify({ publicKey: publicKey.toString('hex'), secretKey: secretKey.toString('hex') }) + '\n', 0o600)
  return toIdentity(publicKey, secretKey)
}

export function loadIdentity (home: string): Identity {
  const file = homePaths(home).identity
  if (!existsSync(file)) throw new LansyncError('CONFIG_NOT_INITIALISED', `no device key in ${home}; run \`lansync init\` first`)
  try {
    const raw = JSON.parse(readFileSync(file, 'utf8'))
    const publicKey = Buffer.from(raw.publicKey, 'hex')
    const secretKey = Buffer.from(raw.secretKey, 'hex')
    if (publicKey.length !== 32 || secretKey.length !== 64) throw new Error('wrong key lengths')
    return toIdentity(publicKey, secretKey)
  } catch (err) {
    throw new LansyncError('CONFIG_INVALID', `${file} does not hold a valid device key: ${(err as Error).message}`, { cause: err })
  }
}

function toIdentity (publicKey: Buffer, secretKey: Buffer): Identity {
  return { publicKey, secretKey, deviceId: encodeDeviceId(publicKey), short: deviceShort(publicKey) }
}
