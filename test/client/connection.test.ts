// The client connection and the real querier over real TCP and TLS: STARTTLS modes, certificate checks, TOFU
// alarms, pipelining, reply mapping, timers and fail-over between discovered servers.
import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import { MtqpClient, MtqpClientError } from '../../src/client/connection'
import type { DnsResolver } from '../../src/client/discovery'
import { mtqpQuerier } from '../../src/client/querier'
import { TofuMemory } from '../../src/client/tofu'
import type { TrackRequest } from '../../src/client/types'
import { decodeBase64Strict } from '../../src/util/base64'
import { makeCertificate } from '../helpers/cert'
import { type RunningServer, realServer, scriptedServer, stored, TV1_ENVID, TV1_SECRET } from './servers'

const cert = makeCertificate(['mtqp.a.test'])
const otherCert = makeCertificate(['mtqp.a.test'])
const running: RunningServer[] = []
after(async () => {
  for (const s of running) await s.close()
  cert.remove()
  otherCert.remove()
})

const REQUEST: TrackRequest = {
  envid: TV1_ENVID,
  secret: decodeBase64Strict(TV1_SECRET, { allowPadding: false })!,
}
const RECORDS = [stored('mx.a.test', [{ address: 'alice@b.test', action: 'delivered', status: '2.5.0' }])]

async function serve(opts: Parameters<typeof realServer>[0]): Promise<RunningServer> {
  const s = await realServer(opts)
  running.push(s)
  return s
}

const target = (port: number, name = 'mtqp.a.test') => ({ name, address: '127.0.0.1', port })

test('MTQPC-3: opportunistic STARTTLS, certificate verified against the FQDN, the new greeting in force', async () => {
  const s = await serve({ records: RECORDS, cert })
  const c = await MtqpClient.connect(target(s.port), { ca: cert.cert })
  assert.match(c.server.tls ?? '', /^TLSv1\.[23]$/)
  assert.equal(c.server.verified, true)
  assert.equal(c.greeting.starttls, false, 'MTQP-24: the greeting over TLS no longer offers STARTTLS')
  const [answer] = await c.track([REQUEST], { quit: true })
  assert.equal(answer?.kind, 'answered')
  assert.equal(answer?.kind === 'answered' && answer.parts[0]?.recipients[0]?.action, 'delivered')
})

test('MTQPC-3 / RFC 3887 §11: an unverifiable certificate fails with advice; insecure goes on unverified', async () => {
  const s = await serve({ records: RECORDS, cert })
  await assert.rejects(MtqpClient.connect(target(s.port)), (e: unknown) => {
    assert.ok(e instanceof MtqpClientError)
    assert.equal(e.failure, 'tls')
    assert.match(e.message, /TLS with mtqp\.a\.test:\d+ failed: .*self-signed.*--ca FILE.*--insecure/)
    return true
  })
  const c = await MtqpClient.connect(target(s.port), { insecure: true })
  assert.equal(c.server.verified, false)
  await c.quit()
})

test('MTQPC-3: starttls=required refuses a server that does not offer it; off never starts TLS', async () => {
  const plain = await serve({ records: RECORDS })
  await assert.rejects(
    MtqpClient.connect(target(plain.port), { starttls: 'required' }),
    /does not offer STARTTLS, and STARTTLS is required/,
  )
  const tls = await serve({ records: RECORDS, cert })
  const c = await MtqpClient.connect(target(tls.port), { starttls: 'off' })
  assert.equal(c.server.tls, null)
  assert.equal(c.greeting.starttls, true)
  await c.quit()
})

test('AMB-24: no fully qualified name to check (an IP address): plaintext with a note, or a TLS failure if required', async () => {
  const s = await serve({ records: RECORDS, cert })
  const notes: string[] = []
  const c = await MtqpClient.connect(target(s.port, '127.0.0.1'), { warn: (m) => notes.push(m) })
  assert.equal(c.server.tls, null)
  assert.match(
    notes[0] ?? '',
    /not using TLS with 127\.0\.0\.1:\d+: 127\.0\.0\.1 is not a fully qualified host name/,
  )
  await c.quit()
  await assert.rejects(
    MtqpClient.connect(target(s.port, '127.0.0.1'), { starttls: 'required' }),
    /give tlsName, --tls-name/,
  )
  const named = await MtqpClient.connect(
    { ...target(s.port, '127.0.0.1'), tlsName: 'mtqp.a.test' },
    { ca: cert.cert, starttls: 'required' },
  )
  assert.equal(named.server.verified, true)
  await named.quit()
})

