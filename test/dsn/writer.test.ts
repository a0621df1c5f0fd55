import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { composeReport, headerValue, type OriginalMessage } from '../../src/dsn/compose'
import type { DsnRecipient } from '../../src/dsn/types'
import { addressValue, formatDeliveryStatus, returnKind } from '../../src/dsn/writer'
import { decodeXtext, encodeXtext } from '../../src/esmtp/xtext'
import { parseDateTime } from '../../src/tsn/date'
import { field, parseReports } from './python'

const MESSAGE = [
  'From: Alice <alice@example.test>',
  'To: bob@remote.test',
  'Subject: Quarterly',
  ' figures',
  'Message-ID: <m1@example.test>',
  '',
  'Hello Bob,',
  '.leading dot',
  'bye',
  '',
].join('\r\n')

const original = (over: Partial<OriginalMessage> = {}): OriginalMessage => ({
  sender: 'alice@example.test',
  envid: 'env+2Bid-1',
  ret: null,
  arrival: Date.UTC(2026, 0, 2, 3, 4, 5),
  content: MESSAGE,
  complete: true,
  size: MESSAGE.length,
  ...over,
})

const failed: DsnRecipient = {
  finalRecipient: 'bob@remote.test',
  originalRecipient: 'rfc822;Bob+2Bx@remote.test',
  action: 'failed',
  status: '5.1.1',
  remoteMta: 'mx.remote.test',
  diagnosticCode: 'smtp; 550 5.1.1 No such user',
  lastAttempt: new Date(Date.UTC(2026, 0, 2, 3, 5, 0)),
  willRetryUntil: null,
}
const delayed: DsnRecipient = {
  finalRecipient: 'carol@other.test',
  originalRecipient: null,
  action: 'delayed',
  status: '4.2.1',
  remoteMta: 'mx.other.test',
  diagnosticCode: 'smtp; 450 4.2.1 Mailbox busy',
  lastAttempt: new Date(Date.UTC(2026, 0, 2, 3, 6, 0)),
  willRetryUntil: new Date(Date.UTC(2026, 0, 5, 3, 4, 5)),
}
const opts = (over = {}) => ({
  reportingMta: 'relay.example.test',
  defaultRet: 'headers' as const,
  maxFull: 10_000,
  now: Date.UTC(2026, 0, 2, 3, 7, 0),
  messageId: 'dsn-1@relay.example.test',
  boundary: 'mtrk-0123456789abcdef',
  ...over,
})

function compose(o: OriginalMessage, rs: DsnRecipient[], over = {}): string {
  const r = composeReport(o, rs, opts(over))
  assert.ok(r.ok, r.ok ? '' : r.error)
  return r.value
}

const epoch = (s: string | undefined) => {
  const d = parseDateTime(s ?? '')
  assert.ok(d.ok, s)
  return d.value.getTime()
}

