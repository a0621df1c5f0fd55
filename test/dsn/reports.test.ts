// Delivery status notifications end to end (issue 9, "Done when"): a real Haraka with this plugin relays to Python
// aiosmtpd next hops (one rejects 550 5.1.1, defers 450/451, accepts with or without DSN) and to a local queue; every
// report it sends goes over SMTP to a sink, and is read with Python's `email` package, field by field.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { after, before, test } from 'node:test'
import { explainedBy, type HarakaInstance, startHaraka } from '../helpers/haraka'
import { type Peer, type StoredMail, startPeer } from '../helpers/peer'
import { freePort, sleep, waitFor } from '../helpers/ports'
import { type PostfixInstance, postfixAvailable, startPostfix } from '../helpers/postfix'
import { sharedRedisPort } from '../helpers/redis'
import { SmtpClient } from '../helpers/smtp'
import { send } from '../relay/relaying'
import { field, type PyFields, type PyReport, parseReports } from './python'

const COALESCE_MS = 2000
/** How long "nothing" is waited for once the outcome is known: the coalescing window and then some. */
const QUIET_MS = COALESCE_MS + 3000
/** outbound.ini temp_fail_intervals: the shortest Haraka allows. */
const RETRY = '5s'

let peer: Peer
let a: HarakaInstance
let off: HarakaInstance | null = null
/** The final relay of an MTRK chain: A relays b.relay.test to it, it delivers locally. */
let b: HarakaInstance | null = null
let postfix: PostfixInstance | null = null
/** [dsn] success_delay_reports=relay_clients; relaying allowed to 127.0.0.2 only (the relay plugin's ACL). */
let rc: HarakaInstance | null = null

const reportsTo = (sender: string): StoredMail[] => peer.messages().filter((m) => m.rcpt_tos.includes(sender))

/** Waits for `count` reports to `sender` and then for quiet, so that one more would be seen; parses them. */
async function reports(sender: string, count: number, ms = 30000): Promise<PyReport[]> {
  await waitFor(() => reportsTo(sender).length >= count, ms, `${count} report(s) to ${sender}`)
  await sleep(QUIET_MS)
  const got = reportsTo(sender)
  assert.equal(
    got.length,
    count,
    `reports to ${sender}: ${got.map((m) => m.data.slice(0, 400)).join('\n----\n')}`,
  )
  for (const m of got) {
    assert.ok(['', '<>'].includes(m.mail_from), 'RFC 3461 §6.1: MAIL FROM:<>')
    assert.deepEqual(m.rcpt_tos, [sender])
    assert.ok(!m.mail_options.some((o) => /^RET=/i.test(o)), 'DSN-14: no RET')
  }
  return parseReports(got.map((m) => m.data))
}

/** Nothing reaches `sender` once the next hop saw `rcpt` (its session ended), within a bounded wait. */
async function nothing(listener: string, rcpt: string, sender: string): Promise<void> {
  await peer.waitForSessions(listener, new RegExp(`RCPT TO:<${rcpt}>`))
  await sleep(QUIET_MS)
  assert.deepEqual(
    reportsTo(sender).map((m) => m.data.slice(0, 300)),
    [],
    `no report to ${sender}`,
  )
}

const groups = (r: PyReport | undefined) => r?.parts[1]?.recipients ?? []
const group = (r: PyReport | undefined, address: string): PyFields | undefined =>
  groups(r).find((g) => field(g, 'Final-Recipient') === `rfc822; ${address}`)

function dateOf(value: string | undefined): number {
  const ms = Date.parse(value ?? '')
  assert.ok(Number.isFinite(ms), `a date: ${value}`)
  return ms
}

/** The structure every report has, whatever it reports (RFC 3461 §6.2, RFC 3464 §2). */
function assertShape(r: PyReport | undefined, sent: number, envid: string | null): void {
  assert.ok(r)
  assert.deepEqual(r.defects, [])
  assert.equal(r.type, 'multipart/report')
  assert.equal(r.reportType, 'delivery-status')
  assert.equal(field(r.headers, 'Auto-Submitted'), 'auto-replied')
  assert.equal(field(r.headers, 'From'), 'Mail Delivery System <MAILER-DAEMON@mx.a.test>')
  const types = r.parts.map((p) => p.type)
  assert.deepEqual(types.slice(0, 2), ['text/plain', 'message/delivery-status'])
  assert.ok(['text/rfc822-headers', 'message/rfc822'].includes(types[2] ?? ''), types.join())
  for (const p of r.parts) assert.deepEqual(p.defects, [], p.type)
  const message = r.parts[1]?.message
  assert.equal(field(message, 'Original-Envelope-Id'), envid ?? undefined, 'DSN-13')
  assert.equal(field(message, 'Reporting-MTA'), 'dns; mx.a.test')
  const arrival = dateOf(field(message, 'Arrival-Date'))
  assert.ok(arrival >= sent - 2000 && arrival <= Date.now(), 'Arrival-Date')
}

