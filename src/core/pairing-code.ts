// Pairing codes: the short secret a person reads from one device and types into the other
// (protocol.md section 8.2). 8 characters of Crockford base32 (40 random bits) and one Luhn mod 32
// check character, printed as three groups of three: `K7Q-F9M-2DX`. Pure: randomness is passed in.
import { LansyncError } from '../errors.js'

/** Crockford's base32: digits and letters without I, L, O, U (no two read alike). */
export const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ'
/** Random bytes a code is made of: 40 bits, exactly 8 characters. */
export const CODE_SECRET_BYTES = 5
export const CODE_SECRET_CHARS = 8
/** Secret characters plus the check character. */
export const CODE_CHARS = CODE_SECRET_CHARS + 1
const GROUP_CHARS = 3

export interface PairingCode {
  /** As printed for people: `K7Q-F9M-2DX`. */
  text: string
  /** The 8 secret characters, upper case, no check character: the PAKE's password. */
  secret: string
}

/** The code made of 5 random bytes (pass `crypto.randomBytes(5)`). */
export function pairingCodeFromBytes (bytes: Uint8Array): PairingCode {
  if (!(bytes instanceof Uint8Array) || bytes.byteLength !== CODE_SECRET_BYTES) {
    throw new TypeError(`a pairing code is made of ${CODE_SECRET_BYTES} random bytes`)
  }
  let value = 0n
  for (const b of bytes) value = (value << 8n) | BigInt(b)
  let secret = ''
  for (let i = CODE_SECRET_CHARS - 1; i >= 0; i--) secret += CODE_ALPHABET[Number((value >> BigInt(5 * i)) & 31n)]
  return withCheck(secret)
}

/**
 * Reads a code as a person typed it: any case, with or without dashes and spaces; `O` is read as
 * `0` and `I`/`L` as `1` (Crockford's rule). Throws PAIR_CODE_INVALID saying what is wrong.
 */
export function parsePairingCode (typed: string): PairingCode {
  if (typeof typed !== 'string') throw new TypeError('a pairing code must be a string')
  const compact = typed.replace(/[\s-]+/g, '').toUpperCase()
  if (compact.length !== CODE_CHARS) {
    throw new LansyncError('PAIR_CODE_INVALID', `pairing code "${typed}" has ${compact.length} characters without dashes and spaces; a pairing code has ${CODE_CHARS} (like K7Q-F9M-2DX)`)
  }
  let canonical = ''
  for (let i = 0; i < compact.length; i++) {
    const ch = READ_AS[compact[i]] ?? compact[i]
    if (!CODE_ALPHABET.includes(ch)) {
      throw new LansyncError('PAIR_CODE_INVALID', `pairing code "${typed}" has '${compact[i]}' at character ${i + 1}, which no pairing code uses (digits and letters except I, L, O and U)`)
    }
    canonical += ch
  }
  const secret = canonical.slice(0, CODE_SECRET_CHARS)
  const expected = checkCharacter(secret)
  if (canonical[CODE_SECRET_CHARS] !== expected) {
    throw new LansyncError('PAIR_CODE_INVALID', `pairing code "${typed}" is mistyped (its last character does not match the others); check it against the code the other device shows`)
  }
  return withCheck(secret)
}

/**
 * Luhn mod 32 over the secret characters (right to left, doubling every other value from the
 * rightmost): catches every single mistyped character and nearly every swap of two neighbours.
 */
export function checkCharacter (secret: string): string {
  let factor = 2
  let sum = 0
  for (let i = secret.length - 1; i >= 0; i--) {
    const value = CODE_ALPHABET.indexOf(secret[i])
    if (value < 0) throw new TypeError(`'${secret[i]}' is not a pairing code character`)
    const addend = factor * value
    sum += Math.floor(addend / 32) + (addend % 32)
    factor = factor === 2 ? 1 : 2
  }
  return CODE_ALPHABET[(32 - (sum % 32)) % 32]
}

function withCheck (secret: string): PairingCode {
  const all = secret + checkCharacter(secret)
  const groups: string[] = []
  for (let i = 0; i < all.length; i += GROUP_CHARS) groups.push(all.slice(i, i + GROUP_CHARS))
  return { text: groups.join('-'), secret }
}

/** Characters people type for ones the alphabet leaves out. */
const READ_AS: Record<string, string> = { O: '0', I: '1', L: '1' }