test('a failure and a delay in one report: every RFC 3464 field, read back by Python email', () => {
  const [py] = parseReports([compose(original({ ret: 'HDRS' }), [failed, delayed])])
  assert.ok(py)
  assert.deepEqual(py.defects, [])
  assert.equal(py.type, 'multipart/report')
  assert.equal(py.reportType, 'delivery-status')
  assert.equal(field(py.headers, 'To'), '<alice@example.test>')
  assert.equal(field(py.headers, 'From'), 'Mail Delivery System <MAILER-DAEMON@relay.example.test>')
  assert.equal(field(py.headers, 'Auto-Submitted'), 'auto-replied')
  assert.equal(field(py.headers, 'Message-ID'), '<dsn-1@relay.example.test>')
  assert.equal(epoch(field(py.headers, 'Date')), opts().now)
  assert.deepEqual(
    py.parts.map((p) => p.type),
    ['text/plain', 'message/delivery-status', 'text/rfc822-headers'],
  )
  const [human, status, returned] = py.parts
  assert.match(human!.text!, /could not be delivered/)
  assert.match(human!.text!, /<bob@remote\.test>/)
  assert.match(human!.text!, /550 5\.1\.1 No such user/)
  assert.match(human!.text!, /not been delivered yet/)
  assert.match(human!.text!, /Quarterly figures/)
  // Per message: the ENVID xtext-decoded (DSN-13), Reporting-MTA, Arrival-Date.
  assert.deepEqual(
    status!.message!.map(([n]) => n),
    ['Original-Envelope-Id', 'Reporting-MTA', 'Arrival-Date'],
  )
  assert.equal(field(status!.message, 'Original-Envelope-Id'), 'env+id-1')
  assert.equal(field(status!.message, 'Reporting-MTA'), 'dns; relay.example.test')
  assert.equal(epoch(field(status!.message, 'Arrival-Date')), original().arrival)
  const [bob, carol] = status!.recipients!
  assert.deepEqual(bob, [
    ['Original-Recipient', 'rfc822; Bob+x@remote.test'],
    ['Final-Recipient', 'rfc822; bob@remote.test'],
    ['Action', 'failed'],
    ['Status', '5.1.1'],
    ['Remote-MTA', 'dns; mx.remote.test'],
    ['Diagnostic-Code', 'smtp; 550 5.1.1 No such user'],
    ['Last-Attempt-Date', 'Fri, 2 Jan 2026 03:05:00 +0000'],
  ])
  // No ORCPT received: no Original-Recipient (RFC 3461 §6.3(d)).
  assert.equal(field(carol, 'Original-Recipient'), undefined)
  assert.equal(field(carol, 'Action'), 'delayed')
  assert.equal(field(carol, 'Status'), '4.2.1')
  assert.equal(epoch(field(carol, 'Will-Retry-Until')), delayed.willRetryUntil!.getTime())
  assert.equal(
    returned!.text!.replace(/\r\n/g, '\n'),
    'From: Alice <alice@example.test>\nTo: bob@remote.test\nSubject: Quarterly\n figures\nMessage-ID: <m1@example.test>\n',
  )
})

test('RET=FULL returns the message as message/rfc822 up to max size, else headers; success reports headers', () => {
  const reports = parseReports([
    compose(original({ ret: 'full' }), [failed]),
    compose(original({ ret: 'FULL' }), [failed], { maxFull: MESSAGE.length - 1 }),
    compose(original({ ret: 'FULL' }), [{ ...failed, action: 'delivered', status: '2.0.0' }]),
    compose(original({ ret: null }), [failed], { defaultRet: 'full' }),
    compose(original({ ret: null }), [failed]),
    compose(original({ ret: 'FULL', complete: false, content: 'Subject: x\r\n\r\n' }), [failed]),
  ])
  const last = reports.map((r) => r.parts[2]!.type)
  assert.deepEqual(last, [
    'message/rfc822',
    'text/rfc822-headers',
    'text/rfc822-headers',
    'message/rfc822',
    'text/rfc822-headers',
    'text/rfc822-headers',
  ])
  const full = reports[0]!.parts[2]!
  assert.equal(field(full.headers, 'Message-ID'), '<m1@example.test>')
  assert.equal(full.body!.replace(/\r\n/g, '\n'), 'Hello Bob,\n.leading dot\nbye\n')
})

test('no ENVID received: no Original-Envelope-Id (RFC 3461 §6.3(a))', () => {
  const [py] = parseReports([compose(original({ envid: null }), [failed])])
  assert.equal(field(py!.parts[1]!.message, 'Original-Envelope-Id'), undefined)
  assert.equal(field(py!.parts[1]!.message, 'Reporting-MTA'), 'dns; relay.example.test')
})

test('bad input is refused, not written: header injection, a status that is not one', () => {
  assert.equal(
    formatDeliveryStatus({ reportingMta: 'r.test', envid: null, arrival: new Date(0), recipients: [] }).ok,
    false,
  )
  const bad = (r: Partial<DsnRecipient>) =>
    formatDeliveryStatus({
      reportingMta: 'r.test',
      envid: null,
      arrival: new Date(0),
      recipients: [{ ...failed, ...r }],
    }).ok
  assert.equal(bad({ status: '5.1' }), false)
  assert.equal(bad({ diagnosticCode: 'smtp; 550\r\nBcc: x' }), false)
  assert.equal(bad({ remoteMta: 'a (b)' }), false)
  assert.equal(bad({}), true)
})

