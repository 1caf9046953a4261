// The mass-delete guard's rule: when does a batch of remote deletes look like an accident (a
// wiped disk, a bad script on another device) rather than a person tidying up? Pure.

/** Folders with fewer live files than this are never guarded: deleting 3 of 4 files is normal. */
export const MIN_GUARDED_FILES = 10

/** Remote deletes applied within this window count together, so a mass delete split into many
 * small batches (a big manifest arrives 1000 records at a time) is still seen as one. */
export const RECENT_DELETES_MS = 60_000

export interface DeleteBatch {
  /** Live files and symlinks in the index now (including those the batch would delete). */
  liveFiles: number
  /** Remote deletes of files applied within RECENT_DELETES_MS (no longer live). */
  recentDeletes: number
  /** Live files and symlinks this batch would delete. */
  batchDeletes: number
  /** The folder's maxDeleteShare, 0..1 (1: the guard is off). */
  maxShare: number
  minFiles?: number
}

/**
 * True when the batch must be held: together with the recent deletes it removes more than
 * `maxShare` of the files the folder held before them, in a folder of at least `minFiles` files.
 */
export function isMassDelete ({ liveFiles, recentDeletes, batchDeletes, maxShare, minFiles = MIN_GUARDED_FILES }: DeleteBatch): boolean {
  if (batchDeletes <= 0) return false
  const before = liveFiles + recentDeletes
  if (before < minFiles) return false
  return recentDeletes + batchDeletes > maxShare * before
}

/**
 * False when `deletes` (recent plus batch) cannot be a mass delete in a folder of any size, so the
 * caller need not count the folder's files: below the share of the smallest guarded folder.
 */
export function canBeMassDelete (deletes: number, maxShare: number, minFiles = MIN_GUARDED_FILES): boolean {
  return deletes > maxShare * minFiles
}
