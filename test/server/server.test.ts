// The MTQP listener end to end: real TCP on 127.0.0.1, the real TrackingStore over a real redis-server, real TLS
// with a self-signed certificate checked by the client, and an independent client in Python.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import type { Socket } from 'node:net'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import { type MtqpConfig, parseConfig } from '../../src/config/config'
import { ResponseDecoder } from '../../src/mtqp/response'
import { MtqpServer } from '../../src/server/server'
import type { MtqpLog } from '../../src/server/session'
import { FailedTrackBudget } from '../../src/store/failed-track-budget'
import { createRedisClient, type RedisClient } from '../../src/store/redis'
import { TrackingStore } from '../../src/store/store'
import { formatDateTime } from '../../src/tsn/date'
import { parseTrackingBody } from '../../src/tsn/reader'
import { makeCertificate } from '../helpers/cert'
import { destroyMtqpClients, MtqpTestClient } from '../helpers/mtqp'
import { sleep, waitFor } from '../helpers/ports'
import { type RedisServer, sharedRedisPort, startRedis } from '../helpers/redis'
import { message, recipient } from '../store/fixtures'

const ENVID = '1@h.example.com'
const TV1_SECRET = 'AAECAwQFBgcICQoLDA0ODw' // TV-1: opens the certifier of the fixtures
const B = `mtrk-${'cd'.repeat(16)}`
const GREETING = '+OK+/MTQP MTQP server ready\r\nSTARTTLS\r\n.\r\n'
const NOINFO = '-ERR/noinfo No tracking information available\r\n'
const TLS_GO = '+OK Begin TLS negotiation\r\n'

const cert = makeCertificate()
const logs: string[] = []
const log: MtqpLog = {
  debug: (m) => logs.push(`debug ${m}`),
  info: (m) => logs.push(`info ${m}`),
  warn: (m) => logs.push(`warn ${m}`),
}
const stores: TrackingStore[] = []
const servers: MtqpServer[] = []
const redisClients: RedisClient[] = []
let redisPort: number
let store: TrackingStore

function makeStore(port: number): TrackingStore {
  const { config } = parseConfig({ redis: { port } })
  const s = new TrackingStore(
    createRedisClient({ ...config.redis, commandTimeout: 500 }, 'mtqp-test'),
    { prefix: `mtqp${process.pid}-${stores.length}:`, historyLimit: 5, journal: null },
    { info: () => {}, warn: () => {} },
  )
  stores.push(s)
  return s
}

async function ready(s: TrackingStore): Promise<TrackingStore> {
  await waitFor(() => s.available, 5000, 'store ready')
  return s
}

/** The TV-1 message, accepted a minute ago, one recipient transferred to mx2.example.net. */
async function recordTv1(s: TrackingStore): Promise<number> {
  const now = Date.now()
  const arrival = Math.floor(now / 1000) * 1000 - 60_000
  await s.record({
    message: message({ arrival }),
    recipients: [
      {
        key: 'u@example.net',
        base: recipient({
          action: 'transferred',
          status: '2.4.0',
          remoteMta: 'mx2.example.net',
          lastAttempt: arrival + 1000,
          keepUntil: now + 86400_000,
        }),
      },
    ],
    now,
  })
  return arrival
}

function config(mtqp: Record<string, string | number | boolean> = {}): MtqpConfig {
  const { config, errors } = parseConfig({ mtqp })
  assert.deepEqual(errors, [])
  return config.mtqp
}

interface ServerSetup {
  mtqp?: Record<string, string | number | boolean>
  store?: TrackingStore
  /** The Redis of the failed-TRACK budget; default the shared one. */
  redisPort?: number
  withCertificate?: boolean
}

