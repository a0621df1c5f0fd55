// MTRK-11 against real Redis: records written by the store's own write script (as the plugin writes them) get their
// retention lowered retroactively by src/store/retention.ts: shorter TTLs and keep times past the new maximum, queued
// recipients kept (MTRK-10), a dry run changing nothing, and every master of a Cluster walked.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { parseConfig, type RedisConfig } from '../../src/config/config'
import type { RecordWrite } from '../../src/model/records'
import { visibleUntil } from '../../src/model/retention'
import { createRedisClient, type RedisClient } from '../../src/store/redis'
import { type RetentionRun, runRetention } from '../../src/store/retention'
import { TrackingStore } from '../../src/store/store'
import { connectReader } from '../../src/store/trace'
import { waitFor } from '../helpers/ports'
import { type RedisCluster, sharedRedisPort, startRedisCluster } from '../helpers/redis'
import { message, recipient } from './fixtures'

const DAY = 86400
const DAY_MS = DAY * 1000
let port: number

before(async () => {
  port = await sharedRedisPort()
})

function redisConfig(over: Partial<RedisConfig>, prefix: string): RedisConfig {
  const { config } = parseConfig({})
  return { ...config.redis, ...over, prefix }
}

async function openStore(cfg: RedisConfig): Promise<TrackingStore> {
  const log = { info: () => {}, warn: () => {} }
  const s = new TrackingStore(
    createRedisClient(cfg, 'mtrk-retention-test'),
    { prefix: cfg.prefix, historyLimit: 5, journal: null },
    log,
  )
  await waitFor(() => s.available, 15000, 'store ready')
  return s
}

/**
 * One message of one recipient arrived `ago` ms before now, kept `days` (30); delivered, or queued when `giveUp` is
 * given (kept as model/tracking.ts keeps it: past the give-up time).
 */
function write(
  envid: string,
  now: number,
  ago: number,
  giveUp: number | null = null,
  days = 30,
): RecordWrite {
  const arrival = now - ago
  const retained = arrival + days * DAY_MS
  const keepUntil = giveUp === null ? retained : Math.max(retained, giveUp + DAY_MS)
  const base = recipient({ address: `u@${envid}`, willRetryUntil: giveUp, keepUntil, updated: arrival })
  return {
    message: message({ envid, envidXtext: envid, txn: `${envid}.1`, arrival, retention: days * DAY }),
    recipients: [
      {
        key: `u@${envid}`,
        base,
        ...(giveUp === null
          ? {
              event: {
                at: arrival + 1000,
                patch: { action: 'delivered' as const, status: '2.5.0', willRetryUntil: null, keepUntil },
                attempt: {
                  id: `${envid}:1`,
                  at: arrival + 1000,
                  action: 'delivered' as const,
                  status: '2.5.0',
                },
              },
            }
          : {}),
      },
    ],
    now,
  }
}

const run = (prefix: string, now: number, over: Partial<RetentionRun> = {}): RetentionRun => ({
  prefix,
  maxRetention: 2 * DAY,
  queuedGrace: DAY,
  now,
  dryRun: false,
  batch: 3,
  ...over,
})

async function snapshot(client: RedisClient, keys: string[]) {
  return Promise.all(
    keys.map(async (k) => ({ fields: await client.hgetall(k), exists: await client.exists(k) })),
  )
}

