// Redis bytes per tracked message (MEMORY USAGE of its envid hash, and the growth of used_memory per message), for
// the shapes README "Performance" states: 2 recipients delivered at the first attempt, 10 recipients, and one
// recipient with a full attempt history. The target (issue 11) is the baseline: at most 1 KiB for the first shape.
//   npm run bench -- memory
import { startRedis } from '../test/helpers/redis'
import { openStore } from '../test/helpers/store'
import { trackedMessage, usedMemory } from './messages'

const MESSAGES = 500
const HISTORY_LIMIT = 20 // the default history_limit, and openStore's

const SHAPES = [
  { name: '2 recipients, delivered at the first attempt', recipients: 2, failures: 0 },
  { name: '10 recipients, delivered at the first attempt', recipients: 10, failures: 0 },
  {
    name: `1 recipient, full history (${HISTORY_LIMIT} attempts)`,
    recipients: 1,
    failures: HISTORY_LIMIT - 1,
  },
]

export async function benchMemory(): Promise<void> {
  const redis = await startRedis()
  const client = redis.client()
  try {
    console.log(
      `Redis memory per tracked message (${MESSAGES} messages per shape; target <= 1024 B for the first)`,
    )
    for (const [i, shape] of SHAPES.entries()) {
      const prefix = `m${i}:`
      const store = await openStore(redis.port, prefix)
      const before = await usedMemory(client)
      const keys: string[] = []
      for (let n = 0; n < MESSAGES; n++) {
        const m = trackedMessage(shape.recipients, shape.failures)
        for (const w of m.writes) await store.record(w)
        keys.push(store.key(m.header.envid))
      }
      const grown = (await usedMemory(client)) - before
      let usage = 0
      let value = 0 // the JSON itself: MEMORY USAGE rounds to the allocator's size classes
      for (const key of keys) {
        usage += Number(await client.memory('USAGE', key, 'SAMPLES', '0'))
        for (const v of await client.hvals(key)) value += v.length
      }
      await store.close()
      const per = usage / MESSAGES
      console.log(
        `  ${shape.name}: MEMORY USAGE ${per.toFixed(0)} B (value ${(value / MESSAGES).toFixed(0)} B), used_memory +${(grown / MESSAGES).toFixed(0)} B per message` +
          (i === 0 ? `; ratio to 1 KiB ${(per / 1024).toFixed(3)}` : ''),
      )
    }
  } finally {
    await redis.close()
  }
}