async function startServer(
  setup: ServerSetup = {},
): Promise<{ server: MtqpServer; port: number; budget: FailedTrackBudget; budgetRedis: RedisClient }> {
  const cfg = config(setup.mtqp)
  const budgetRedis = createRedisClient(
    { ...parseConfig({ redis: { port: setup.redisPort ?? redisPort } }).config.redis },
    'mtqp-budget',
  )
  budgetRedis.on('error', () => {})
  redisClients.push(budgetRedis)
  if (setup.redisPort === undefined)
    await waitFor(() => budgetRedis.status === 'ready', 5000, 'budget Redis ready')
  const budget = new FailedTrackBudget(budgetRedis, {
    prefix: `mtqp${process.pid}-budget${servers.length}:`,
    perClient: cfg.failedTrackLimit,
    windowMs: cfg.failedTrackWindow * 1000,
    perMinute: cfg.failedTrackGlobalLimit,
  })
  const server = new MtqpServer({
    config: cfg,
    store: setup.store ?? store,
    budget,
    proxyBudget: budget.scoped('global'),
    // Haraka hands over tls_socket's options; here the same object every time, as the provider contract asks.
    tls: async () => (setup.withCertificate === false ? null : material),
    log,
    randomBytes: (n) => Buffer.alloc(n, 0xcd),
  })
  servers.push(server)
  const { port } = await server.listen({ host: '127.0.0.1', port: 0 })
  return { server, port, budget, budgetRedis }
}
const material = { key: cert.key, cert: cert.cert }

before(async () => {
  redisPort = await sharedRedisPort()
  store = await ready(makeStore(redisPort))
})

after(async () => {
  destroyMtqpClients()
  for (const s of servers) await s.close()
  for (const s of stores) await s.close()
  for (const c of redisClients) c.disconnect()
  cert.remove()
})

test('MTQP-15/16 over TCP: greeting, TRACK answered from Redis with the exact wire bytes, QUIT', async () => {
  const s = await ready(makeStore(redisPort))
  const arrival = await recordTv1(s)
  const { port } = await startServer({ store: s })
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  c.send(`TRACK <${ENVID}> ${TV1_SECRET}\r\nQUIT\r\n`)
  await c.closed
  const date = (ms: number) => {
    const d = formatDateTime(new Date(ms))
    assert.ok(d.ok)
    return d.value
  }
  const body = [
    `Content-Type: multipart/related; boundary="${B}"; type="message/tracking-status"`,
    '',
    `--${B}`,
    'Content-Type: message/tracking-status',
    '',
    `Original-Envelope-Id: ${ENVID}`,
    'Reporting-MTA: dns; mx.example.net',
    `Arrival-Date: ${date(arrival)}`,
    '',
    'Original-Recipient: rfc822; u@example.net',
    'Final-Recipient: rfc822; u@example.net',
    'Action: transferred',
    'Status: 2.4.0',
    'Remote-MTA: dns; mx2.example.net',
    `Last-Attempt-Date: ${date(arrival + 1000)}`,
    '',
    `--${B}--`,
  ]
  const wire = ['+OK+ Tracking information follows', ...body, '.', '+OK bye'].map((l) => `${l}\r\n`).join('')
  assert.equal(c.raw, GREETING + wire)
  const parsed = parseTrackingBody(body.join('\r\n'))
  assert.ok(parsed.ok)
  assert.equal(parsed.value[0]?.recipients[0]?.action, 'transferred')
})

test('AMB-12 / AMB-13: wrong secret and unknown envid get byte-identical replies', async () => {
  await recordTv1(store)
  const { port } = await startServer()
  const replies: string[] = []
  for (const cmd of [`TRACK ${ENVID} AAAA`, `TRACK nobody@h.example.com ${TV1_SECRET}`]) {
    const c = await MtqpTestClient.connect(port)
    await c.until(GREETING)
    c.send(`${cmd}\r\n`)
    replies.push((await c.until(NOINFO)).slice(GREETING.length))
  }
  assert.deepEqual(replies, [NOINFO, NOINFO])
})

