// Which byte ranges of a file differ between two versions of the same size, block by block: an
// edit inside a big file (4 KiB overwritten in 256 MiB) changes one or a few content-defined
// blocks, and the chunker cuts the rest where it did before, at the same offsets. Writing only
// those ranges over the old file replaces rewriting the whole file. Pure: block lists in, ranges out.
import type { BlockRef } from './types.js'
import { bytesEqual, totalBlockBytes } from './bytes.js'

/** One range to overwrite: the new version's blocks there, and the old version's (to write back on undo). */
export interface PatchRegion {
  offset: number
  sizeBytes: number
  /** The new version's blocks covering [offset, offset + sizeBytes), in order. */
  blocks: BlockRef[]
  /** The old version's blocks covering the same range, in order. */
  heldBlocks: BlockRef[]
}

/** What puts a half-patched file back as it was (fs/patch.ts): in the store before the patch's first write. */
export interface PatchUndo {
  /** The file patched, as the index knew it before the patch. */
  inode: number
  sizeBytes: number
  mtimeMs: number
  mode: number
  /** The mtime the patch gives the file when done. */
  newMtimeMs: number
  /** When the patch began (wall clock, ms). */
  startedMs: number
  /** The ranges overwritten, with the old version's blocks there. */
  regions: Array<{ offset: number, blocks: BlockRef[] }>
}

export interface PatchPlan {
  regions: PatchRegion[]
  /** Sum of the regions' sizes: the bytes a patch writes. */
  writeBytes: number
}

/**
 * The ranges where `wanted` differs from `held`: everything except blocks that start at the same
 * offset with the same hash and size in both. Each region starts and ends on a boundary the two
 * lists share, so it is whole blocks of each. Adjacent differing stretches form one region.
 * Undefined when the two versions differ in size: a patch never moves bytes.
 */
export function planPatch (wanted: readonly BlockRef[], held: readonly BlockRef[]): PatchPlan | undefined {
  if (totalBlockBytes(wanted) !== totalBlockBytes(held)) return undefined
  const regions: PatchRegion[] = []
  let writeBytes = 0
  let i = 0 // next block of wanted
  let j = 0 // next block of held
  let offset = 0 // where both wanted[i] and held[j] start: the lists share this boundary
  while (i < wanted.length && j < held.length) {
    if (isSameBlock(wanted[i], held[j])) {
      offset += wanted[i].sizeBytes
      i += 1; j += 1
      continue
    }
    // A differing stretch: take blocks of whichever list ends first until the two end together.
    const region: PatchRegion = { offset, sizeBytes: 0, blocks: [], heldBlocks: [] }
    let wantedEnd = offset
    let heldEnd = offset
    do {
      if (wantedEnd <= heldEnd) { region.blocks.push(wanted[i]); wantedEnd += wanted[i].sizeBytes; i += 1 } else { region.heldBlocks.push(held[j]); heldEnd += held[j].sizeBytes; j += 1 }
    } while (wantedEnd !== heldEnd)
    region.sizeBytes = wantedEnd - offset
    offset = wantedEnd
    writeBytes += region.sizeBytes
    const last = regions[regions.length - 1]
    if (last !== undefined && last.offset + last.sizeBytes === region.offset) {
      last.sizeBytes += region.sizeBytes
      last.blocks.push(...region.blocks)
      last.heldBlocks.push(...region.heldBlocks)
    } else {
      regions.push(region)
    }
  }
  return { regions, writeBytes }
}

function isSameBlock (a: BlockRef, b: BlockRef): boolean {
  return a.sizeBytes === b.sizeBytes && bytesEqual(a.hash, b.hash)
}
