// The operator trace (issue 12), measured against baselines in the same run:
//   npm run bench -- trace-smtp [messages] [connections]
//     SMTP throughput of Haraka with the plugin tracing every message (no MTRK), against Haraka without the plugin
//     and with the plugin but [trace] enabled=false; Redis bytes per traced message. Beside them, two floors: Haraka
//     with bench/fixtures/trace_floor.js, which writes each message's record alone, or the record and the index
//     entries the trace keeps, with nothing else (no validation, journal, DSN or MTRK): about the least any trace
//     written to the same Redis can cost on the same machine.
//   npm run bench -- trace-search [sizes, comma separated: 10000,100000]
//     a recipient search over one day with that many messages stored that day, against one HGETALL of a record
//     (the least a look-up can cost). Filling stops after a bounded time; the size reached is printed.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseConfig } from '../src/config/config'
import type { RecipientWrite } from '../src/model/records'
import { bucketOf, traceWrite } from '../src/model/trace'
import { parseTraceQuery } from '../src/model/trace-query'
import { createRedisClient } from '../src/store/redis'
import { TrackingStore } from '../src/store/store'
import { type HarakaInstance, startHaraka } from '../test/helpers/haraka'
import { waitFor } from '../test/helpers/ports'
import { startRedis } from '../test/helpers/redis'
import { profileArgs } from './profile'
import { load, plain } from './smtp'

export async function benchTraceSmtp(count = 2000, connections = 8): Promise<void> {
  const redis = await startRedis()
  const without = await startHaraka({ redisPort: redis.port, plugins: ['test_rcpt', 'test_queue'] })
  const off = await startHaraka({
    redisPort: redis.port,
    mtrk: { trace: { enabled: false } },
    nodeArgs: profileArgs(),
  })
  const on = await startHaraka({
    redisPort: redis.port,
    mtrk: { trace: { enabled: true } },
    nodeArgs: profileArgs(),
  })
  const floor = (mode: 'record' | 'indexed') =>
    startHaraka({
      redisPort: redis.port,
      plugins: ['test_rcpt', 'trace_floor', 'test_queue'],
      pluginFiles: [join(__dirname, 'fixtures', 'trace_floor.js')],
      env: {
        TRACE_FLOOR: mode,
        BENCH_REDIS_PORT: String(redis.port),
        BENCH_IOREDIS: require.resolve('ioredis'),
      },
    })
  const floorRecord = await floor('record')
  const floorIndexed = await floor('indexed')
  const r = redis.client()
  try {
    for (const [h, tag] of [
      [without, 'wa'],
      [off, 'wb'],
      [on, 'wc'],
      [floorRecord, 'wd'],
      [floorIndexed, 'we'],
    ] as const)
      await load(h, 200, connections, tag, plain)
    const ROUNDS = 5
    const cpu = cpuMeter(Number(/process_id:(\d+)/.exec(await r.info('server'))?.[1]))
    type Variant = 'without' | 'off' | 'on' | 'floorRecord' | 'floorIndexed'
    const rates: Record<Variant, number[]> = {
      without: [],
      off: [],
      on: [],
      floorRecord: [],
      floorIndexed: [],
    }
    let traced = 0
    const scriptTime = { calls: 0, usec: 0 }
    let bytes = 0
    // Alternated round by round, so a machine-wide slowdown hits all alike; medians of the rounds.
    for (let round = 0; round < ROUNDS; round++) {
      rates.without.push(
        await cpu.measure('without', without, () => load(without, count, connections, `a${round}-`, plain)),
      )
      rates.off.push(await cpu.measure('off', off, () => load(off, count, connections, `b${round}-`, plain)))
      const before = usedMemory(await r.info('memory'))
      const scriptBefore = evalshaStats(await r.info('commandstats'))
      rates.on.push(await cpu.measure('on', on, () => load(on, count, connections, `c${round}-`, plain)))
      // The writes leave after the replies: wait until every message of the round is in the trace.
      const want = traced + count
      await waitFor(async () => (await tracedCount(r, on.prefix)) >= want, 60000, 'trace writes')
      traced = want
      bytes += usedMemory(await r.info('memory')) - before
      const scriptAfter = evalshaStats(await r.info('commandstats'))
      scriptTime.calls += scriptAfter.calls - scriptBefore.calls
      scriptTime.usec += scriptAfter.usec - scriptBefore.usec
      rates.floorRecord.push(
        await cpu.measure('floorRecord', floorRecord, () =>
          load(floorRecord, count, connections, `d${round}-`, plain),
        ),
      )
      rates.floorIndexed.push(
        await cpu.measure('floorIndexed', floorIndexed, () =>
          load(floorIndexed, count, connections, `e${round}-`, plain),
        ),
      )
    }
    const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
    const ratiosOf = (k: Variant) => rates[k].map((x, i) => x / (rates.without[i] as number))
    const ratios = ratiosOf('on')
    console.log(
      `Trace: SMTP, ${count} messages x ${ROUNDS} rounds over ${connections} connections, 1 KB each, no MTRK (medians)`,
    )
    const perMsg = (k: Variant) => cpu.per(k, count * ROUNDS)
    console.log(
      `  Haraka without mtrk:          ${med(rates.without).toFixed(0)} msg/s, CPU ${perMsg('without')}`,
    )
    console.log(`  with mtrk, [trace] off:       ${med(rates.off).toFixed(0)} msg/s, CPU ${perMsg('off')}`)
    console.log(`  with mtrk, every msg traced:  ${med(rates.on).toFixed(0)} msg/s, CPU ${perMsg('on')}`)
    console.log(
      `  floor, record alone:          ${med(rates.floorRecord).toFixed(0)} msg/s, CPU ${perMsg('floorRecord')}`,
    )
    console.log(
      `  floor, record and indexes:    ${med(rates.floorIndexed).toFixed(0)} msg/s, CPU ${perMsg('floorIndexed')}`,
    )
    const roundsOf = (xs: number[]) =>
      `${med(xs).toFixed(3)} (rounds: ${xs.map((x) => x.toFixed(2)).join(' ')})`
    console.log(`  throughput ratio traced/without: ${roundsOf(ratios)}`)
    console.log(`  floor ratios /without: record alone ${roundsOf(ratiosOf('floorRecord'))}`)
    console.log(`                         record and indexes ${roundsOf(ratiosOf('floorIndexed'))}`)
    console.log(
      `  Redis bytes per traced message (1 recipient, local delivery): ${(bytes / traced).toFixed(0)}`,
    )
    // The plugin's script calls alone: the floors' are counted apart (each round's difference around the traced load).
    console.log(
      `  Redis time in the write script per traced message: ${(scriptTime.usec / (count * ROUNDS)).toFixed(1)} µs ` +
        `(${((count * ROUNDS) / scriptTime.calls).toFixed(1)} messages per call)`,
    )
  } finally {
    for (const h of [without, off, on, floorRecord, floorIndexed]) await h.stop()
    await redis.close()
  }
}