test('MTQP-11 / MTQP-17: Redis stopped, -TEMP/unavailable to TRACK, and new connections greeted -TEMP/MTQP', async () => {
  const redis: RedisServer = await startRedis()
  try {
    const s = await ready(makeStore(redis.port))
    await recordTv1(s)
    const { port } = await startServer({ store: s, redisPort: redis.port })
    const c = await MtqpTestClient.connect(port)
    await c.until(GREETING)
    await redis.stop()
    await waitFor(() => !s.available, 5000, 'store down')
    c.send(`TRACK ${ENVID} ${TV1_SECRET}\r\n`)
    assert.equal(
      (await c.until('call back later\r\n')).slice(GREETING.length),
      '-TEMP/unavailable Tracking store unavailable, call back later\r\n',
    )
    const late = await MtqpTestClient.connect(port)
    await late.closed
    assert.equal(late.raw, '-TEMP/MTQP/unavailable Tracking store unavailable, call back later\r\n')
  } finally {
    await redis.close()
  }
})

test('MTQP-21..24: real TLS after STARTTLS, certificate checked, new greeting without STARTTLS, TRACK over TLS', async () => {
  await recordTv1(store)
  const { port } = await startServer()
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  c.send('STARTTLS mtqp.test\r\n')
  await c.until(GREETING + TLS_GO)
  const secure = await c.starttls('mtqp.test', { ca: cert.cert })
  assert.equal(secure.authorized, true)
  assert.equal(secure.getProtocol(), 'TLSv1.3')
  assert.equal((await c.next()).indicator, '+OK', 'MTQP-24: single-line greeting, STARTTLS no longer offered')
  assert.equal(c.raw, '+OK/MTQP MTQP server ready\r\n')
  c.send('STARTTLS mtqp.test\r\n')
  assert.deepEqual((await c.next()).codes, ['tls-in-progress'])
  c.send(`TRACK ${ENVID} ${TV1_SECRET}\r\n`)
  const r = await c.next()
  assert.equal(r.indicator, '+OK+')
  const parts = parseTrackingBody((r.lines ?? []).join('\r\n'))
  assert.ok(parts.ok)
  assert.equal(parts.value[0]?.originalEnvelopeId, ENVID)
})

test('MTQP-23: a wildcard dNSName covers one label; the client verifies the same name', async () => {
  const { port } = await startServer()
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  c.send('STARTTLS other.test\r\nSTARTTLS a.wild.test\r\n')
  await c.until(`-BAD/bad-fqdn host name matches no name of the certificate\r\n${TLS_GO}`)
  const secure = await c.starttls('a.wild.test', { ca: cert.cert })
  assert.equal(secure.authorized, true)
  assert.equal((await c.next()).indicator, '+OK')
})

test('MTQP-13 / MTQP-8: required mode refuses TRACK before TLS with -ERR/tls-required and answers it after', async () => {
  await recordTv1(store)
  const { port } = await startServer({ mtqp: { starttls: 'required' } })
  const c = await MtqpTestClient.connect(port)
  await c.until('STARTTLS required\r\n.\r\n')
  c.send(`TRACK ${ENVID} ${TV1_SECRET}\r\n`)
  await c.until('-ERR/tls-required TLS required, use STARTTLS first\r\n')
  c.send('STARTTLS mtqp.test\r\n')
  await c.until(TLS_GO)
  await c.starttls('mtqp.test', { ca: cert.cert })
  await c.next()
  c.send(`TRACK ${ENVID} ${TV1_SECRET}\r\n`)
  assert.equal((await c.next()).indicator, '+OK+')
})

test('MTQP-23: without a certificate STARTTLS is not offered and answers -ERR/unsupported', async () => {
  const { port } = await startServer({ withCertificate: false })
  const c = await MtqpTestClient.connect(port)
  c.send('STARTTLS mtqp.test\r\n')
  assert.equal(
    await c.until('-ERR/unsupported TLS not available\r\n'),
    '+OK/MTQP MTQP server ready\r\n-ERR/unsupported TLS not available\r\n',
  )
})