test('MTQPC-4 / RFC 3887 §11: TOFU alarms when STARTTLS disappears and when the certificate changes', async () => {
  const tofu = new TofuMemory()
  const alarms: string[] = []
  const opts = { tofu, insecure: true, warn: (m: string) => alarms.push(m) }
  // Three sessions with one server name and port: STARTTLS offered, then stripped, then another certificate.
  const first = await serve({ records: RECORDS, cert })
  const port = first.port
  await (await MtqpClient.connect(target(port), opts)).quit()
  assert.deepEqual(alarms, [])
  const fingerprint = tofu.get(`mtqp.a.test:${port}`)?.fingerprint
  assert.match(fingerprint ?? '', /^([0-9A-F]{2}:){31}[0-9A-F]{2}$/)
  await first.close()
  const stripped = await scriptedServer('+OK/MTQP ready\r\n', () => null, port)
  running.push(stripped)
  ;(await MtqpClient.connect(target(port), opts)).close()
  assert.match(
    alarms[0] ?? '',
    new RegExp(`^WARNING: mtqp\\.a\\.test:${port} offered STARTTLS before .* does not offer it now`),
  )
  await stripped.close()
  await serve({ records: RECORDS, cert: otherCert, port })
  await (await MtqpClient.connect(target(port), opts)).quit()
  assert.match(
    alarms[1] ?? '',
    new RegExp(
      `^WARNING: the TLS certificate of mtqp\\.a\\.test:${port} has changed \\(was SHA-256 ${fingerprint}`,
    ),
  )
  assert.equal(alarms.length, 2)
  assert.equal(tofu.get(`mtqp.a.test:${port}`)?.starttls, true, 'the downgrade is never learned')
})

test('MTQPC-8: several TRACKs and QUIT go out in one batch, before any answer', async () => {
  // The server answers nothing until it holds every line up to QUIT: a client waiting between commands would hang.
  const body = (n: number) => [
    '+OK+ Tracking information follows',
    'Content-Type: message/tracking-status',
    '',
    `Original-Envelope-Id: ${n}@h.example.com`,
    'Reporting-MTA: dns; mx.a.test',
    'Arrival-Date: Mon, 1 Jan 2001 15:15:15 -0500',
    '',
    'Original-Recipient: rfc822; u@x.test',
    'Final-Recipient: rfc822; u@x.test',
    'Action: delivered',
    'Status: 2.5.0',
    '.',
  ]
  const s = await scriptedServer('+OK/MTQP ready\r\n', (lines) =>
    lines.at(-1) === 'QUIT'
      ? [...lines.slice(0, -1).flatMap((_, i) => body(i + 1)), '+OK bye', ''].join('\r\n')
      : null,
  )
  running.push(s)
  const c = await MtqpClient.connect(target(s.port))
  const answers = await c.track(
    [1, 2, 3].map((n) => ({ ...REQUEST, envid: `${n}@h.example.com` })),
    { quit: true },
  )
  assert.deepEqual(
    answers.map((a) => a.kind === 'answered' && a.parts[0]?.originalEnvelopeId),
    ['1@h.example.com', '2@h.example.com', '3@h.example.com'],
  )
  assert.equal(
    s.received[0],
    `TRACK 1@h.example.com ${TV1_SECRET}\r\nTRACK 2@h.example.com ${TV1_SECRET}\r\nTRACK 3@h.example.com ${TV1_SECRET}\r\nQUIT\r\n`,
  )
})

test('MTQPC-9: replies map to what the user can do; no reason ever holds the secret (URI-5)', async () => {
  const replies = [
    '-TEMP/unavailable Tracking store unavailable',
    '-ERR/noinfo No tracking information available',
    '-ERR/tls-required TLS required, use STARTTLS first',
    '-ERR/insecure TLS protection inadequate',
    '-ERR/whatever no',
    '-BAD syntax error',
    '+OK fine',
    '+OK+ Tracking information follows\r\nContent-Type: text/plain\r\n\r\nhello\r\n.',
  ]
  const s = await scriptedServer('+OK/MTQP ready\r\n', (lines) =>
    lines.at(-1) === 'QUIT' ? `${replies.join('\r\n')}\r\n+OK bye\r\n` : null,
  )
  running.push(s)
  const c = await MtqpClient.connect(target(s.port))
  const answers = await c.track(
    replies.map(() => REQUEST),
    { quit: true },
  )
  assert.deepEqual(
    answers.map((a) => (a.kind === 'failed' ? a.failure : a.kind)),
    ['temporary', 'noinfo', 'tls-required', 'tls', 'rejected', 'rejected', 'protocol', 'protocol'],
  )
  for (const a of answers) assert.ok(a.kind === 'failed' && !a.reason.includes(TV1_SECRET))
  assert.match(
    answers[0]?.kind === 'failed' ? answers[0].reason : '',
    /cannot answer now \(-TEMP\/unavailable Tracking store unavailable\); try again later/,
  )
})

