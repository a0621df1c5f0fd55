// MTQP inside a real Haraka (issue "MTQP server", "Done when"): a message sent over SMTP with MTRK is tracked over
// TCP and over STARTTLS, in single-process and cluster mode, with Haraka's own certificate.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { parseTrackingBody } from '../../src/tsn/reader'
import { makeCertificate } from '../helpers/cert'
import { type HarakaInstance, startHaraka } from '../helpers/haraka'
import { destroyMtqpClients, MtqpTestClient } from '../helpers/mtqp'
import { type RedisServer, sharedRedisPort, startRedis } from '../helpers/redis'
import { pySendmail } from '../helpers/smtp'
import { openStore, waitForMessages } from '../helpers/store'

const SECRET = 'AAECAwQFBgcICQoLDA0ODw==' // TV-1: A = 00..0f
const CERTIFIER = 'VheLhqV/rCKJmplkGFwsyW59pYk' // base64(SHA-1(A))
const NOINFO = '-ERR/noinfo No tracking information available\r\n'
const cert = makeCertificate()
const tlsFiles = { 'tls_key.pem': cert.key.toString(), 'tls_cert.pem': cert.cert.toString() }

after(() => {
  destroyMtqpClients()
  cert.remove()
})

/** Sends a tracked message to local.test and waits until it is recorded. */
async function sendTracked(haraka: HarakaInstance, redisPort: number, envid: string): Promise<void> {
  const sent = await pySendmail({
    port: haraka.smtpPort,
    from: 'sender@sender.example',
    to: ['Rcpt@local.test'],
    mail: [`ENVID=${envid}`, `MTRK=${CERTIFIER}:86400`],
    rcpt: ['ORCPT=rfc822;Orig+2BRcpt@local.test'],
  })
  assert.ok(sent.ok, JSON.stringify(sent))
  const store = await openStore(redisPort, haraka.prefix)
  await waitForMessages(store, envid)
  await store.close()
}

/** Waits for a greeting that ends the received text with `expected`, and takes it off the response queue. */
async function greeting(c: MtqpTestClient, expected: string): Promise<void> {
  await c.until(expected)
  assert.match((await c.next()).indicator, /^\+OK/)
}

async function greeted(port: number, expected: string): Promise<MtqpTestClient> {
  const c = await MtqpTestClient.connect(port)
  await greeting(c, expected)
  return c
}

for (const nodes of [0, 1]) {
  describe(nodes === 0 ? 'single process' : 'cluster mode: the master answers what a worker recorded', () => {
    let haraka: HarakaInstance
    let redisPort: number
    const envid = `track-n${nodes}@sender.example`

    before(async () => {
      redisPort = await sharedRedisPort()
      haraka = await startHaraka({
        redisPort,
        nodes,
        files: tlsFiles,
        mtrk: { mtqp: { test_inactivity_timeout_ms: 1500 } },
      })
      await haraka.waitForLog(/MTQP listening on 127\.0\.0\.1:\d+/)
      await sendTracked(haraka, redisPort, envid)
    })
    after(() => haraka.stop())

    test('MTQP-15, MTQP-16, TSN-1..12: TRACK over TCP returns the recorded status', async () => {
      const c = await greeted(haraka.mtqpPort, '+OK+/MTQP MTQP server ready\r\nSTARTTLS\r\n.\r\n')
      c.send(`TRACK ${envid} ${SECRET}\r\n`)
      const r = await c.next()
      assert.equal(r.indicator, '+OK+')
      const parts = parseTrackingBody((r.lines ?? []).join('\r\n'))
      assert.ok(parts.ok, parts.ok ? '' : parts.error)
      const [part] = parts.value
      assert.equal(part?.originalEnvelopeId, envid)
      assert.deepEqual(part?.reportingMta, { type: 'dns', value: haraka.me })
      const rcpt = part?.recipients[0]
      assert.deepEqual(rcpt?.originalRecipient, { type: 'rfc822', value: 'Orig+Rcpt@local.test' })
      assert.deepEqual(rcpt?.finalRecipient, { type: 'rfc822', value: 'Rcpt@local.test' })
      assert.equal(rcpt?.action, 'delivered')
      assert.equal(rcpt?.status, '2.5.0')
      assert.ok(rcpt?.lastAttemptDate, 'TSN-14: an attempt was made')
      assert.equal(rcpt?.willRetryUntil, undefined, 'TSN-15: no longer queued')
      c.send('QUIT\r\n')
      await c.closed
      assert.ok(c.raw.endsWith('+OK bye\r\n'))
    })

    test('AMB-12, AMB-13: a wrong secret and an unknown envid get the same reply', async () => {
      const c = await greeted(haraka.mtqpPort, '.\r\n')
      c.send(`TRACK ${envid} AAECAwQFBgcICQoLDA0ODg\r\nTRACK nobody-${nodes}@sender.example ${SECRET}\r\n`)
      const raw = await c.until(NOINFO + NOINFO)
      assert.ok(raw.endsWith(NOINFO + NOINFO))
    })

    test("MTQP-21..24: STARTTLS with Haraka's certificate, checked by the client; new greeting without STARTTLS", async () => {
      const c = await greeted(haraka.mtqpPort, '.\r\n')
      c.send('STARTTLS mtqp.test\r\n')
      await c.until('+OK Begin TLS negotiation\r\n')
      const secure = await c.starttls('mtqp.test', { ca: cert.cert })
      assert.ok(secure.authorized)
      assert.match(secure.getProtocol() ?? '', /^TLSv1\.[23]$/)
      await greeting(c, '+OK/MTQP MTQP server ready\r\n')
      c.send('STARTTLS mtqp.test\r\n')
      assert.deepEqual(await c.next(), {
        indicator: '-BAD',
        codes: ['tls-in-progress'],
        text: 'TLS already active',
      })
      c.send(`TRACK <${envid}> ${SECRET}\r\n`)
      assert.equal((await c.next()).indicator, '+OK+', 'AMB-6: angle brackets accepted')
    })

    test('MTQP-23: an FQDN the certificate does not name is -BAD/bad-fqdn', async () => {
      const c = await greeted(haraka.mtqpPort, '.\r\n')
      c.send('STARTTLS other.example\r\n')
      assert.deepEqual((await c.next()).codes, ['bad-fqdn'])
    })

    test('MTQP-9, MTQP-20: a pipelined batch is answered in order', async () => {
      const c = await greeted(haraka.mtqpPort, '.\r\n')
      c.send(
        `COMMENT hello\r\nTRACK nobody@sender.example ${SECRET}\r\nTRACK ${envid} ${SECRET}\r\nNOOP\r\nQUIT\r\n`,
      )
      await c.closed
      const order = [...c.raw.matchAll(/^(\+OK\+?|-ERR|-BAD|-TEMP)[^\r]*\r\n/gm)].map((m) => m[1])
      assert.deepEqual(order.slice(1), ['+OK', '-ERR', '+OK+', '-BAD', '+OK'])
    })

    test('MTQP-4: an over-long line is -BAD and the session goes on', async () => {
      const c = await greeted(haraka.mtqpPort, '.\r\n')
      c.send(`COMMENT ${'x'.repeat(2000)}\r\nCOMMENT ok\r\n`)
      assert.equal((await c.next()).indicator, '-BAD')
      assert.equal((await c.next()).indicator, '+OK')
    })

    test('MTQP-28: an idle connection is closed by the inactivity timer (shortened for the test)', async () => {
      const c = await greeted(haraka.mtqpPort, '.\r\n')
      await c.closed
    })
  })
}