test('MTQP-26: plaintext pipelined after STARTTLS is discarded, never answered', async () => {
  await recordTv1(store)
  const { port } = await startServer()
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  c.send(`STARTTLS mtqp.test\r\nTRACK ${ENVID} ${TV1_SECRET}\r\nQUIT\r\nCOMMENT half a li`)
  await c.until(TLS_GO)
  await sleep(50)
  assert.equal(c.raw, GREETING + TLS_GO, 'nothing answered in plaintext after +OK')
  await c.starttls('mtqp.test', { ca: cert.cert })
  assert.equal((await c.next()).indicator, '+OK')
  c.send('QUIT\r\n')
  await c.closed
  assert.equal(c.raw, '+OK/MTQP MTQP server ready\r\n+OK bye\r\n')
})

test('RFC 8996: the handshake refuses versions below min_tls_version even though the material allows them', async () => {
  const { port, server } = await startServer({ mtqp: { min_tls_version: 'TLSv1.3' } })
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  c.send('STARTTLS mtqp.test\r\n')
  await c.until(TLS_GO)
  await assert.rejects(c.starttls('mtqp.test', { ca: cert.cert, maxVersion: 'TLSv1.2' }))
  await c.closed
  await waitFor(() => server.sessions === 0, 5000, 'MTQP-24: the server drops a failed handshake')
})

test('MTQP-25: a session below adequate_tls_version gets -ERR/insecure to all but QUIT', async () => {
  const { port } = await startServer({ mtqp: { adequate_tls_version: 'TLSv1.3' } })
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  c.send('STARTTLS mtqp.test\r\n')
  await c.until(TLS_GO)
  await c.starttls('mtqp.test', { ca: cert.cert, maxVersion: 'TLSv1.2' })
  await c.next()
  c.send(`TRACK ${ENVID} ${TV1_SECRET}\r\nQUIT\r\n`)
  await c.closed
  assert.equal(c.raw, '+OK/MTQP MTQP server ready\r\n-ERR/insecure TLS protection inadequate\r\n+OK bye\r\n')
})

test('MTQP-24: a client that sends garbage instead of a handshake is dropped, and the server carries on', async () => {
  const { port, server } = await startServer()
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  c.send('STARTTLS mtqp.test\r\n')
  await c.until(TLS_GO)
  c.send('this is not a TLS ClientHello\r\n\r\n')
  await c.closed
  await waitFor(() => server.sessions === 0, 5000, 'session gone')
  const d = await MtqpTestClient.connect(port)
  await d.until(GREETING)
})

test('MTQP-4: an over-long line gets -BAD and the session carries on with the next line', async () => {
  const { port } = await startServer()
  const c = await MtqpTestClient.connect(port)
  c.send(`COMMENT ${'x'.repeat(5000)}\r\nCOMMENT ok\r\n`)
  assert.equal(await c.until('+OK\r\n'), `${GREETING}-BAD command line longer than 998 octets\r\n+OK\r\n`)
})

test('MTQP-28: the inactivity timer (test override) closes a silent session; commands reset it', async () => {
  const { port } = await startServer({ mtqp: { test_inactivity_timeout_ms: 2000 } })
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  // A command every 100 ms for 3 s: the session outlives the 2 s timeout only because each one restarts the timer.
  for (let i = 0; i < 30; i++) {
    await sleep(100)
    c.send('COMMENT keep alive\r\n')
  }
  await c.until('+OK\r\n'.repeat(30))
  await c.closed // then silence: the server hangs up
})

