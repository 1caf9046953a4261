// What a peer may fetch: blocks of the files a folder holds now, with the per-file block sets
// cached between requests and dropped the moment their path changes.
import { test } from 'uvu'
import * as assert from 'uvu/assert'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { Store } from '../../src/store/store.js'
import { ServableBlocks } from '../../src/sync/servable-blocks.js'
import { cleanupAll, tempDir } from '../helpers/cli.js'

const sha = (s: string): Buffer => createHash('sha256').update(s).digest()
const hex = (s: string): string => sha(s).toString('hex')

function fileRecord (path: string, contents: string[], isDeleted = false): any {
  return {
    path, kind: 'file', sizeBytes: contents.join('').length, mtimeMs: 1, mode: 0o644, vector: { aaaaaaaaaaaaaaaa: 1 },
    isDeleted, blocks: isDeleted ? [] : contents.map(c => ({ hash: sha(c), sizeBytes: c.length })), hash: sha(contents.join('')),
    linkTarget: '', modifiedBy: 'aaaaaaaaaaaaaaaa', inode: 0
  }
}

test('serves blocks of current files only, and forgets a path that changed', async () => {
  const store = await Store.open(join(tempDir(), 'db'))
  try {
    const servable = new ServableBlocks(store, 'docs')
    await store.commit('docs', [{ record: fileRecord('a.txt', ['one', 'two']) }])
    assert.ok(await servable.has('a.txt', hex('one')))
    assert.ok(await servable.has('a.txt', hex('two')))
    assert.not.ok(await servable.has('a.txt', hex('three')), 'a block the file does not list')
    assert.not.ok(await servable.has('b.txt', hex('one')), 'a path the folder does not hold')

    await store.commit('docs', [{ record: fileRecord('a.txt', ['three']) }])
    assert.ok(await servable.has('a.txt', hex('one')), 'cached until told: the runner forgets on every commit')
    servable.forget(['a.txt'])
    assert.not.ok(await servable.has('a.txt', hex('one')), 'the old version\'s blocks are no longer served')
    assert.ok(await servable.has('a.txt', hex('three')))

    await store.commit('docs', [{ record: fileRecord('a.txt', [], true) }])
    servable.forget(['a.txt'])
    assert.not.ok(await servable.has('a.txt', hex('three')), 'a deleted file serves nothing')
  } finally {
    await store.close()
  }
})

test('a lookup that raced a change does not cache what it read', async () => {
  const store = await Store.open(join(tempDir(), 'db'))
  try {
    const servable = new ServableBlocks(store, 'docs')
    await store.commit('docs', [{ record: fileRecord('a.txt', ['old']) }])
    const looking = servable.has('a.txt', hex('old')) // reads the record...
    await store.commit('docs', [{ record: fileRecord('a.txt', ['new']) }])
    servable.forget(['a.txt']) // ...while the path changes
    await looking
    assert.not.ok(await servable.has('a.txt', hex('old')), 'the stale set was not kept')
    assert.ok(await servable.has('a.txt', hex('new')))
  } finally {
    await store.close()
  }
})

test.after(cleanupAll)
test.run()