before(async () => {
  const redisPort = await sharedRedisPort()
  peer = await startPeer([
    { name: 'dsn', ehlo: ['ENHANCEDSTATUSCODES', 'DSN'] },
    { name: 'plain', ehlo: ['ENHANCEDSTATUSCODES'] },
    { name: 'sink', ehlo: ['ENHANCEDSTATUSCODES', '8BITMIME'], store: true },
    { name: 'lmtp', ehlo: ['ENHANCEDSTATUSCODES'], lmtp: true },
  ])
  if (postfixAvailable()) {
    // Postfix holds what it receives, so postcat can show the envelope records it kept (ENVID, RET, NOTIFY, ORCPT).
    postfix = await startPostfix({ main: { smtpd_client_restrictions: 'check_client_access static:HOLD' } })
  }
  b = await startHaraka({
    redisPort,
    me: 'mx.b.test',
    plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
    files: {
      test_local_domains: 'b.relay.test\n',
      'test_mx.json': JSON.stringify({
        'sender.test': { port: peer.ports.sink ?? 0, name: 'mx.sender.test' },
      }),
      'outbound.ini': 'local_mx_ok=true\n',
    },
    mtrk: { dsn: { coalesce_ms: COALESCE_MS } },
  })
  const routes: Record<string, { port: number; name: string; lmtp?: boolean }> = {
    'b.relay.test': { port: b.smtpPort, name: 'mx.b.test' },
    'dsn.relay.test': { port: peer.ports.dsn ?? 0, name: 'mx.dsn.test' },
    'plain.relay.test': { port: peer.ports.plain ?? 0, name: 'mx.plain.test' },
    'lmtp.relay.test': { port: peer.ports.lmtp ?? 0, name: 'lmtp.store.test', lmtp: true },
    // Nothing listens there: connection refused.
    'closed.relay.test': { port: await freePort(), name: 'mx.closed.test' },
    // Reports go back to the senders: to the sink.
    'sender.test': { port: peer.ports.sink ?? 0, name: 'mx.sender.test' },
    ...(postfix ? { 'postfix.relay.test': { port: postfix.smtpPort, name: 'mx.postfix.test' } } : {}),
  }
  const files = {
    'test_mx.json': JSON.stringify(routes),
    'outbound.ini': `temp_fail_intervals=${RETRY},${RETRY}\nlocal_mx_ok=true\n`,
    'aliases.json': JSON.stringify({
      'list-8@local.test': { action: 'alias', to: ['m1-8@plain.relay.test', 'm2-8@plain.relay.test'] },
    }),
  }
  const plugins = ['aliases', 'test_rcpt', 'mtrk', 'test_queue', 'test_mx']
  const dsn = { coalesce_ms: COALESCE_MS, delay_report_after: 0, delay_report_interval: 3600 }
  ;[a, off, rc] = await Promise.all([
    startHaraka({ redisPort, me: 'mx.a.test', plugins, files, mtrk: { dsn } }),
    startHaraka({ redisPort, me: 'mx.off.test', plugins, files, mtrk: { dsn: { ...dsn, enabled: false } } }),
    startHaraka({
      redisPort,
      me: 'mx.rc.test',
      plugins: ['relay', ...plugins],
      files: {
        ...files,
        'relay.ini': '[relay]\nacl=true\nforce_routing=false\n',
        relay_acl_allow: '127.0.0.2/32\n',
      },
      mtrk: { dsn: { ...dsn, success_delay_reports: 'relay_clients' } },
    }),
  ])
})

after(async () => {
  await a?.stop()
  await off?.stop()
  await rc?.stop()
  await b?.stop()
  await postfix?.stop()
  await peer?.stop()
})

