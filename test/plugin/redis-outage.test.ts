// Tracking must never endanger mail: Redis killed mid-run, then back (issue "Foundation", "Done when").
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { startHaraka } from '../helpers/haraka'
import { freePort, waitFor } from '../helpers/ports'
import { type RedisServer, startRedis } from '../helpers/redis'
import { pySendmail } from '../helpers/smtp'
import { openStore, waitForMessages } from '../helpers/store'

const B = 'VheLhqV/rCKJmplkGFwsyW59pYk'
let redis: RedisServer
let haraka: Awaited<ReturnType<typeof startHaraka>>

before(async () => {
  redis = await startRedis()
  haraka = await startHaraka({
    redisPort: redis.port,
    mtrk: { redis: { command_timeout: 200, connect_timeout: 200 } },
    plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
    files: {
      // The relayed message meets a closed port: deferred, and queued for a retry long after the test.
      'test_mx.json': JSON.stringify({ 'x.relay.test': { port: await freePort(), name: 'mx.x.test' } }),
      'outbound.ini': 'local_mx_ok=true\n',
    },
  })
})
after(async () => {
  await haraka.stop()
  await redis.close()
})

const send = (envid: string, to = 'u@local.test') =>
  pySendmail({
    port: haraka.smtpPort,
    from: 's@sender.example',
    to: [to],
    mail: [`ENVID=${envid}`, `MTRK=${B}`],
  })

test('Redis killed: mail is still accepted, the outage is logged once, and tracking resumes and catches up', async () => {
  assert.ok((await send('before@outage.example')).ok)
  const store = await openStore(redis.port, haraka.prefix)
  await waitForMessages(store, 'before@outage.example')
  await store.close()

  // Counted from here: under a loaded machine a write may time out (command_timeout=200) before the outage.
  const logsBefore = haraka.logs().length
  await redis.stop()
  await waitFor(() => /Redis unavailable/.test(haraka.logs().slice(logsBefore)), 10000, 'the outage logged')
  for (const n of [1, 2, 3]) {
    const sent = await send(`during${n}@outage.example`, `u${n}@local.test`)
    assert.deepEqual(sent, { ok: true, refused: {} }, `message ${n} accepted while Redis is down`)
  }
  const relayed = await send('during-relay@outage.example', 'far@x.relay.test')
  assert.ok(relayed.ok, 'relayed mail too')
  await haraka.waitForLog(/Temp failing .*Tried all MXs/)
  assert.equal(
    haraka
      .logs()
      .slice(logsBefore)
      .match(/Redis unavailable/g)?.length,
    1,
    'logged once per outage, not per message',
  )

  await redis.start()
  // Three local messages, and the relayed one's acceptance and first (deferred) attempt; each in the trace too.
  await haraka.waitForLog(/Redis ready: replaying \d+ bytes of journaled tracking writes/)
  await haraka.waitForLog(/tracking journal replayed: 10 writes/)
  const after = await openStore(redis.port, haraka.prefix)
  assert.ok((await send('after@outage.example')).ok)
  await waitForMessages(after, 'after@outage.example')
  for (const n of [1, 2, 3]) await waitForMessages(after, `during${n}@outage.example`)
  const [queued] = await waitForMessages(after, 'during-relay@outage.example')
  assert.equal(queued?.recipients[0]?.action, 'delayed')
  await after.close()
})

test('a Redis that never answers at start-up is logged, and mail flows', async () => {
  const deadPort = await freePort()
  const h = await startHaraka({ redisPort: deadPort, mtrk: { redis: { connect_timeout: 200 } } })
  try {
    const sent = await pySendmail({
      port: h.smtpPort,
      from: 's@x.example',
      to: ['u@local.test'],
      mail: ['ENVID=x@y.example', `MTRK=${B}`],
    })
    assert.ok(sent.ok)
    await waitFor(() => /Redis unavailable/.test(h.logs()), 10000, 'outage logged')
  } finally {
    await h.stop()
  }
})