test('MTQP-29: connections beyond max_connections and max_connections_per_ip get -TEMP/MTQP/... then close', async () => {
  const total = await startServer({ mtqp: { max_connections: 2 } })
  const a = await MtqpTestClient.connect(total.port)
  const b = await MtqpTestClient.connect(total.port)
  await a.until(GREETING)
  await b.until(GREETING)
  const refused = await MtqpTestClient.connect(total.port)
  await refused.closed
  assert.equal(
    refused.raw,
    '-TEMP/MTQP/unavailable/too-many-connections Too many connections, call back later\r\n',
  )
  a.send('QUIT\r\n')
  await a.closed
  await waitFor(() => total.server.sessions === 1, 5000, 'slot freed')
  const again = await MtqpTestClient.connect(total.port)
  await again.until(GREETING)

  const perIp = await startServer({ mtqp: { max_connections_per_ip: 1 } })
  const first = await MtqpTestClient.connect(perIp.port)
  await first.until(GREETING)
  const second = await MtqpTestClient.connect(perIp.port)
  await second.closed
  assert.equal(
    second.raw,
    '-TEMP/MTQP/unavailable/too-many-connections Too many connections from your address, call back later\r\n',
  )
})

test('[mtqp] failed_track_proxies: a proxy is held to the global ceiling and max_connections only', async () => {
  const { port } = await startServer({
    mtqp: {
      failed_track_proxies: '127.0.0.1',
      failed_track_limit: 1,
      failed_track_global_limit: 3,
      max_connections_per_ip: 1,
      noinfo_delay: 0,
    },
  })
  const proxy = [await MtqpTestClient.connect(port), await MtqpTestClient.connect(port)]
  for (const c of proxy) await c.until(GREETING)
  const other = await MtqpTestClient.connect(port, '127.0.0.1', '127.0.0.2')
  await other.until(GREETING)
  const crowded = await MtqpTestClient.connect(port, '127.0.0.1', '127.0.0.2')
  await crowded.closed
  assert.match(crowded.raw, /too-many-connections Too many connections from your address/)
  // The proxy's two failures pass its address's limit of one; the other client's one reaches it; the ceiling is 3.
  const answer = async (c: MtqpTestClient, envid: string) => {
    const seen = c.raw.length
    c.send(`TRACK ${envid} ${TV1_SECRET}\r\n`)
    await waitFor(() => c.raw.slice(seen).endsWith('\r\n'), 5000, 'an answer')
    return c.raw.slice(seen)
  }
  assert.equal(await answer(proxy[0] as MtqpTestClient, 'p1@h.example.com'), NOINFO)
  assert.equal(await answer(proxy[1] as MtqpTestClient, 'p2@h.example.com'), NOINFO)
  assert.equal(await answer(other, 'o1@h.example.com'), NOINFO)
  assert.match(await answer(other, 'o2@h.example.com'), /^-TEMP\/too-many-failures /)
  assert.match(await answer(proxy[0] as MtqpTestClient, 'p3@h.example.com'), /^-TEMP\/too-many-failures /)
})

test('MTQP-11: a suspended service greets -TEMP/MTQP/admin and closes', async () => {
  const { port } = await startServer({ mtqp: { suspended: true } })
  const c = await MtqpTestClient.connect(port)
  await c.closed
  assert.equal(c.raw, '-TEMP/MTQP/admin Service down for admin, call back later\r\n')
})

test('MTQP-9: a long pipelined batch (reading pauses while Redis answers) is answered completely and in order', async () => {
  await recordTv1(store)
  // The failed TRACKs of this batch would otherwise spend the client's budget (MTQP-29).
  const { port } = await startServer({ mtqp: { failed_track_limit: 0 } })
  const c = await MtqpTestClient.connect(port)
  const batch = Array.from({ length: 150 }, (_, i) =>
    i % 3 === 2 ? `COMMENT ${i}\r\n` : `TRACK ${ENVID} ${i % 3 === 0 ? TV1_SECRET : 'AAAA'}\r\n`,
  )
  c.send(`${batch.join('')}QUIT\r\n`)
  await c.closed
  const replies = new ResponseDecoder().push(Buffer.from(c.raw, 'latin1'))
  const want = ['+OK+', ...batch.map((_, i) => ['+OK+', '-ERR', '+OK'][i % 3]), '+OK']
  assert.deepEqual(
    replies.map((r) => (r.ok ? r.value.indicator : r.error)),
    want,
  )
})