/** A failure carries the end of A's log. */
const explained = explainedBy(() => a)

test(
  'recipients failing together, across domains, get one report; every field read back by Python email',
  explained(async () => {
    const sent = await send(a.smtpPort, 't1@sender.test', 'ENVID=t1+2Benv RET=HDRS', [
      { to: 'reject-1a@plain.relay.test', params: 'ORCPT=rfc822;Orig+2B1@x.test' },
      { to: 'reject-1b@plain.relay.test' },
      { to: 'reject-1c@dsn.relay.test', params: 'NOTIFY=FAILURE' },
    ])
    const [r] = await reports('t1@sender.test', 1)
    assertShape(r, sent, 't1+env')
    assert.equal(field(r?.headers, 'To'), '<t1@sender.test>')
    assert.equal(field(r?.headers, 'Subject'), 'Undelivered Mail Returned to Sender')
    assert.equal(groups(r).length, 3)
    const g1 = group(r, 'reject-1a@plain.relay.test')
    assert.deepEqual(
      g1?.filter(([n]) => n !== 'Last-Attempt-Date'),
      [
        ['Original-Recipient', 'rfc822; Orig+1@x.test'],
        ['Final-Recipient', 'rfc822; reject-1a@plain.relay.test'],
        ['Action', 'failed'],
        ['Status', '5.1.1'],
        ['Remote-MTA', 'dns; mx.plain.test'],
        ['Diagnostic-Code', 'smtp; 550 5.1.1 no such user here'],
      ],
    )
    const attempted = dateOf(field(g1, 'Last-Attempt-Date'))
    assert.ok(attempted >= sent - 1000 && attempted <= Date.now())
    // No ORCPT received: no Original-Recipient (RFC 3461 §6.3(d)).
    assert.equal(field(group(r, 'reject-1b@plain.relay.test'), 'Original-Recipient'), undefined)
    assert.equal(field(group(r, 'reject-1c@dsn.relay.test'), 'Remote-MTA'), 'dns; mx.dsn.test')
    assert.equal(r?.parts[2]?.type, 'text/rfc822-headers', 'RET=HDRS')
    assert.match(r?.parts[2]?.text ?? '', /^Subject: relaying test$/m)
    const human = r?.parts[0]?.text ?? ''
    assert.match(human, /could not be delivered/)
    for (const x of ['reject-1a@plain.relay.test', 'reject-1b@plain.relay.test', 'reject-1c@dsn.relay.test'])
      assert.ok(human.includes(`<${x}>`), x)
    assert.match(human, /550 5\.1\.1 no such user here/)
    assert.doesNotMatch(a.logs(), /Double bounce|Sending bounce/, "Haraka's own bounce is replaced")
  }),
)

test(
  'RET=FULL returns the message as message/rfc822; without RET the headers (the documented default)',
  explained(async () => {
    const sent = await send(
      a.smtpPort,
      't2@sender.test',
      'RET=FULL',
      [{ to: 'reject-2@plain.relay.test' }],
      // SmtpClient ends the data with CRLF itself.
      'Subject: full return\n\nthe body\n.dot line',
    )
    await send(a.smtpPort, 't2b@sender.test', '', [{ to: 'reject-2b@plain.relay.test' }])
    const [full] = await reports('t2@sender.test', 1)
    assertShape(full, sent, null)
    const returned = full?.parts[2]
    assert.equal(returned?.type, 'message/rfc822')
    assert.equal(field(returned?.headers, 'Subject'), 'full return')
    assert.equal(returned?.body?.replace(/\r\n/g, '\n'), 'the body\n.dot line\n')
    const [hdrs] = await reports('t2b@sender.test', 1)
    assert.equal(hdrs?.parts[2]?.type, 'text/rfc822-headers')
  }),
)

test(
  'NOTIFY=NEVER, NOTIFY without FAILURE, and MAIL FROM:<> get nothing within a bounded wait',
  explained(async () => {
    await send(a.smtpPort, 't3@sender.test', 'RET=FULL', [
      { to: 'reject-3@plain.relay.test', params: 'NOTIFY=NEVER' },
    ])
    await send(a.smtpPort, 't3b@sender.test', '', [
      { to: 'reject-3b@plain.relay.test', params: 'NOTIFY=SUCCESS,DELAY' },
    ])
    await send(a.smtpPort, '', '', [{ to: 'reject-3c@plain.relay.test' }])
    await nothing('plain', 'reject-3@plain.relay.test', 't3@sender.test')
    await nothing('plain', 'reject-3b@plain.relay.test', 't3b@sender.test')
    await nothing('plain', 'reject-3c@plain.relay.test', '')
    assert.deepEqual(
      peer.messages().filter((m) => m.data.includes('reject-3')),
      [],
      'no report about a report, nor Haraka bounce',
    )
  }),
)

