// Where to read a new version's content from when the file it replaces shares blocks with it: a
// block the old file holds is read from that file (it lies there whole, in order, next to its
// neighbours), the rest from the block store. Pure: it sees block lists and returns reads.
import type { BlockRef } from './types.js'
import { hex } from './bytes.js'

/** One read: a byte range of the old file, or blocks to take from the store, in content order. */
export type ContentRead =
  | { from: 'file', offset: number, sizeBytes: number }
  | { from: 'store', blocks: BlockRef[] }

export interface ContentReads {
  reads: ContentRead[]
  /** Bytes the old file provides. */
  fileBytes: number
}

/**
 * Plans the reads that give `wanted`'s content in order, given that the old file held `held` (its
 * blocks, in order, as last scanned). Blocks the old file holds one after another become one read
 * of up to `maxReadBytes` (a single block larger than that is one read of its own).
 */
export function planContentReads (wanted: readonly BlockRef[], held: readonly BlockRef[], maxReadBytes: number): ContentReads {
  if (!Number.isSafeInteger(maxReadBytes) || maxReadBytes < 1) throw new TypeError(`planContentReads: maxReadBytes must be a positive integer, got ${maxReadBytes}`)
  const offsets = new Map<string, number>()
  let offset = 0
  for (const block of held) {
    const key = hex(block.hash)
    if (!offsets.has(key)) offsets.set(key, offset)
    offset += block.sizeBytes
  }
  const reads: ContentRead[] = []
  let fileBytes = 0
  for (const block of wanted) {
    const at = offsets.get(hex(block.hash))
    const last = reads[reads.length - 1]
    if (at === undefined) {
      if (last?.from === 'store') last.blocks.push(block)
      else reads.push({ from: 'store', blocks: [block] })
      continue
    }
    fileBytes += block.sizeBytes
    if (last?.from === 'file' && last.offset + last.sizeBytes === at && last.sizeBytes + block.sizeBytes <= maxReadBytes) {
      last.sizeBytes += block.sizeBytes
    } else {
      reads.push({ from: 'file', offset: at, sizeBytes: block.sizeBytes })
    }
  }
  return { reads, fileBytes }
}
