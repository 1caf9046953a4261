import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { randomBytes } from 'node:crypto'
import { CODE_ALPHABET, checkCharacter, pairingCodeFromBytes, parsePairingCode } from '../../src/core/pairing-code.js'
import { isLansyncError } from '../../src/errors.js'

function rejects (text: string, pattern: RegExp): void {
  try {
    parsePairingCode(text)
  } catch (err) {
    assert.ok(isLansyncError(err, 'PAIR_CODE_INVALID'), `code of ${String(err)}`)
    assert.match((err as Error).message, pattern)
    return
  }
  assert.unreachable(`${text} was accepted`)
}

test('fixed bytes give fixed codes (40 bits, big-endian, 5 bits a character)', () => {
  assert.equal(pairingCodeFromBytes(new Uint8Array(5)), { text: '000-000-000', secret: '00000000' })
  assert.is(pairingCodeFromBytes(Uint8Array.from([0xff, 0xff, 0xff, 0xff, 0xff])).secret, 'ZZZZZZZZ')
  // 0x0123456789 = 00000 00100 10001 10100 01010 11001 11100 01001
  assert.is(pairingCodeFromBytes(Uint8Array.from([0x01, 0x23, 0x45, 0x67, 0x89])).secret, '04HMASW9')
})

test('a code prints as three groups of three and parses back, in any case and spacing', () => {
  for (let i = 0; i < 200; i++) {
    const code = pairingCodeFromBytes(randomBytes(5))
    assert.match(code.text, /^[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}-[0-9A-HJKMNP-TV-Z]{3}$/)
    assert.equal(parsePairingCode(code.text), code)
    assert.equal(parsePairingCode(code.text.toLowerCase().replace(/-/g, ' ')), code)
    assert.equal(parsePairingCode(code.text.replace(/-/g, '')), code)
  }
})

test('O reads as 0 and I, L as 1 (letters people type for the digits)', () => {
  const code = pairingCodeFromBytes(Uint8Array.from([0, 0, 0, 0, 33]))
  assert.is(code.secret, '00000011')
  assert.equal(parsePairingCode(code.text.replace(/0/g, 'O').replace('1', 'I').replace('1', 'l')), code)
})

test('every single mistyped character is caught by the check character', () => {
  for (let n = 0; n < 20; n++) {
    const code = pairingCodeFromBytes(randomBytes(5))
    const all = code.secret + checkCharacter(code.secret)
    for (let i = 0; i < all.length; i++) {
      for (const ch of CODE_ALPHABET) {
        if (ch === all[i]) continue
        const typo = all.slice(0, i) + ch + all.slice(i + 1)
        assert.throws(() => parsePairingCode(typo), (err: unknown) => isLansyncError(err, 'PAIR_CODE_INVALID'), `${typo} for ${all}`)
      }
    }
  }
})

test('swapping two neighbouring characters is caught (but for the pair 0/Z, as with any Luhn)', () => {
  let missed = 0
  let tried = 0
  for (let n = 0; n < 300; n++) {
    const code = pairingCodeFromBytes(randomBytes(5))
    const all = code.secret + checkCharacter(code.secret)
    for (let i = 0; i + 1 < all.length; i++) {
      if (all[i] === all[i + 1]) continue
      tried++
      const swapped = all.slice(0, i) + all[i + 1] + all[i] + all.slice(i + 2)
      try { parsePairingCode(swapped); missed++; assert.ok(new Set([all[i], all[i + 1]]).has('0') && new Set([all[i], all[i + 1]]).has('Z'), swapped) } catch (err) {
        if (!isLansyncError(err, 'PAIR_CODE_INVALID')) throw err
      }
    }
  }
  assert.ok(missed / tried < 0.01, `${missed} of ${tried} swaps missed`)
})

test('clear errors: length, characters no code uses, a mistyped code', () => {
  rejects('K7Q-F9M', /has 6 characters .* a pairing code has 9/)
  rejects('K7Q-F9M-2DXX', /has 10 characters/)
  rejects('K7Q-F9M-2DU', /'U' at character 9, which no pairing code uses/)
  rejects('K7Q-F9M-2D!', /'!' at character 9/)
  const code = pairingCodeFromBytes(Uint8Array.from([1, 2, 3, 4, 5]))
  const last = code.text.slice(-1)
  rejects(code.text.slice(0, -1) + (last === 'A' ? 'B' : 'A'), /is mistyped/)
  assert.throws(() => parsePairingCode(5 as unknown as string), TypeError)
  assert.throws(() => pairingCodeFromBytes(new Uint8Array(4)), TypeError)
})

test.run()