test(
  'NOTIFY=SUCCESS: relayed when the next hop lacks DSN (DSN-11), nothing when it took NOTIFY, delivered locally',
  explained(async () => {
    const sent = await send(a.smtpPort, 't4@sender.test', 'ENVID=t4', [
      { to: 'ok-4@plain.relay.test', params: 'NOTIFY=SUCCESS' },
    ])
    await send(a.smtpPort, 't4b@sender.test', 'ENVID=t4b', [
      { to: 'ok-4b@dsn.relay.test', params: 'NOTIFY=SUCCESS ORCPT=rfc822;ok-4b@dsn.relay.test' },
    ])
    const local = await send(a.smtpPort, 't4c@sender.test', '', [
      { to: 'u4@local.test', params: 'NOTIFY=SUCCESS ORCPT=rfc822;U4@local.test' },
    ])
    await send(a.smtpPort, 't4d@sender.test', '', [{ to: 'u4d@local.test' }])

    const [relayed] = await reports('t4@sender.test', 1)
    assertShape(relayed, sent, 't4')
    assert.equal(field(relayed?.headers, 'Subject'), 'Mail Delivery Status Report')
    const g = group(relayed, 'ok-4@plain.relay.test')
    assert.equal(field(g, 'Action'), 'relayed')
    assert.equal(field(g, 'Status'), '2.1.9')
    assert.equal(field(g, 'Remote-MTA'), 'dns; mx.plain.test')
    assert.equal(field(g, 'Diagnostic-Code'), 'smtp; 250 2.6.0 queued')
    assert.equal(relayed?.parts[2]?.type, 'text/rfc822-headers', 'RFC 3461 §6.2: no failure, headers only')

    const [took] = await peer.waitForSessions('dsn', /RCPT TO:<ok-4b@dsn\.relay\.test>/)
    assert.ok(
      took?.includes('RCPT TO:<ok-4b@dsn.relay.test> NOTIFY=SUCCESS ORCPT=rfc822;ok-4b@dsn.relay.test'),
    )
    await nothing('dsn', 'ok-4b@dsn.relay.test', 't4b@sender.test')

    const [delivered] = await reports('t4c@sender.test', 1)
    assertShape(delivered, local, null)
    assert.equal(field(delivered?.headers, 'Subject'), 'Successful Mail Delivery Report')
    const d = group(delivered, 'u4@local.test')
    assert.equal(field(d, 'Action'), 'delivered')
    assert.equal(field(d, 'Original-Recipient'), 'rfc822; U4@local.test')
    assert.match(delivered?.parts[0]?.text ?? '', /was delivered/)
    assert.deepEqual(reportsTo('t4d@sender.test'), [], 'RFC 3461 §5.2.3(c): no NOTIFY, no success report')
  }),
)

test(
  'deferred then delivered: one delayed report (Will-Retry-Until, the 450), then the relayed report',
  explained(async () => {
    const sent = await send(a.smtpPort, 't5@sender.test', 'ENVID=t5', [
      { to: 'defer-once-5@plain.relay.test', params: 'NOTIFY=SUCCESS,DELAY' },
    ])
    const [delayed, relayed] = await reports('t5@sender.test', 2, 40000)
    assertShape(delayed, sent, 't5')
    assert.equal(field(delayed?.headers, 'Subject'), 'Delayed Mail (still being retried)')
    const g = group(delayed, 'defer-once-5@plain.relay.test')
    assert.equal(field(g, 'Action'), 'delayed')
    assert.equal(field(g, 'Status'), '4.2.1')
    assert.equal(field(g, 'Diagnostic-Code'), 'smtp; 450 4.2.1 mailbox busy, try again later')
    assert.ok(dateOf(field(g, 'Will-Retry-Until')) > sent, 'Will-Retry-Until')
    assert.match(delayed?.parts[0]?.text ?? '', /keeps trying/)
    assert.equal(field(group(relayed, 'defer-once-5@plain.relay.test'), 'Action'), 'relayed')
  }),
)