/** The replies to `tracks` sent pipelined in one write, then QUIT, as indicator/codes. */
async function pipelined(port: number, tracks: string[]): Promise<string[]> {
  const c = await MtqpTestClient.connect(port)
  c.send(`${tracks.join('')}QUIT\r\n`)
  await c.closed
  const replies = new ResponseDecoder().push(Buffer.from(c.raw, 'latin1'))
  return replies.slice(1, -1).map((r) => (r.ok ? [r.value.indicator, ...r.value.codes].join('/') : r.error))
}

const SPENT = '-TEMP/too-many-failures'

test('MTQP-29: 40 wrong TRACKs pipelined with a budget of 20: 20 -ERR/noinfo, then 20 -TEMP/too-many-failures', async () => {
  const { port, budget, budgetRedis } = await startServer({
    mtqp: { failed_track_limit: 20, noinfo_delay: 0 },
  })
  const wrong = Array.from({ length: 40 }, (_, i) => `TRACK w${i}@h.example.com ${TV1_SECRET}\r\n`)
  const got = await pipelined(port, wrong)
  assert.deepEqual(got, [...Array(20).fill('-ERR/noinfo'), ...Array(20).fill(SPENT)])
  assert.equal(await budgetRedis.get(budget.clientKey('127.0.0.1')), '20')
})

test('MTQP-29: a pipelined mix of right and wrong TRACKs leaves exactly the wrong ones counted', async () => {
  await recordTv1(store)
  const { port, budget, budgetRedis } = await startServer({
    mtqp: { failed_track_limit: 20, noinfo_delay: 0 },
  })
  const wrongAt = (i: number) => i % 4 === 1 || i === 30
  const tracks = Array.from({ length: 32 }, (_, i) =>
    wrongAt(i) ? `TRACK ${ENVID} AAAAAAAAAAAAAAAAAAAAAA\r\n` : `TRACK ${ENVID} ${TV1_SECRET}\r\n`,
  )
  const got = await pipelined(port, tracks)
  assert.deepEqual(
    got,
    tracks.map((_, i) => (wrongAt(i) ? '-ERR/noinfo' : '+OK+')),
  )
  const counted = () => budgetRedis.get(budget.clientKey('127.0.0.1'))
  await waitFor(async () => (await counted()) === '9', 5000, 'the releases of the right TRACKs')
  await sleep(50)
  assert.equal(await counted(), '9', 'nothing more given back')
})

test('MTQP-29: right TRACKs pipelined beyond a small budget are all answered: only failures spend it', async () => {
  await recordTv1(store)
  const { port, budget, budgetRedis } = await startServer({
    mtqp: { failed_track_limit: 3, noinfo_delay: 0 },
  })
  const right = `TRACK ${ENVID} ${TV1_SECRET}\r\n`
  const wrong = `TRACK ${ENVID} AAAAAAAAAAAAAAAAAAAAAA\r\n`
  const got = await pipelined(port, [...Array(20).fill(right), wrong, right, wrong, wrong, wrong, right])
  assert.deepEqual(got, [
    ...Array(20).fill('+OK+'),
    '-ERR/noinfo',
    '+OK+',
    '-ERR/noinfo',
    '-ERR/noinfo',
    SPENT,
    SPENT,
  ])
  await waitFor(async () => (await budgetRedis.get(budget.clientKey('127.0.0.1'))) === '3', 5000, 'counted')
})

test('MTQP-29: 12 connections of one address, 16 right TRACKs pipelined on each, budget 20: none is refused', async () => {
  await recordTv1(store)
  const { port, budget, budgetRedis } = await startServer({
    mtqp: { failed_track_limit: 20, max_connections_per_ip: 12, noinfo_delay: 0 },
  })
  const right = `TRACK ${ENVID} ${TV1_SECRET}\r\n`
  const got = await Promise.all(Array.from({ length: 12 }, () => pipelined(port, Array(16).fill(right))))
  assert.deepEqual(got.flat(), Array(12 * 16).fill('+OK+'))
  await waitFor(
    async () => (await budgetRedis.get(budget.clientKey('127.0.0.1'))) === '0',
    5000,
    'all given back',
  )
})

