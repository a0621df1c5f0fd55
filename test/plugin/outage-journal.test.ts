// Outages lose nothing (issue 14): a Redis outage longer than the old 10,000-write memory buffer under load, and a
// Haraka restart in the middle of an outage. Real Haraka, real redis-server killed and restarted, real SMTP.
import assert from 'node:assert/strict'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import { freePort, waitFor } from '../helpers/ports'
import { type RedisServer, startRedis } from '../helpers/redis'
import { pySendmail } from '../helpers/smtp'
import { percentile, smtpLoad } from '../helpers/smtp-load'
import { openStore, waitForMessages } from '../helpers/store'

const OVER_OLD_BUFFER = 10_050
const REDIS_TIMEOUT_MS = 200

const cleanup: Array<() => Promise<void>> = []
after(async () => {
  for (const c of cleanup.reverse()) await c()
})

async function redisAndHaraka(extra: Parameters<typeof startHaraka>[0]['mtrk'] = {}, files = {}, nodes = 0) {
  const redis = await startRedis()
  cleanup.push(() => redis.close())
  const haraka = await startHaraka({
    redisPort: redis.port,
    nodes,
    mtrk: { ...extra, redis: { command_timeout: REDIS_TIMEOUT_MS, connect_timeout: REDIS_TIMEOUT_MS } },
    plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
    files: { 'outbound.ini': 'local_mx_ok=true\n', ...files },
  })
  cleanup.push(() => haraka.stop())
  return { redis, haraka }
}

/** Keys of every envid not in Redis, checked in one pipeline. */
async function missing(redis: RedisServer, haraka: HarakaInstance, envids: string[]): Promise<string[]> {
  const client = redis.client()
  const pipe = client.pipeline()
  for (const e of envids) pipe.exists(`${haraka.prefix}envid:${e}`)
  const replies = (await pipe.exec()) ?? []
  return envids.filter((_, i) => replies[i]?.[1] !== 1)
}

test(`Redis down for more than ${OVER_OLD_BUFFER} writes under load, then back: every accepted message is recorded`, async (t) => {
  const { redis, haraka } = await redisAndHaraka()
  await redis.stop()
  await haraka.waitForLog(/Redis unavailable/)

  const during = await smtpLoad({
    port: haraka.smtpPort,
    count: OVER_OLD_BUFFER,
    connections: 16,
    envid: (i) => `down${i}@journal.example`,
  })
  assert.equal(during.refused, 0, 'mail flows while Redis is down')
  assert.equal(during.accepted.length, OVER_OLD_BUFFER)
  const dir = join(haraka.dir, 'mtrk-journal')
  assert.ok(readdirSync(dir).length > 0, 'the writes went to the journal')

  await redis.start()
  // Mail keeps flowing while the journal replays.
  const replaying = await smtpLoad({
    port: haraka.smtpPort,
    count: 500,
    connections: 4,
    envid: (i) => `replay${i}@journal.example`,
  })
  await haraka.waitForLog(/tracking journal replayed: \d+ writes/, 120_000)
  const journaled = Number(/replaying (\d+) bytes of journaled/.exec(haraka.logs())?.[1])
  t.diagnostic(
    `journal: ${journaled} bytes for ${OVER_OLD_BUFFER} writes, ${Math.round(journaled / OVER_OLD_BUFFER)} per write`,
  )
  const all = [...during.accepted, ...replaying.accepted]
  await waitFor(async () => (await missing(redis, haraka, all)).length === 0, 30_000, 'every record in Redis')
  assert.doesNotMatch(haraka.logs(), /tracking writes lost/)
  assert.deepEqual(readdirSync(dir), [], 'the journal is empty afterwards')
  t.diagnostic(
    `MAIL/RCPT latency ms, outage: p99 ${percentile(during.latencies, 99).toFixed(1)} max ${percentile(during.latencies, 100).toFixed(1)}; ` +
      `replay: p99 ${percentile(replaying.latencies, 99).toFixed(1)} max ${percentile(replaying.latencies, 100).toFixed(1)} ` +
      `(Redis timeout ${REDIS_TIMEOUT_MS})`,
  )
})

for (const nodes of [0, 2]) {
  const mode = nodes === 0 ? 'one process' : `cluster of ${nodes} workers`
  test(`Haraka (${mode}) stopped and started during an outage: the history is complete once Redis returns`, async () => {
    const closedPort = await freePort()
    const { redis, haraka } = await redisAndHaraka(
      {},
      { 'test_mx.json': JSON.stringify({ 'x.relay.test': { port: closedPort, name: 'mx.x.test' } }) },
      nodes,
    )
    await redis.stop()
    await haraka.waitForLog(/Redis unavailable/)
    const before = await smtpLoad({
      port: haraka.smtpPort,
      count: 20,
      connections: 2,
      envid: (i) => `b${i}@restart.example`,
    })
    const relayed = await pySendmail({
      port: haraka.smtpPort,
      from: 's@sender.example',
      to: ['far@x.relay.test'],
      mail: ['ENVID=relayed@restart.example', 'MTRK=VheLhqV/rCKJmplkGFwsyW59pYk'],
    })
    assert.ok(relayed.ok)
    await haraka.waitForLog(/Temp failing .*Tried all MXs/)

    await haraka.stop()
    assert.ok(readdirSync(join(haraka.dir, 'mtrk-journal')).length > 0, 'the journal outlives the process')
    await haraka.start()
    const after = await smtpLoad({
      port: haraka.smtpPort,
      count: 5,
      connections: 1,
      envid: (i) => `a${i}@restart.example`,
    })

    await redis.start()
    await haraka.waitForLog(/left by process/, 30_000)
    const all = [...before.accepted, ...after.accepted]
    assert.equal(all.length, 25)
    await waitFor(
      async () => (await missing(redis, haraka, all)).length === 0,
      30_000,
      'every record in Redis',
    )
    const store = await openStore(redis.port, haraka.prefix)
    cleanup.push(() => store.close())
    const [m] = await waitForMessages(store, 'relayed@restart.example')
    // The acceptance of a queued message is its record (no history entry); its first attempt is in the history.
    const history = m?.recipients[0]?.history.map((a) => a.id) ?? []
    assert.ok(
      history.some((id) => id.endsWith(':deferred')),
      `the first (deferred) attempt: ${history}`,
    )
    assert.equal(m?.recipients[0]?.action, 'delayed')
    assert.ok((m?.recipients[0]?.willRetryUntil ?? 0) > Date.now(), 'still queued here')
  })
}
