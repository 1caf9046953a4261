// Readers for the fields of a decoded msgpack map: each checks one field's type and range and
// returns a fresh value, or throws PROTOCOL_INVALID_MESSAGE naming the field (e.g.
// `manifest.records[3].b[0][1]`). Only own properties are read, so nothing inherited leaks in.
import { LansyncError } from '../errors.js'

export type WireMap = Record<string, unknown>

// Text meant for people (names, labels, reasons): no C0, DEL or C1 controls that could drive a terminal.
const HUMAN_CONTROL = /[\u0000-\u001f\u007f-\u009f]/

export function invalid (field: string, problem: string): LansyncError {
  return new LansyncError('PROTOCOL_INVALID_MESSAGE', `${field}: ${problem}`)
}

/** A plain msgpack map (not an array, bin or any other object). */
export function asMap (value: unknown, field: string): WireMap {
  if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
    throw invalid(field, `expected a map, got ${describe(value)}`)
  }
  const proto = Object.getPrototypeOf(value)
  if (proto !== Object.prototype && proto !== null) throw invalid(field, `expected a map, got ${describe(value)}`)
  return value as WireMap
}

export function has (map: WireMap, key: string): boolean {
  return Object.hasOwn(map, key)
}

function get (map: WireMap, key: string, field: string): unknown {
  if (!Object.hasOwn(map, key)) throw invalid(field, 'missing')
  return map[key]
}

export interface IntRange { min?: number, max?: number }

/** An integer in [min, max] (defaults: 0 and 2^53 − 1). Accepts any msgpack int or an integral float. */
export function readInt (map: WireMap, key: string, field: string, { min = 0, max = Number.MAX_SAFE_INTEGER }: IntRange = {}): number {
  return checkInt(get(map, key, field), field, { min, max })
}

export function checkInt (value: unknown, field: string, { min = 0, max = Number.MAX_SAFE_INTEGER }: IntRange = {}): number {
  if (typeof value !== 'number') throw invalid(field, `expected an integer, got ${describe(value)}`)
  if (!Number.isSafeInteger(value)) throw invalid(field, `expected an integer, got ${value}`)
  if (value < min || value > max) throw invalid(field, `${value} is outside ${min}..${max}`)
  return value
}

export function readBool (map: WireMap, key: string, field: string): boolean {
  const value = get(map, key, field)
  if (typeof value !== 'boolean') throw invalid(field, `expected a boolean, got ${describe(value)}`)
  return value
}

export interface StringRule {
  minBytes?: number
  maxBytes: number
  pattern?: RegExp
  /** Shown to people: no control characters. */
  isHuman?: boolean
}

export function readString (map: WireMap, key: string, field: string, rule: StringRule): string {
  return checkString(get(map, key, field), field, rule)
}

export function checkString (value: unknown, field: string, { minBytes = 0, maxBytes, pattern, isHuman = false }: StringRule): string {
  if (typeof value !== 'string') throw invalid(field, `expected a string, got ${describe(value)}`)
  const bytes = Buffer.byteLength(value, 'utf8')
  if (bytes > maxBytes) throw invalid(field, `${bytes} bytes, more than ${maxBytes}`)
  if (bytes < minBytes) throw invalid(field, minBytes === 1 ? 'empty' : `${bytes} bytes, fewer than ${minBytes}`)
  if (pattern !== undefined && !pattern.test(value)) throw invalid(field, `${JSON.stringify(value)} does not match ${pattern.source}`)
  if (isHuman && HUMAN_CONTROL.test(value)) throw invalid(field, 'contains a control character')
  return value
}

export interface BinRule { minBytes: number, maxBytes: number }

/** A msgpack bin. Returns a view into the decoded frame unless `isCopy` (for values kept long). */
export function readBin (map: WireMap, key: string, field: string, rule: BinRule, isCopy = false): Buffer {
  return checkBin(get(map, key, field), field, rule, isCopy)
}

export function checkBin (value: unknown, field: string, { minBytes, maxBytes }: BinRule, isCopy = false): Buffer {
  if (!(value instanceof Uint8Array)) throw invalid(field, `expected bytes, got ${describe(value)}`)
  if (value.byteLength < minBytes || value.byteLength > maxBytes) {
    throw invalid(field, minBytes === maxBytes
      ? `${value.byteLength} bytes, expected ${minBytes}`
      : `${value.byteLength} bytes, outside ${minBytes}..${maxBytes}`)
  }
  // Buffer.from(buffer) copies; the three-argument form makes a view.
  return isCopy ? Buffer.from(value) : Buffer.from(value.buffer, value.byteOffset, value.byteLength)
}

export function readArray (map: WireMap, key: string, field: string, maxItems: number): unknown[] {
  return checkArray(get(map, key, field), field, maxItems)
}

export function checkArray (value: unknown, field: string, maxItems: number): unknown[] {
  if (!Array.isArray(value)) throw invalid(field, `expected an array, got ${describe(value)}`)
  if (value.length > maxItems) throw invalid(field, `${value.length} items, more than ${maxItems}`)
  return value
}

function describe (value: unknown): string {
  if (value === null) return 'nil'
  if (Array.isArray(value)) return 'an array'
  if (value instanceof Uint8Array) return 'bytes'
  if (typeof value === 'object') return 'a map'
  return `a ${typeof value}`
}