test('MTRK-11: records past the new maximum expire sooner, queued ones keep their time, a dry run changes nothing', async () => {
  const prefix = `ret${process.pid}:`
  const cfg = redisConfig({ port }, prefix)
  const store = await openStore(cfg)
  const client = await connectReader(cfg, 'mtrk-retention-test')
  try {
    const now = Date.now()
    const giveUp = now + 2 * DAY_MS
    // Delivered a day ago; still queued after 5 days; kept a day only; delivered 5 days ago.
    await store.record(write('old@x.example', now, DAY_MS))
    await store.record(write('queued@x.example', now, 5 * DAY_MS, giveUp))
    await store.record(write('young@x.example', now, 3_600_000, null, 1))
    await store.record(write('gone@x.example', now, 5 * DAY_MS))
    await client.set(`${prefix}envid:string@x.example`, 'not a hash')
    await client.hset(`${prefix}envid:odd@x.example`, 'txn', '{"written":"by hand"}')
    const keys = ['old', 'queued', 'young', 'gone', 'odd'].map((e) => store.key(`${e}@x.example`))
    const ttls = await Promise.all(keys.map((k) => client.pttl(k)))
    assert.ok((ttls[0] as number) > 20 * DAY_MS, 'written with 30 days of retention')

    const before = await snapshot(client, keys)
    const dry = await runRetention(client, run(prefix, now, { dryRun: true }))
    assert.deepEqual(await snapshot(client, keys), before, 'a dry run changes nothing')
    const after = await Promise.all(keys.map((k) => client.pttl(k)))
    for (const [i, t] of after.entries())
      assert.ok(t <= (ttls[i] as number) && t > (ttls[i] as number) - 60_000, keys[i])

    const done = await runRetention(client, run(prefix, now))
    const expected = {
      keys: 6,
      keysShortened: 2, // old, queued (down to what the queue needs)
      keysRemoved: 1, // gone
      keysSkipped: 2, // a string, a value that is not a record
      records: 4,
      recordsShortened: 3, // all but young
      recipientsQueued: 1, // kept past arrival + 2 days
    }
    assert.deepEqual(dry, expected)
    assert.deepEqual(done, expected)

    const [old] = await store.lookup('old@x.example')
    assert.ok(old)
    assert.equal(old.retention, 2 * DAY)
    assert.equal(old.recipients[0]?.keepUntil, old.arrival + 2 * DAY_MS)
    assert.equal(visibleUntil(old), old.arrival + 2 * DAY_MS, 'TRACK answers until arrival + 2 days')
    const oldTtl = await client.pttl(keys[0] as string)
    assert.ok(oldTtl > 0 && oldTtl <= old.arrival + 2 * DAY_MS - now, `old TTL ${oldTtl}`)

    const [queued] = await store.lookup('queued@x.example')
    assert.equal(queued?.recipients[0]?.keepUntil, giveUp + DAY_MS, 'MTRK-10: kept until give-up + grace')
    const queuedTtl = await client.pttl(keys[1] as string)
    assert.ok(queuedTtl >= giveUp + DAY_MS - Date.now() - 1000, `queued TTL ${queuedTtl}`)

    const [young] = await store.lookup('young@x.example')
    assert.equal(young?.recipients[0]?.keepUntil, (young?.arrival as number) + DAY_MS, 'within the maximum')
    assert.equal((await client.pttl(keys[2] as string)) <= (ttls[2] as number), true)
    assert.equal(await client.exists(keys[3] as string), 0, 'nothing left to keep: removed')
    assert.deepEqual(await client.hgetall(keys[4] as string), { txn: '{"written":"by hand"}' })

    // Once more: nothing left to shorten, and TTLs are never lengthened.
    const again = await runRetention(client, run(prefix, now, { maxRetention: 30 * DAY }))
    assert.deepEqual([again.keysShortened, again.recordsShortened, again.keysRemoved], [0, 0, 0])
    assert.ok((await client.pttl(keys[0] as string)) <= oldTtl)
  } finally {
    await store.close()
    await client.quit()
  }
})

let cluster: RedisCluster | undefined
after(async () => {
  await cluster?.close()
})

test('MTRK-11 on Redis Cluster: every master is walked, every key lowered on its slot', async () => {
  cluster = await startRedisCluster()
  const prefix = 'retc:'
  const cfg = redisConfig({ cluster: cluster.ports.map((p) => ({ host: '127.0.0.1', port: p })) }, prefix)
  const store = await openStore(cfg)
  const client = await connectReader(cfg, 'mtrk-retention-test')
  try {
    const now = Date.now()
    const envids = Array.from({ length: 30 }, (_, i) => `m${i}@cluster.example`)
    for (const e of envids) await store.record(write(e, now, DAY_MS))
    // The keys are spread over the masters: a walk of one master would miss some.
    const perMaster = await Promise.all(
      cluster.ports.map(async (p) => {
        const c = new Redis({ port: p, host: '127.0.0.1' })
        try {
          return await c.dbsize()
        } finally {
          c.disconnect()
        }
      }),
    )
    assert.ok(perMaster.filter((n) => n > 0).length >= 2, JSON.stringify(perMaster))
    const report = await runRetention(client, run(prefix, now))
    assert.equal(report.keys, 30)
    assert.equal(report.keysShortened, 30)
    for (const e of envids) {
      const [m] = await store.lookup(e)
      assert.equal(m?.recipients[0]?.keepUntil, (m?.arrival as number) + 2 * DAY_MS, e)
    }
  } finally {
    await store.close()
    await client.quit()
  }
})