test('MTQP-11: a negative greeting is a refusal, temporary for -TEMP; a server text cannot drive the terminal', async () => {
  const temp = await scriptedServer('-TEMP/MTQP/admin Down \x1b[31mfor admin\r\n', () => null)
  const perm = await scriptedServer('-ERR/MTQP/unavailable Service down\r\n', () => null)
  running.push(temp, perm)
  await assert.rejects(MtqpClient.connect(target(temp.port)), (e: unknown) => {
    assert.ok(e instanceof MtqpClientError && e.failure === 'temporary')
    assert.match(
      e.message,
      /refused the session: -TEMP\/mtqp\/admin Down \?\[31mfor admin \(try again later\)/,
    )
    return true
  })
  await assert.rejects(
    MtqpClient.connect(target(perm.port)),
    (e: unknown) => e instanceof MtqpClientError && e.failure === 'refused',
  )
})

test('MTQPC-7: the inactivity timer cannot be under 2 minutes; a deadline is an AbortSignal', async () => {
  await assert.rejects(MtqpClient.connect(target(1), { inactivityTimeoutMs: 119_999 }), RangeError)
  const silent = await scriptedServer('+OK/MTQP ready\r\n', () => null)
  running.push(silent)
  const controller = new AbortController()
  const c = await MtqpClient.connect(target(silent.port), { signal: controller.signal })
  setTimeout(() => controller.abort(), 100)
  const [answer] = await c.track([REQUEST])
  assert.deepEqual(answer, {
    kind: 'failed',
    failure: 'aborted',
    reason: `query of mtqp.a.test:${silent.port} abandoned: out of time`,
  })
})

test('RFC 2782 fail-over: an unreachable SRV target is skipped; requests in one turn share one connection (MTQPC-8)', async () => {
  const s = await serve({ records: RECORDS })
  const counting = await scriptedServer('', () => null)
  running.push(counting)
  await counting.close() // a port nothing listens on any more
  const resolver: DnsResolver = {
    resolveSrv: async () => [
      { name: 'dead.a.test', port: counting.port, priority: 1, weight: 0 },
      { name: 'mtqp.a.test', port: s.port, priority: 2, weight: 0 },
    ],
    resolveAddresses: async () => ['127.0.0.1'],
  }
  const query = mtqpQuerier({ resolver })
  const [one, two] = await Promise.all([
    query({ kind: 'mta', host: 'mx.a.test' }, REQUEST),
    query({ kind: 'mta', host: 'MX.A.TEST' }, REQUEST),
  ])
  assert.equal(one?.kind, 'answered')
  assert.equal(two?.kind, 'answered')
  assert.deepEqual(one?.kind === 'answered' && one.server, {
    name: 'mtqp.a.test',
    port: s.port,
    address: '127.0.0.1',
    via: 'srv',
    srvName: '_mtqp._tcp.mx.a.test',
    tls: null,
  })
  const gone: DnsResolver = {
    resolveSrv: async () => [],
    resolveAddresses: async () => {
      throw Object.assign(new Error('nx'), { code: 'ENOTFOUND' })
    },
  }
  const none = await mtqpQuerier({ resolver: gone })({ kind: 'mta', host: 'mx.z.test' }, REQUEST)
  assert.deepEqual(none, {
    kind: 'failed',
    failure: 'dns',
    reason:
      'mx.z.test has no address (ENOTFOUND) (no SRV record for mx.z.test; tried its addresses on port 1038)',
  })
})

test('MTQPC-5, issue 10 case 6: an answer with one malformed part gives the good parts and says what was skipped', async () => {
  const good = [
    'Original-Envelope-Id: 1@h.example.com',
    'Reporting-MTA: dns; mx.example.net',
    'Arrival-Date: Thu, 01 Oct 15 13:48:54 UTC',
    '',
    'Original-Recipient: rfc822; u@example.net',
    'Final-Recipient: rfc822; u@example.net',
    'Action: delivered',
    'Status: 2.0.0',
  ]
  const body = [
    '+OK+ Tracking information follows',
    'Content-Type: multipart/related; boundary="b"; type="message/tracking-status"',
    '',
    '--b',
    'Content-Type: message/tracking-status',
    '',
    'Reporting-MTA: dns; broken.example',
    '',
    'Final-Recipient: rfc822; u@example.net',
    '--b',
    'Content-Type: message/tracking-status',
    '',
    ...good,
    '--b--',
    '.',
  ].join('\r\n')
  const s = await scriptedServer('+OK/MTQP ready\r\n', (lines) =>
    lines.at(-1) === 'QUIT' ? `${body}\r\n+OK bye\r\n` : null,
  )
  running.push(s)
  const c = await MtqpClient.connect(target(s.port))
  const [answer] = await c.track([REQUEST], { quit: true })
  assert.equal(answer?.kind, 'answered')
  if (answer?.kind !== 'answered') return
  assert.deepEqual(
    answer.parts.map((p) => [p.reportingMta.value, p.arrivalDate.toISOString()]),
    [['mx.example.net', '2015-10-01T13:48:54.000Z']],
  )
  assert.deepEqual(answer.skipped, [
    'part 1: Original-Envelope-Id: required field missing (part skipped)',
    'part 1: Arrival-Date: required field missing (part skipped)',
  ])
})
