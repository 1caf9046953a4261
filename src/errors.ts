// One error class for everything lansync reports on purpose. The `code` is API and stable;
// the message is for people and may change. Anything that is not a LansyncError is a bug.

export type ErrorCode =
  | 'CONFIG_INVALID' | 'CONFIG_NOT_INITIALISED' | 'CONFIG_EXISTS'
  | 'FOLDER_NOT_FOUND' | 'FOLDER_MARKER_MISSING' | 'FOLDER_OVERLAPS' | 'FOLDER_EXISTS' | 'FOLDER_PATH_INVALID'
  | 'FOLDER_PAUSED' | 'FOLDER_LOCAL_CHANGED' | 'FOLDER_TYPE_MISMATCH' | 'SCAN_STOPPED'
  | 'PATH_INVALID' | 'PATH_NOT_FOUND' | 'PATH_UNREADABLE' | 'PATH_NOT_IN_FOLDER' | 'PATH_CHANGING'
  | 'PATH_UNREPRESENTABLE' | 'PATH_UNSYNCABLE' | 'PATH_IGNORED' | 'PATH_UNWRITABLE' | 'PATH_BLOCKED' | 'DISK_FULL' | 'PATH_APPLY_FAILED'
  | 'STORE_LOCKED' | 'STORE_CORRUPT' | 'STORE_BLOCK_MISSING' | 'STORE_IO' | 'STORE_FULL'
  | 'VERSION_NOT_FOUND' | 'ARG_INVALID' | 'CONFLICT_NOT_FOUND'
  | 'DEVICE_ID_INVALID' | 'DEVICE_NOT_FOUND' | 'DEVICE_EXISTS'
  | 'PROTOCOL_FRAME_TOO_LARGE' | 'PROTOCOL_DECODE' | 'PROTOCOL_INVALID_MESSAGE' | 'PROTOCOL_UNEXPECTED'
  | 'PROTOCOL_VERSION' | 'PROTOCOL_BLOCK_HASH' | 'PROTOCOL_LIMIT'
  | 'TRANSPORT_HANDSHAKE' | 'TRANSPORT_TIMEOUT' | 'TRANSPORT_CLOSED' | 'TRANSPORT_LISTEN'
  | 'PEER_UNKNOWN' | 'PEER_FOLDER_NOT_SHARED' | 'PEER_BLOCK_UNAVAILABLE' | 'PEER_NOT_CONNECTED'
  | 'PAIR_CODE_INVALID' | 'PAIR_EXPIRED' | 'PAIR_REJECTED' | 'PAIR_RATE_LIMITED' | 'PAIR_BUSY' | 'PAIR_CANCELLED'
  | 'WAN_PUBLIC_DHT_FORBIDDEN'
  | 'AGENT_NOT_RUNNING' | 'AGENT_RUNNING' | 'CONTROL_FAILED'
  | 'DASHBOARD_OFF' | 'DASHBOARD_LISTEN'

export class LansyncError extends Error {
  readonly code: ErrorCode
  constructor (code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.code = code
    this.name = 'LansyncError'
  }
}

export function isLansyncError (err: unknown, code?: ErrorCode): err is LansyncError {
  return err instanceof LansyncError && (code === undefined || err.code === code)
}