test('a non-ASCII address is written in the utf-8 type, 7-bit (AMB-39)', () => {
  assert.deepEqual(addressValue('bob@remote.test'), { type: 'rfc822', value: 'bob@remote.test' })
  assert.deepEqual(addressValue('j\u00f6rg@b\u00fccher.test'), {
    type: 'utf-8',
    value: 'j\\x{F6}rg@b\\x{FC}cher.test',
  })
})

test('returnKind: full only for failures whose RET (or the default) asks for it and that fit', () => {
  const base = { ret: 'FULL', defaultRet: 'headers' as const, failure: true, size: 10, maxFull: 10 }
  assert.equal(returnKind(base), 'full')
  assert.equal(returnKind({ ...base, ret: 'hdrs' }), 'headers')
  assert.equal(returnKind({ ...base, failure: false }), 'headers')
  assert.equal(returnKind({ ...base, size: 11 }), 'headers')
  assert.equal(returnKind({ ...base, ret: null }), 'headers')
  assert.equal(returnKind({ ...base, ret: null, defaultRet: 'full' }), 'full')
})

test('headerValue unfolds', () => {
  assert.equal(headerValue('Subject: a\r\n b\r\nX: y\r\n', 'subject'), 'a b')
  assert.equal(headerValue('X: y\r\n', 'Subject'), null)
})

const arbRecipient = fc.record({
  finalRecipient: fc.emailAddress(),
  originalRecipient: fc.option(
    fc.emailAddress().map((a) => `rfc822;${encodeXtext(a)}`),
    { nil: null },
  ),
  action: fc.constantFrom('failed', 'delayed', 'delivered', 'relayed', 'expanded' as const),
  status: fc.tuple(fc.constantFrom('2', '4', '5'), fc.nat(7), fc.nat(12)).map((t) => t.join('.')),
  remoteMta: fc.option(fc.domain(), { nil: null }),
  diagnosticCode: fc.option(
    fc.stringMatching(/^[\x21-\x7e][\x20-\x7e]{0,80}[\x21-\x7e]$/).map((s) => `smtp; 550 ${s}`),
    { nil: null },
  ),
  lastAttempt: fc.option(
    fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0)), noInvalidDate: true }),
    { nil: null },
  ),
  willRetryUntil: fc.option(
    fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0)), noInvalidDate: true }),
    { nil: null },
  ),
}) as fc.Arbitrary<DsnRecipient>

test('property: Python reads back every recipient group, field for field', () => {
  const samples = fc.sample(fc.array(arbRecipient, { minLength: 1, maxLength: 4 }), { numRuns: 40, seed: 9 })
  const texts = samples.map((rs) => compose(original({ ret: 'FULL' }), rs))
  const parsed = parseReports(texts)
  samples.forEach((rs, i) => {
    const py = parsed[i]!
    assert.deepEqual(py.defects, [])
    const groups = py.parts[1]!.recipients!
    assert.equal(groups.length, rs.length)
    rs.forEach((r, j) => {
      const g = groups[j]!
      assert.equal(field(g, 'Final-Recipient'), `rfc822; ${r.finalRecipient}`)
      const orcpt =
        r.originalRecipient === null ? undefined : `rfc822; ${decodeXtext(r.originalRecipient.slice(7))}`
      assert.equal(field(g, 'Original-Recipient'), orcpt)
      assert.equal(field(g, 'Action'), r.action)
      assert.equal(field(g, 'Status'), r.status)
      assert.equal(field(g, 'Remote-MTA'), r.remoteMta === null ? undefined : `dns; ${r.remoteMta}`)
      assert.equal(field(g, 'Diagnostic-Code'), r.diagnosticCode ?? undefined)
      const retry = field(g, 'Will-Retry-Until')
      if (r.action === 'delayed' && r.willRetryUntil)
        assert.equal(epoch(retry), Math.floor(r.willRetryUntil.getTime() / 1000) * 1000)
      else assert.equal(retry, undefined)
    })
  })
})
