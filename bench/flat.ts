// Flat cost: TRACK rate and p99 (16 clients, one command in flight) with 10^4, 10^5 and 10^6 other messages stored,
// and Redis's memory at each size. The store is filled by copying one message as the plugin wrote it into other
// envid keys with a Lua script in Redis (seconds for a million, instead of an hour of SMTP). The figures at 10^4
// are the baseline of the ratios.
//   npm run bench -- flat [largest count, default 1000000]
import { startHaraka } from '../test/helpers/haraka'
import { waitForMtqpReady } from '../test/helpers/mtqp'
import { startRedis } from '../test/helpers/redis'
import { phase, ratio } from './bound'
import type { LoadResult } from './load'
import { storeMessage, trackedMessage, usedMemory } from './messages'
import { trackLine } from './mtqp'
import { cpuSeconds } from './proc'
import { runBench } from './spawn'

const SECONDS = 4
const CHUNK = 20000

/** Copies the fields of KEYS[1] into keys ARGV[1]..i for i in ARGV[2]..ARGV[3], each with TTL ARGV[4] ms. */
const FILL = `
local fields = redis.call('HGETALL', KEYS[1])
for i = tonumber(ARGV[2]), tonumber(ARGV[3]) do
  local k = ARGV[1] .. i .. '@client.example.org'
  redis.call('HSET', k, unpack(fields))
  redis.call('PEXPIRE', k, tonumber(ARGV[4]))
end
return 1
`

export async function benchFlat(largest = 1_000_000): Promise<void> {
  const redis = await startRedis()
  const client = redis.client()
  const haraka = await phase('flat: start Haraka', 60, () =>
    startHaraka({ redisPort: redis.port, mtrk: { mtqp: { max_connections_per_ip: 100 } } }),
  )
  try {
    const m = trackedMessage(2)
    const template = await storeMessage(redis.port, haraka.prefix, m)
    await waitForMtqpReady(haraka.mtqpPort)
    const sizes = [10_000, 100_000, 1_000_000].filter((n) => n <= largest)
    console.log(`Flat cost: TRACK at 16 clients x 1 in flight, ${SECONDS} s, with N other messages stored`)
    let filled = 0
    let base: { r: LoadResult; mem: number; n: number; cpuUs: number } | null = null
    for (const n of sizes) {
      await phase(`flat: fill to ${n}`, 300, async () => {
        for (let from = filled; from < n; from += CHUNK) {
          const to = Math.min(n, from + CHUNK) - 1
          await client.eval(FILL, 1, template, `${haraka.prefix}envid:fill-`, from, to, 86_400_000)
        }
        filled = n
      })
      const mem = await usedMemory(client)
      const cpuBefore = cpuSeconds(haraka.pid())
      const r: LoadResult = await phase(`flat: TRACK at ${n}`, SECONDS * 2 + 30, async () =>
        JSON.parse(await runBench('load', [haraka.mtqpPort, 16, 1, SECONDS, trackLine(m)])),
      )
      const cpuUs = ((cpuSeconds(haraka.pid()) - cpuBefore) / r.total) * 1e6
      base ??= { r, mem, n, cpuUs }
      const perMessage =
        n === base.n ? '' : `, +${((mem - base.mem) / (n - base.n)).toFixed(0)} B per message since ${base.n}`
      console.log(
        `  ${String(n).padStart(8)} stored: ${r.rate.toFixed(0)}/s p50 ${r.p50.toFixed(2)} ms p99 ${r.p99.toFixed(2)} ms${r.failures ? ` (${r.failures} not +OK+)` : ''}` +
          `, Haraka CPU ${cpuUs.toFixed(0)} µs per TRACK; ratio to ${base.n}: rate ${ratio(r.rate, base.r.rate)}, CPU ${ratio(cpuUs, base.cpuUs)}; used_memory ${(mem / 2 ** 20).toFixed(1)} MiB${perMessage}`,
      )
    }
  } finally {
    await haraka.stop()
    await redis.close()
  }
}