describe('starttls=required', () => {
  let haraka: HarakaInstance
  before(async () => {
    haraka = await startHaraka({
      redisPort: await sharedRedisPort(),
      files: tlsFiles,
      mtrk: { mtqp: { starttls: 'required' } },
    })
    await haraka.waitForLog(/MTQP listening/)
    await haraka.waitForLog(/Redis ready/) // else the greeting says the store is unavailable
  })
  after(() => haraka.stop())

  test('MTQP-13, MTQP-17: STARTTLS listed as required; TRACK before TLS is -ERR/tls-required, after it answered', async () => {
    const c = await greeted(haraka.mtqpPort, '+OK+/MTQP MTQP server ready\r\nSTARTTLS required\r\n.\r\n')
    c.send(`TRACK x@sender.example ${SECRET}\r\n`)
    assert.deepEqual((await c.next()).codes, ['tls-required'])
    c.send('STARTTLS mtqp.test\r\n')
    await c.until('+OK Begin TLS negotiation\r\n')
    await c.starttls('mtqp.test', { ca: cert.cert })
    await greeting(c, '+OK/MTQP MTQP server ready\r\n')
    c.send(`TRACK x@sender.example ${SECRET}\r\n`)
    assert.deepEqual((await c.next()).codes, ['noinfo'])
  })
})

describe('Redis stopped', () => {
  let redis: RedisServer
  let haraka: HarakaInstance
  before(async () => {
    redis = await startRedis()
    haraka = await startHaraka({ redisPort: redis.port, mtrk: { redis: { command_timeout: 200 } } })
    await haraka.waitForLog(/MTQP listening/)
    await haraka.waitForLog(/Redis ready/) // else the greeting says the store is unavailable
  })
  after(async () => {
    await haraka.stop()
    await redis.close()
  })

  test('MTQP-17, AMB-13: -TEMP/unavailable for a TRACK when the store fails, and at connect once it is known down', async () => {
    const c = await greeted(haraka.mtqpPort, '+OK/MTQP MTQP server ready\r\n')
    await redis.stop()
    c.send(`TRACK x@sender.example ${SECRET}\r\n`)
    assert.deepEqual((await c.next()).codes, ['unavailable'])
    await haraka.waitForLog(/Redis unavailable/)
    const d = await MtqpTestClient.connect(haraka.mtqpPort)
    await d.closed
    assert.equal(d.raw, '-TEMP/MTQP/unavailable Tracking store unavailable, call back later\r\n')
  })
})