/** ms of CPU (user + system) a process has used so far. */
function cpuMs(pid: number | undefined): number {
  if (!pid) return 0
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? []
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100 // utime, stime in 1/100 s
}

/**
 * CPU time per message of each Haraka (its master: with nodes=0 the only process) and of Redis during the loads:
 * steadier than throughput on a busy machine, since it does not count time waiting for the CPU.
 */
function cpuMeter(redisPid: number | undefined) {
  const used: Record<string, { haraka: number; redis: number }> = {}
  return {
    async measure(name: string, h: HarakaInstance, run: () => Promise<number>): Promise<number> {
      const [h0, r0] = [cpuMs(h.pid()), cpuMs(redisPid)]
      const rate = await run()
      // The trace writes leave after the replies: let them finish within the measured CPU.
      await new Promise((r) => setTimeout(r, 200))
      const u = used[name] ?? { haraka: 0, redis: 0 }
      used[name] = u
      u.haraka += cpuMs(h.pid()) - h0
      u.redis += cpuMs(redisPid) - r0
      return rate
    },
    per(name: string, messages: number): string {
      const u = used[name] ?? { haraka: 0, redis: 0 }
      return `Haraka ${((u.haraka * 1000) / messages).toFixed(0)} µs/msg, Redis ${((u.redis * 1000) / messages).toFixed(0)} µs/msg`
    },
  }
}

/** EVALSHA calls so far and µs Redis spent in them (INFO commandstats). */
function evalshaStats(info: string): { calls: number; usec: number } {
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(info)
  return { calls: Number(m?.[1] ?? 0), usec: Number(m?.[2] ?? 0) }
}

function usedMemory(info: string): number {
  return Number(/used_memory:(\d+)/.exec(info)?.[1] ?? 0)
}

/** Messages in the trace under a prefix: the sum of every bucket's `messages` count, found with SCAN (bench only). */
async function tracedCount(r: ReturnType<Awaited<ReturnType<typeof startRedis>>['client']>, prefix: string) {
  let n = 0
  let cursor = '0'
  do {
    const [next, keys] = await r.scan(cursor, 'MATCH', `${prefix}trace:{*}:c`, 'COUNT', 1000)
    cursor = next
    for (const k of keys) n += Number((await r.hget(k, 'messages')) ?? 0)
  } while (cursor !== '0')
  return n
}

