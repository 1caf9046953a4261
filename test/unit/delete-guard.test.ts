import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { canBeMassDelete, isMassDelete, MIN_GUARDED_FILES } from '../../src/core/delete-guard.js'

const cases: Array<[string, Parameters<typeof isMassDelete>[0], boolean]> = [
  ['15 of 20 at 0.5', { liveFiles: 20, recentDeletes: 0, batchDeletes: 15, maxShare: 0.5 }, true],
  ['10 of 20 at 0.5 (exactly the share)', { liveFiles: 20, recentDeletes: 0, batchDeletes: 10, maxShare: 0.5 }, false],
  ['5 of 20 at 0.5', { liveFiles: 20, recentDeletes: 0, batchDeletes: 5, maxShare: 0.5 }, false],
  ['all of 9 files: too small a folder', { liveFiles: 9, recentDeletes: 0, batchDeletes: 9, maxShare: 0.5 }, false],
  ['no deletes', { liveFiles: 100, recentDeletes: 0, batchDeletes: 0, maxShare: 0 }, false],
  ['share 1 turns it off', { liveFiles: 100, recentDeletes: 0, batchDeletes: 100, maxShare: 1 }, false],
  ['share 0 holds any delete', { liveFiles: 100, recentDeletes: 0, batchDeletes: 1, maxShare: 0 }, true],
  // A mass delete split into small batches: 6 already applied of the 20 there were, 5 more.
  ['split batches add up', { liveFiles: 14, recentDeletes: 6, batchDeletes: 5, maxShare: 0.5 }, true],
  ['split batches below the share', { liveFiles: 14, recentDeletes: 6, batchDeletes: 4, maxShare: 0.5 }, false],
  ['recent deletes keep a shrunk folder guarded', { liveFiles: 5, recentDeletes: 10, batchDeletes: 5, maxShare: 0.5 }, true]
]

for (const [name, input, expected] of cases) {
  test(`isMassDelete: ${name}`, () => { assert.is(isMassDelete(input), expected) })
}

test('canBeMassDelete: deletes that no folder size could make a mass delete need no count', () => {
  for (const maxShare of [0, 0.1, 0.3, 0.5, 0.9, 1]) {
    for (let deletes = 0; deletes <= 30; deletes++) {
      if (canBeMassDelete(deletes, maxShare)) continue
      // Then no folder (of any size, with any split of recent and batch deletes) holds them.
      for (let live = 0; live <= 60; live++) {
        for (let recent = 0; recent <= deletes; recent++) {
          assert.not.ok(isMassDelete({ liveFiles: live, recentDeletes: recent, batchDeletes: deletes - recent, maxShare }), `${deletes} deletes, ${live} files, share ${maxShare}`)
        }
      }
    }
  }
  assert.ok(canBeMassDelete(MIN_GUARDED_FILES, 0.5))
})

test.run()