test(
  'deferred on every retry: one delayed report, not one per retry, then the failure (retries exhausted)',
  explained(async () => {
    await send(a.smtpPort, 't6@sender.test', '', [
      { to: 'defer-6@plain.relay.test', params: 'NOTIFY=DELAY,FAILURE' },
    ])
    const [delayed, failed] = await reports('t6@sender.test', 2, 40000)
    assert.equal(field(group(delayed, 'defer-6@plain.relay.test'), 'Action'), 'delayed')
    assert.equal(field(group(delayed, 'defer-6@plain.relay.test'), 'Status'), '4.3.0')
    const g = group(failed, 'defer-6@plain.relay.test')
    assert.equal(field(g, 'Action'), 'failed')
    assert.equal(field(g, 'Status'), '5.3.0', 'out of retries: 4.3.0 becomes 5.3.0')
    assert.equal(field(g, 'Will-Retry-Until'), undefined)
    assert.equal(
      peer.sessions('plain').filter((s) => s.includes('RCPT TO:<defer-6@plain.relay.test>')).length,
      3,
    )
  }),
)

test(
  'connection refused: delayed 4.4.1 then failed 5.4.1, and the report says which host refused (AMB-40)',
  explained(async () => {
    await send(a.smtpPort, 't11@sender.test', '', [{ to: 'u-11@closed.relay.test' }])
    const [delayed, failed] = await reports('t11@sender.test', 2, 40000)
    const why = /^X-Haraka; Tried all MXs \(mx\.closed\.test: connect ECONNREFUSED 127\.0\.0\.1:\d+\)$/
    const d = group(delayed, 'u-11@closed.relay.test')
    assert.equal(field(d, 'Status'), '4.4.1')
    assert.match(field(d, 'Diagnostic-Code') ?? '', why)
    assert.equal(field(d, 'Remote-MTA'), undefined, 'no host answered')
    assert.match(delayed?.parts[0]?.text ?? '', /no answer from host/)
    const f = group(failed, 'u-11@closed.relay.test')
    assert.equal(field(f, 'Action'), 'failed')
    assert.equal(field(f, 'Status'), '5.4.1')
    assert.match(
      field(f, 'Diagnostic-Code') ?? '',
      /^X-Haraka; Too many failures \(Tried all MXs\) \(mx\.closed\.test: connect ECONNREFUSED/,
    )
  }),
)

test(
  'a report whose recipient refuses it: Haraka logs the double bounce, nothing loops, the original is reported once',
  explained(async () => {
    const sender = 'reject-s12@plain.relay.test'
    await send(a.smtpPort, sender, '', [{ to: 'reject-12@plain.relay.test' }])
    const rcpt = new RegExp(`RCPT TO:<${sender}>`)
    const [report] = await peer.waitForSessions('plain', rcpt)
    assert.ok(report?.includes('MAIL FROM:<>'), 'the report went out with MAIL FROM:<>')
    await a.waitForLog(/Double bounce/)
    await sleep(QUIET_MS)
    assert.equal(peer.sessions('plain').filter((x) => x.some((l) => rcpt.test(l))).length, 1, 'no loop')
  }),
)

test(
  'MTRK chain: the final relay that delivers locally sends the delivered report; the relay before it sends none',
  explained(async () => {
    const B = 'VheLhqV/rCKJmplkGFwsyW59pYk' // TV-1
    const sent = await send(a.smtpPort, 't13@sender.test', `ENVID=t13+2B1@sender.test MTRK=${B}:3600`, [
      { to: 'u13@b.relay.test', params: 'NOTIFY=SUCCESS ORCPT=rfc822;U13@b.relay.test' },
    ])
    const [r] = await reports('t13@sender.test', 1)
    assert.ok(r)
    assert.equal(field(r.parts[1]?.message, 'Reporting-MTA'), 'dns; mx.b.test', 'from the final relay')
    assert.equal(
      field(r.parts[1]?.message, 'Original-Envelope-Id'),
      't13+1@sender.test',
      'ENVID passed on intact',
    )
    const arrival = dateOf(field(r.parts[1]?.message, 'Arrival-Date'))
    assert.ok(arrival >= sent - 2000)
    const g = group(r, 'u13@b.relay.test')
    assert.equal(field(g, 'Action'), 'delivered')
    assert.equal(field(g, 'Original-Recipient'), 'rfc822; U13@b.relay.test', 'ORCPT passed on intact')
  }),
)

const COMBINATIONS: Array<string | null> = [
  null,
  'NEVER',
  'SUCCESS',
  'FAILURE',
  'DELAY',
  'SUCCESS,FAILURE',
  'SUCCESS,DELAY',
  'FAILURE,DELAY',
  'SUCCESS,FAILURE,DELAY',
]

test(
  'RFC 3461 §5.2: every NOTIFY combination, for a failed and a relayed recipient of one message',
  explained(async () => {
    await Promise.all(
      COMBINATIONS.map((notify, i) =>
        send(a.smtpPort, `t7-${i}@sender.test`, '', [
          { to: `reject-7-${i}@plain.relay.test`, ...(notify ? { params: `NOTIFY=${notify}` } : {}) },
          { to: `ok-7-${i}@plain.relay.test`, ...(notify ? { params: `NOTIFY=${notify}` } : {}) },
        ]),
      ),
    )
    for (const i of COMBINATIONS.keys()) {
      await peer.waitForSessions('plain', new RegExp(`RCPT TO:<ok-7-${i}@`))
    }
    await sleep(QUIET_MS)
    for (const [i, notify] of COMBINATIONS.entries()) {
      const failed = notify === null || notify.includes('FAILURE')
      const relayed = notify?.includes('SUCCESS') === true
      const got = reportsTo(`t7-${i}@sender.test`)
      assert.equal(got.length, failed || relayed ? 1 : 0, `NOTIFY=${notify}: one report at most`)
      if (got.length === 0) continue
      const [r] = parseReports(got.map((m) => m.data))
      const actions = groups(r).map((g) => `${field(g, 'Final-Recipient')} ${field(g, 'Action')}`)
      assert.deepEqual(
        actions.sort(),
        [
          ...(relayed ? [`rfc822; ok-7-${i}@plain.relay.test relayed`] : []),
          ...(failed ? [`rfc822; reject-7-${i}@plain.relay.test failed`] : []),
        ],
        `NOTIFY=${notify}`,
      )
    }
  }),
)

test(
  'RFC 3461 §5.2.7: a list with NOTIFY=SUCCESS gets one expanded report; its members none',
  explained(async () => {
    await send(a.smtpPort, 't8@sender.test', '', [{ to: 'list-8@local.test', params: 'NOTIFY=SUCCESS' }])
    const [r] = await reports('t8@sender.test', 1)
    assert.deepEqual(
      groups(r).map((g) => [field(g, 'Final-Recipient'), field(g, 'Action'), field(g, 'Status')]),
      [['rfc822; list-8@local.test', 'expanded', '2.5.0']],
    )
  }),
)

test(
  'AMB-21: [dsn] enabled=false: neither DSN nor MTRK advertised, and Haraka bounces as it does without the plugin',
  explained(async () => {
    assert.ok(off)
    const { client } = await SmtpClient.connect(off.smtpPort)
    const ehlo = await client.cmd('EHLO client.test')
    client.close()
    assert.ok(!ehlo.lines.includes('DSN') && !ehlo.lines.includes('MTRK'), ehlo.text)
    await send(off.smtpPort, 't9@sender.test', '', [
      { to: 'reject-9@plain.relay.test', params: 'NOTIFY=NEVER' },
    ])
    await waitFor(() => reportsTo('t9@sender.test').length === 1, 20000, "Haraka's own bounce")
    const [bounce] = reportsTo('t9@sender.test')
    assert.ok(['', '<>'].includes(bounce?.mail_from ?? 'x'))
    assert.doesNotMatch(bounce?.data ?? '', /^Reporting-MTA: dns; mx\.off\.test/m, 'not our report')
  }),
)

test('Postfix as a DSN-capable next hop: it keeps exactly the ENVID, RET, NOTIFY and ORCPT sent; no report from us', async (t) => {
  if (!postfix) {
    t.skip('postfix not available (not installed, or not root)')
    return
  }
  await explained(async () => {
    await send(a.smtpPort, 't10@sender.test', 'ENVID=t10+2Benv RET=FULL', [
      { to: 'pf-10@postfix.relay.test', params: 'NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Pf+2B10@x.test' },
    ])
    const pf = postfix as PostfixInstance
    // Held at once (smtpd_client_restrictions HOLD): postqueue lists it, postcat shows its envelope records.
    const queueId = await waitFor(
      () =>
        execFileSync('/usr/sbin/postqueue', ['-c', pf.configDir, '-j'])
          .toString()
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as { queue_id: string; sender: string })
          .find((m) => m.sender === 't10@sender.test')?.queue_id,
      30000,
      'the message in the hold queue of postfix',
    )
    const records = execFileSync('/usr/sbin/postcat', ['-c', pf.configDir, '-e', '-q', queueId]).toString()
    // Postfix keeps them decoded (xtext undone), in its own flags: DSN_RET_FULL 1; NOTIFY SUCCESS 2 | FAILURE 4.
    assert.match(records, /^named_attribute: envelope_id=t10\+env$/m, records)
    assert.match(records, /^named_attribute: ret_flags=1$/m, 'RET=FULL')
    assert.match(records, /^named_attribute: notify_flags=6$/m, 'NOTIFY=SUCCESS,FAILURE')
    assert.match(records, /^named_attribute: dsn_orig_rcpt=rfc822;Pf\+10@x\.test$/m, 'ORCPT, case kept')
    await sleep(QUIET_MS)
    assert.deepEqual(reportsTo('t10@sender.test'), [], 'Postfix took NOTIFY: the report is its to send')
  })()
})

