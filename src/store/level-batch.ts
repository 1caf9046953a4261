// Atomic, durable LevelDB batches, written through abstract-level's chained batch.
import type { Level } from 'level'

export type BatchOp = { type: 'put', key: string, value: Uint8Array } | { type: 'del', key: string }

/**
 * Writes `ops` as one atomic batch, synced to disk before it resolves. Chained, not the array
 * form of `db.batch`: that clones and re-validates every operation in JavaScript, 13 µs an
 * operation here against 3 µs chained (400,000 puts: 5.1 s against 1.2 s), and a first scan of
 * 100,000 files spent 3.8 s of its main thread in it.
 */
export async function writeDurably (db: Level<string, Uint8Array>, ops: readonly BatchOp[]): Promise<void> {
  if (ops.length === 0) return
  const batch = db.batch()
  try {
    for (const op of ops) {
      if (op.type === 'put') batch.put(op.key, op.value)
      else batch.del(op.key)
    }
  } catch (err) {
    await batch.close()
    throw err
  }
  await batch.write({ sync: true })
}
