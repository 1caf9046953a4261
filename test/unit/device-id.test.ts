import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { readFileSync } from 'node:fs'
import { randomBytes } from 'node:crypto'
import { decodeDeviceId, deviceShort, encodeDeviceId, shortDeviceLabel } from '../../src/core/device-id.js'
import { isLansyncError } from '../../src/errors.js'

// Published Syncthing device IDs (lib/protocol and lib/config tests): the same base32 + Luhn mod 32
// format, so they pin our check-character algorithm to theirs.
const SYNCTHING_IDS = [
  'P56IOI7-MZJNU2Y-IQGDREY-DM2MGTI-MGL3BXN-PQ6W5BM-TBBZ4TJ-XZWICQ2',
  'GYRZZQB-IRNPV4Z-T7TC52W-EQYJ3TT-FDQW6MW-DFLMU42-SSSU6EM-FBK2VAY',
  'LGFPDIT-7SKNNJL-VJZA4FC-7QNCRKA-CE753K7-2BW5QDK-2FOZ7FR-FEP57QJ'
]

function rejects (text: string, pattern: RegExp): void {
  try {
    decodeDeviceId(text)
  } catch (err) {
    assert.ok(isLansyncError(err, 'DEVICE_ID_INVALID'), `code of ${String(err)}`)
    assert.match((err as Error).message, pattern)
    return
  }
  assert.unreachable(`${text} was accepted`)
}

for (const id of SYNCTHING_IDS) {
  test(`Syncthing's ${id.slice(0, 7)} decodes and re-encodes identically`, () => {
    const key = decodeDeviceId(id)
    assert.is(key.byteLength, 32)
    assert.is(encodeDeviceId(key), id)
  })
}

test('format: 8 groups of 7 from the base32 alphabet', () => {
  for (let i = 0; i < 200; i++) {
    const key = randomBytes(32)
    const id = encodeDeviceId(key)
    assert.match(id, /^[A-Z2-7]{7}(-[A-Z2-7]{7}){7}$/)
    assert.equal(Buffer.from(decodeDeviceId(id)), key)
  }
})

test('parsing tolerates case, missing and extra dashes and spaces', () => {
  const id = SYNCTHING_IDS[0]
  const key = decodeDeviceId(id)
  for (const variant of [id.toLowerCase(), id.replace(/-/g, ''), id.replace(/-/g, ' '), ` ${id.replace(/-/g, '--')}\n`, id.replace(/-/g, '').replace(/(.{4})/g, '$1 ')]) {
    assert.equal(decodeDeviceId(variant), key, variant)
  }
})

test('a wrong length says how many characters there are', () => {
  rejects('', /0 characters/)
  rejects(SYNCTHING_IDS[0].slice(0, -1), /55 characters.*56/)
  rejects(SYNCTHING_IDS[0] + 'A', /57 characters/)
  // Syncthing's 52-character form has no check characters: refused.
  rejects('P56IOI7MZJNU2IQGDREYDM2MGTMGL3BXNPQ6W5BTBBZ4TJXZWICQ', /52 characters/)
})

test('a bad character is named with its position and a hint for look-alikes', () => {
  const id = SYNCTHING_IDS[0]
  rejects(id.replace('P56', 'P06'), /'0' at character 2.*did you mean 'O'/)
  rejects(id.replace('P56', 'P5!'), /'!' at character 3/)
})

test('every single-character typo is caught by a check character', () => {
  const compact = SYNCTHING_IDS[1].replace(/-/g, '')
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567'
  for (let i = 0; i < compact.length; i++) {
    for (const ch of alphabet) {
      if (ch === compact[i]) continue
      const typo = compact.slice(0, i) + ch + compact.slice(i + 1)
      rejects(typo, /mistyped/)
    }
  }
})

test('a check character mismatch names which one', () => {
  const compact = SYNCTHING_IDS[0].replace(/-/g, '')
  const typo = compact.slice(0, 13) + 'A' + compact.slice(14) // 'Y' is the first check character
  rejects(typo, /check character 1 of 4.*'A', expected 'Y'/)
})

test('an ID whose last data character has padding bits set is refused', () => {
  // 'Q' (16) ends the Syncthing ID: its 4 low bits are 0. 'R' (17) sets one; fix up the check char.
  const compact = SYNCTHING_IDS[0].replace(/-/g, '')
  const chunk = compact.slice(42, 55).replace(/Q$/, 'R')
  for (const check of 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567') {
    try {
      decodeDeviceId(compact.slice(0, 42) + chunk + check)
      assert.unreachable('accepted non-zero padding bits')
    } catch (err) {
      assert.ok(isLansyncError(err, 'DEVICE_ID_INVALID'))
      if (!/check character/.test((err as Error).message)) {
        assert.match((err as Error).message, /bits set/)
        return
      }
    }
  }
  assert.unreachable('no check character fitted')
})

test('deviceShort is hex of the first 8 bytes; the label is the first group', () => {
  const key = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex')
  assert.is(deviceShort(key), '0001020304050607')
  assert.is(deviceShort(new Uint8Array(key.buffer, key.byteOffset, 32)), '0001020304050607')
  const id = encodeDeviceId(key)
  assert.is(shortDeviceLabel(id), id.slice(0, 7))
  assert.is(shortDeviceLabel(id.toLowerCase().replace(/-/g, '')), id.slice(0, 7))
  assert.throws(() => shortDeviceLabel('nonsense'), (err: unknown) => isLansyncError(err, 'DEVICE_ID_INVALID'))
})

test('keys that are not 32 bytes are programmer errors', () => {
  assert.throws(() => encodeDeviceId(new Uint8Array(31)), TypeError)
  assert.throws(() => deviceShort(new Uint8Array(33)), TypeError)
})

test('the example in protocol.md is what the code computes', () => {
  const text = readFileSync(new URL('../../protocol.md', import.meta.url), 'utf8')
  const key = /^public key\s+([0-9a-f]{64})$/m.exec(text)?.[1]
  const id = /^device ID\s+(\S+)$/m.exec(text)?.[1]
  const short = /^device short\s+(\S+)$/m.exec(text)?.[1]
  const label = /^device label\s+(\S+)$/m.exec(text)?.[1]
  assert.ok(key !== undefined && id !== undefined && short !== undefined && label !== undefined, 'example block found')
  const bytes = Buffer.from(key, 'hex')
  assert.is(encodeDeviceId(bytes), id)
  assert.is(deviceShort(bytes), short)
  assert.is(shortDeviceLabel(id), label)
})

test.run()