test(
  'LMTP next hop: NOTIFY=SUCCESS gets a delivered report (RFC 3461 §5.2.3), over real SMTP and LMTP',
  explained(async () => {
    const sent = await send(a.smtpPort, 't15@sender.test', 'ENVID=t15', [
      { to: 'u15@lmtp.relay.test', params: 'NOTIFY=SUCCESS ORCPT=rfc822;U15@lmtp.relay.test' },
      { to: 'v15@lmtp.relay.test' },
    ])
    const [session] = await peer.waitForSessions('lmtp', /RCPT TO:<u15@lmtp\.relay\.test>/)
    assert.ok(
      session?.some((l) => /^LHLO /.test(l)),
      'spoken as LMTP',
    )
    const [r] = await reports('t15@sender.test', 1)
    assertShape(r, sent, 't15')
    assert.equal(field(r?.headers, 'Subject'), 'Successful Mail Delivery Report')
    assert.equal(groups(r).length, 1, 'no NOTIFY: no success report for v15 (RFC 3461 §5.2.3(c))')
    const g = group(r, 'u15@lmtp.relay.test')
    assert.equal(field(g, 'Action'), 'delivered')
    assert.equal(field(g, 'Status'), '2.5.0')
    assert.equal(field(g, 'Original-Recipient'), 'rfc822; U15@lmtp.relay.test')
    assert.equal(field(g, 'Remote-MTA'), 'dns; lmtp.store.test')
    assert.match(r?.parts[0]?.text ?? '', /was delivered/)
  }),
)

