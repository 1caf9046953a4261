// The overall bandwidth limits as a config change (a device's own are in ops/devices.ts).
import { type Config } from '../config.js'
import { isRateLimit } from '../core/rate.js'
import { LansyncError } from '../errors.js'

export interface LimitChanges { maxSendBps?: unknown, maxRecvBps?: unknown }

/**
 * Sets the overall limits, bytes per second (0: none); an absent one stays. Throws ARG_INVALID for
 * a value that is not a valid limit (callers over the control socket send numbers, not text).
 */
export function setOverallLimits (config: Config, changes: LimitChanges): { maxSendBps: number, maxRecvBps: number } {
  if (changes.maxSendBps === undefined && changes.maxRecvBps === undefined) {
    throw new LansyncError('ARG_INVALID', 'name a limit to set: --max-send RATE and/or --max-recv RATE (0: no limit)')
  }
  for (const key of ['maxSendBps', 'maxRecvBps'] as const) {
    const value = changes[key]
    if (value !== undefined && !isRateLimit(value)) throw new LansyncError('ARG_INVALID', `${key} must be 0 (no limit) or a whole number of bytes per second from 1000, not ${JSON.stringify(value)}`)
  }
  if (changes.maxSendBps !== undefined) config.maxSendBps = changes.maxSendBps as number
  if (changes.maxRecvBps !== undefined) config.maxRecvBps = changes.maxRecvBps as number
  return { maxSendBps: config.maxSendBps, maxRecvBps: config.maxRecvBps }
}