/** ms to fill at most; the size reached is reported. */
const FILL_LIMIT_MS = 240_000
const DAY = 86_400_000
const DAY_START = Date.UTC(2026, 10, 29)

export async function benchTraceSearch(sizes: number[] = [10_000, 100_000]): Promise<void> {
  const redis = await startRedis()
  const { config } = parseConfig({ redis: { port: redis.port } })
  const store = new TrackingStore(
    // Filling a large set makes Redis rehash now and then: no 500 ms command timeout here.
    createRedisClient({ ...config.redis, commandTimeout: 30_000 }, 'bench-trace'),
    { prefix: 'b:', historyLimit: 20, journal: null },
    { info: () => {}, warn: () => {} },
  )
  await waitFor(() => store.available, 5000, 'store')
  const raw = redis.client()
  const now = DAY_START + DAY
  let stored = 0
  try {
    console.log('Trace: recipient search over one day (24 hour buckets), median of 50 searches')
    for (const size of sizes) {
      const started = Date.now()
      // 10 000 recipients at 100 domains, 1 000 senders: a recipient has size/10 000 messages that day.
      const inFlight = new Set<Promise<void>>()
      while (stored < size && Date.now() - started < FILL_LIMIT_MS) {
        const i = stored++
        const p: Promise<void> = store
          .record(benchWrite(i, arrivalOf(i), now))
          .finally(() => inFlight.delete(p))
        inFlight.add(p)
        if (inFlight.size >= 256) await Promise.race(inFlight)
      }
      await Promise.all(inFlight)
      const fill = (Date.now() - started) / 1000
      const bytes = usedMemory(await raw.info('memory'))
      const search = await median(50, async (k) => {
        const q = parseTraceQuery(
          {
            to: `u${(k * 7919) % 10_000}@d${(k * 7919) % 100}.example`,
            since: '2026-11-29',
            until: '2026-11-29T23:59:59Z',
          },
          { now, window: DAY, kept: 365 * DAY },
        )
        if (!q.ok) throw new Error(q.error)
        const page = await store.trace.search(q.value)
        if (page.messages.length === 0) throw new Error('nothing found')
      })
      const lookup = await median(50, async (k) => {
        const fields = await raw.hgetall(`b:trace:{${bucketOf(arrivalOf(k))}}:m:bench-${k}.1`)
        if (!fields.h) throw new Error('no such record')
      })
      console.log(
        `  ${stored} messages stored (filled in ${fill.toFixed(0)} s, Redis used_memory ${(bytes / 2 ** 20).toFixed(0)} MiB): ` +
          `search ${search.toFixed(2)} ms, one HGETALL ${lookup.toFixed(2)} ms, ratio ${(search / lookup).toFixed(1)}`,
      )
      if (stored < size) {
        console.log(`  (filling stopped after ${FILL_LIMIT_MS / 1000} s; larger sizes skipped)`)
        break
      }
    }
  } finally {
    await store.close()
    await redis.close()
  }
}

/** Message i's arrival: spread over the day whatever the size. */
const arrivalOf = (i: number) => DAY_START + ((i * 7_919_017) % DAY)

function benchWrite(i: number, arrival: number, now: number) {
  const address = `u${i % 10_000}@d${i % 100}.example`
  const r: RecipientWrite = {
    key: address,
    base: {
      address,
      orcpt: null,
      notify: null,
      action: 'delivered',
      status: '2.0.0',
      remoteMta: 'mx.example',
      lastAttempt: arrival,
      willRetryUntil: null,
      keepUntil: now + DAY,
      updated: arrival,
      history: [
        {
          id: 'a',
          at: arrival,
          action: 'delivered',
          status: '2.0.0',
          host: 'mx.example',
          code: '250',
          reply: '2.0.0 OK queued as ABC123',
        },
      ],
    },
  }
  return traceWrite(
    {
      txn: `bench-${i}.1`,
      arrival,
      from: `s${i % 1000}@sender${i % 50}.example`,
      messageId: `${i}.bench@sender.example`,
      envid: null,
      tracked: false,
      clientIp: `192.0.2.${i % 250}`,
      helo: `client${i % 250}.example`,
      reportingMta: 'mx.bench',
    },
    [r],
    [`bench-${i}.1.1`],
    now,
  )
}

async function median(n: number, run: (k: number) => Promise<void>): Promise<number> {
  const times: number[] = []
  for (let k = 0; k < n; k++) {
    const t = process.hrtime.bigint()
    await run(k)
    times.push(Number(process.hrtime.bigint() - t) / 1e6)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(n / 2)] as number
}