/** One message from the given loopback address, so that the relay plugin's ACL tells the clients apart. */
const sendFrom = (localAddress: string, from: string, to: string) =>
  send(rc?.smtpPort ?? 0, from, '', [{ to, params: 'NOTIFY=SUCCESS,FAILURE' }], undefined, localAddress)

test(
  'backscatter policy relay_clients over real SMTP: a relay-allowed client gets its relayed report, another client none',
  explained(async () => {
    // Haraka hands a relay client's mail to outbound (here to a next hop without DSN: relayed, DSN-11), another
    // client's to the local queue (delivered, were it allowed). The unlisted client first: by the time the listed
    // one's report is in and quiet followed, any report to the other would be too.
    await sendFrom('127.0.0.1', 't16a@sender.test', 'u16a@local.test')
    await sendFrom('127.0.0.2', 't16b@sender.test', 'ok-16b@plain.relay.test')
    const [r] = await reports('t16b@sender.test', 1)
    assert.equal(field(group(r, 'ok-16b@plain.relay.test'), 'Action'), 'relayed')
    assert.equal(field(r?.parts[1]?.message, 'Reporting-MTA'), 'dns; mx.rc.test')
    assert.deepEqual(reportsTo('t16a@sender.test'), [], 'AMB-42: no success report for an unlisted client')
  }),
)
