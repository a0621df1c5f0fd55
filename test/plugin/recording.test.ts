// What a real Haraka records in a real Redis for messages sent with MTRK (issue "Foundation"), in single-process
// and cluster mode.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { Redis } from 'ioredis'
import type { TrackingStore } from '../../src/store/store'
import { startHaraka } from '../helpers/haraka'
import { freePort } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { pySendmail, SmtpClient } from '../helpers/smtp'
import { openStore, waitForMessages } from '../helpers/store'

const B = 'VheLhqV/rCKJmplkGFwsyW59pYk' // TV-1
const DAY = 86400

for (const nodes of [0, 1]) {
  describe(`${nodes === 0 ? 'single process (nodes=0)' : 'cluster mode (nodes=1)'}`, () => {
    let port: number
    let haraka: Awaited<ReturnType<typeof startHaraka>>
    let store: TrackingStore
    let redis: Redis
    const envid = (name: string) => `${name}-n${nodes}@sender.example`

    before(async () => {
      port = await sharedRedisPort()
      haraka = await startHaraka({
        redisPort: port,
        nodes,
        mtrk: { main: { max_retention: 20 * DAY } },
        plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
        files: {
          // Relayed mail meets a closed port: it stays queued (deferred), retried long after the test.
          'test_mx.json': JSON.stringify({
            'nowhere.relay.test': { port: await freePort(), name: 'mx.nowhere.test' },
          }),
          'outbound.ini': 'local_mx_ok=true\n',
        },
      })
      store = await openStore(port, haraka.prefix)
      redis = new Redis({ port })
    })
    after(async () => {
      await haraka.stop()
      await store.close()
      redis.disconnect()
    })

    test('HRK-6: a locally delivered message is recorded per recipient with ENVID, B, ORCPT, NOTIFY and its TTL', async () => {
      const before = Date.now()
      const sent = await pySendmail({
        port: haraka.smtpPort,
        from: 'sender@sender.example',
        to: ['First@local.test', 'second@local.test'],
        mail: [`ENVID=${envid('local+2Bx')}`, 'RET=HDRS', `MTRK=${B}:${2 * DAY}`],
        rcpt: ['NOTIFY=SUCCESS,FAILURE', 'ORCPT=rfc822;First+2Borig@local.test'],
      })
      assert.deepEqual(sent, { ok: true, refused: {} })
      const [m, ...more] = await waitForMessages(store, envid('local+x'))
      assert.equal(more.length, 0)
      assert.ok(m)
      assert.equal(m.envidXtext, envid('local+2Bx'), 'ENVID as received (xtext)')
      assert.equal(m.envid, envid('local+x'), 'ENVID decoded (AMB-7)')
      assert.equal(m.certifier, B, 'B, never A (SEC-4)')
      assert.equal(m.requestedTimeout, 2 * DAY)
      assert.equal(m.retention, 2 * DAY)
      assert.equal(m.ret, 'HDRS')
      assert.equal(m.reportingMta, haraka.me)
      assert.ok(m.arrival >= before && m.arrival <= Date.now())
      assert.match(m.txn, /^[0-9A-F-]{36}\.\d+$/)
      const byAddr = Object.fromEntries(m.recipients.map((r) => [r.address, r]))
      const first = byAddr['First@local.test']
      assert.equal(first?.orcpt, 'rfc822;First+2Borig@local.test', 'ORCPT as received (DSN-10)')
      assert.equal(first?.notify, 'SUCCESS,FAILURE')
      assert.equal(first?.action, 'delivered', 'a local queue plugin took it')
      assert.equal(first?.status, '2.5.0')
      assert.ok(first?.lastAttempt)
      assert.equal(first?.willRetryUntil, null)
      assert.equal(first?.keepUntil, m.arrival + 2 * DAY * 1000)
      assert.equal(byAddr['second@local.test']?.action, 'delivered')
      const ttl = await redis.pttl(store.key(m.envid))
      assert.ok(ttl > 2 * DAY * 1000 - 60_000 && ttl <= 2 * DAY * 1000, `TTL ${ttl}`)
    })

    test('MTRK-8, MTRK-9: no timeout means the default; a long timeout is capped at the maximum', async () => {
      for (const [name, mtrk, retention] of [
        ['default', B, 10 * DAY],
        ['capped', `${B}:999999999`, 20 * DAY],
      ] as const) {
        const sent = await pySendmail({
          port: haraka.smtpPort,
          from: 's@sender.example',
          to: ['u@local.test'],
          mail: [`ENVID=${envid(name)}`, `MTRK=${mtrk}`],
        })
        assert.ok(sent.ok)
        const [m] = await waitForMessages(store, envid(name))
        assert.equal(m?.retention, retention, name)
        const ttl = await redis.pttl(store.key(envid(name)))
        assert.ok(ttl > retention * 1000 - 60_000 && ttl <= retention * 1000, `${name} TTL ${ttl}`)
      }
    })

    test('AMB-33, MTRK-10: a relayed message is queued: delayed 4.0.0 with Will-Retry-Until, kept past it', async () => {
      const sent = await pySendmail({
        port: haraka.smtpPort,
        from: 's@sender.example',
        to: ['far@nowhere.relay.test'],
        mail: [`ENVID=${envid('relay')}`, `MTRK=${B}:0`],
      })
      assert.ok(sent.ok, JSON.stringify(sent))
      const [m] = await waitForMessages(store, envid('relay'))
      const r = m?.recipients[0]
      assert.equal(m?.retention, 0, 'AMB-19: timeout 0 is accepted')
      assert.equal(r?.action, 'delayed')
      // Not attempted yet (AMB-33), or no host reached: X.4.y, the network and routing class (src/dsn/status).
      assert.match(r?.status ?? '', /^4\.(?:0\.0|4\.\d)$/)
      assert.ok(
        r?.willRetryUntil && m && r.willRetryUntil > m.arrival + DAY * 1000,
        'Haraka retries for ~3 days',
      )
      assert.ok(
        r && r.keepUntil >= (r.willRetryUntil ?? 0) + DAY * 1000,
        'kept a grace day past the give-up time',
      )
      const ttl = await redis.pttl(store.key(envid('relay')))
      assert.ok(ttl > 3 * DAY * 1000, `TTL ${ttl}: never expires while queued although the timeout was 0`)
    })

    test('a queue that refuses records failed (5xx) or delayed (4xx) with its enhanced code, no Will-Retry-Until', async () => {
      for (const [user, code, action, status] of [
        ['reject', 550, 'failed', '5.7.1'],
        ['defer', 450, 'delayed', '4.3.0'],
      ] as const) {
        const { client } = await SmtpClient.connect(haraka.smtpPort)
        await client.cmd('EHLO client.test')
        await client.cmd(`MAIL FROM:<s@sender.example> ENVID=${envid(user)} MTRK=${B}`)
        await client.cmd(`RCPT TO:<${user}@local.test>`)
        const r = await client.data('Subject: refused\n\nbody\n')
        assert.equal(r.code, code, r.text)
        client.close()
        const [m] = await waitForMessages(store, envid(user))
        const rec = m?.recipients[0]
        assert.equal(rec?.action, action)
        assert.equal(rec?.status, status)
        assert.equal(rec?.willRetryUntil, null)
        assert.equal(rec?.history[0]?.code, String(code))
        assert.match(rec?.history[0]?.reply ?? '', /test queue/)
      }
    })

    test('AMB-35: RSET or a new MAIL forgets MTRK; a message without MTRK is not stored', async () => {
      const { client } = await SmtpClient.connect(haraka.smtpPort)
      await client.cmd('EHLO client.test')
      assert.equal(
        (await client.cmd(`MAIL FROM:<s@sender.example> ENVID=${envid('rset')} MTRK=${B}`)).code,
        250,
      )
      assert.equal((await client.cmd('RSET')).code, 250)
      assert.equal((await client.cmd(`MAIL FROM:<s@sender.example> ENVID=${envid('rset')}`)).code, 250)
      await client.cmd('RCPT TO:<u@local.test>')
      assert.equal((await client.data('Subject: a\n\nx\n')).code, 250)
      assert.equal(
        (await client.cmd(`MAIL FROM:<s@sender.example> ENVID=${envid('remail')} MTRK=${B}`)).code,
        250,
      )
      assert.equal((await client.cmd(`MAIL FROM:<s@sender.example> ENVID=${envid('remail')}`)).code, 250)
      await client.cmd('RCPT TO:<u@local.test>')
      assert.equal((await client.data('Subject: b\n\nx\n')).code, 250)
      // A tracked message after them proves the writes of the two before had their chance.
      await client.cmd(`MAIL FROM:<s@sender.example> ENVID=${envid('after')} MTRK=${B}`)
      await client.cmd('RCPT TO:<u@local.test>')
      assert.equal((await client.data('Subject: c\n\nx\n')).code, 250)
      client.close()
      await waitForMessages(store, envid('after'))
      assert.deepEqual(await store.lookup(envid('rset')), [])
      assert.deepEqual(await store.lookup(envid('remail')), [])
    })

    test('AMB-37: the same envid twice gives two records, both returned', async () => {
      for (let i = 0; i < 2; i++) {
        const sent = await pySendmail({
          port: haraka.smtpPort,
          from: 's@sender.example',
          to: [`u${i}@local.test`],
          mail: [`ENVID=${envid('twice')}`, `MTRK=${B}`],
        })
        assert.ok(sent.ok)
      }
      const found = await waitForMessages(store, envid('twice'), 2)
      assert.equal(new Set(found.map((m) => m.txn)).size, 2)
    })
  })
}