test('a client vanishing in the middle of a pipelined batch costs nothing but its session', async () => {
  await recordTv1(store)
  const { port, server } = await startServer()
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  c.send(`TRACK ${ENVID} ${TV1_SECRET}\r\n`.repeat(200))
  ;(c.socket as Socket).resetAndDestroy()
  await waitFor(() => server.sessions === 0, 5000, 'session gone')
  const d = await MtqpTestClient.connect(port)
  await d.until(GREETING)
})

test('close() ends open sessions and stops listening', async () => {
  const { port, server } = await startServer()
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  await server.close()
  await c.closed
  await assert.rejects(MtqpTestClient.connect(port))
})

// An independent client: Python's socket and ssl modules, with hostname and certificate checking on.
const PYTHON_CLIENT = String.raw`
import json, socket, ssl, sys
port, cafile, envid, secret = sys.argv[1:5]

def response(f):
    lines = [f.readline().decode('latin1')]
    if lines[0].startswith('+OK+'):
        while lines[-1] != '.\r\n':
            lines.append(f.readline().decode('latin1'))
    return ''.join(lines)

s = socket.create_connection(('127.0.0.1', int(port)), timeout=10)
f = s.makefile('rb')
first = response(f)
s.sendall(b'STARTTLS mtqp.test\r\n')
go = response(f)
ctx = ssl.create_default_context(cafile=cafile)
ctx.minimum_version = ssl.TLSVersion.TLSv1_2
t = ctx.wrap_socket(s, server_hostname='mtqp.test')
tf = t.makefile('rb')
second = response(tf)
t.sendall(('TRACK <%s> %s\r\n' % (envid, secret)).encode('ascii'))
track = response(tf)
t.sendall(b'QUIT\r\n')
bye = response(tf)
print(json.dumps({'first': first, 'go': go, 'version': t.version(), 'second': second, 'track': track, 'bye': bye}))
`

test('Python ssl client: STARTTLS with certificate verification, then TRACK and QUIT', async () => {
  await recordTv1(store)
  const { port } = await startServer()
  const { stdout } = await promisify(execFile)(
    'python3',
    ['-c', PYTHON_CLIENT, String(port), cert.certFile, ENVID, `${TV1_SECRET}==`],
    { timeout: 20000 },
  )
  const r = JSON.parse(stdout) as Record<string, string>
  assert.equal(r.first, GREETING)
  assert.equal(r.go, TLS_GO)
  assert.equal(r.version, 'TLSv1.3')
  assert.equal(r.second, '+OK/MTQP MTQP server ready\r\n')
  assert.match(
    r.track ?? '',
    /^\+OK\+ Tracking information follows\r\n[\s\S]*Action: transferred\r\n[\s\S]*\.\r\n$/,
  )
  assert.equal(r.bye, '+OK bye\r\n')
})

test('nothing unexpected was logged as a warning', () => {
  assert.deepEqual(
    logs.filter(
      (l) => l.startsWith('warn') && !/tracking store failed|failed-TRACK budget unavailable/.test(l),
    ),
    [],
  )
})

test('a client that sends without reading is held back: the server stops reading until its answers drain', async () => {
  const { port } = await startServer()
  const c = await MtqpTestClient.connect(port)
  await c.until(GREETING)
  const socket = c.socket as Socket
  socket.pause() // never read: the server's answers pile up in the kernel, then in its socket buffer
  const chunk = Buffer.from('COMMENT x\r\n'.repeat(10_000))
  let written = 0
  // Write until our own socket buffers back up: that only happens once the server has stopped reading.
  while (socket.write(chunk)) {
    written += chunk.length
    if (written > 200 * 1024 * 1024) break
    await new Promise((r) => setImmediate(r))
  }
  assert.ok(written < 200 * 1024 * 1024, 'the server stopped reading before 200 MB were sent')
  socket.destroy()
})
