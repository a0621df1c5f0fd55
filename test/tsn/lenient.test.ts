// The lenient readers (MTQPC-5, issue 10 case 6): what real servers write is read per part, group and field, and
// whatever is skipped or repaired is said.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  decodeAddress,
  readDeliveryReport,
  readDeliveryStatus,
  readTrackingBody,
  readTrackingStatus,
} from '../../src/tsn/reader'
import { TV7_MESSAGE as MESSAGE, TV7_RECIPIENT as RECIPIENT, tv7Status } from './helpers'

const lines = (...ls: string[]) => ls.join('\r\n')
const multipart = (...parts: string[][]) =>
  lines(
    'Content-Type: multipart/related; boundary="b1"; type="message/tracking-status"',
    '',
    ...parts.flatMap((p) => ['--b1', 'Content-Type: message/tracking-status', '', ...p, '']),
    '--b1--',
  )

test('case 6: an obsolete Arrival-Date (two-digit year, zone UTC) is read', () => {
  const r = readTrackingStatus(
    lines(
      'Original-Envelope-Id: 1@h.example.com',
      'Reporting-MTA: dns; mx.example.net',
      'Arrival-Date: Thu, 01 Oct 15 13:48:54 UTC',
      '',
      ...RECIPIENT,
    ),
  )
  assert.deepEqual(r.skipped, [])
  assert.deepEqual(r.value?.arrivalDate, new Date('2015-10-01T13:48:54Z'))
})

test('case 6: a continuation line that is not indented continues the field above, and says so', () => {
  const r = readTrackingStatus(
    lines(
      ...MESSAGE,
      '',
      ...RECIPIENT.slice(0, 3),
      'Status: 4.4.1 (No answer from',
      'host)',
      ...RECIPIENT.slice(4),
    ),
  )
  assert.equal(r.value?.recipients[0]?.status, '4.4.1')
  assert.equal(r.value?.recipients[0]?.statusComment, 'No answer from host')
  assert.equal(r.skipped.length, 1)
  assert.match(r.skipped[0]!, /line 9: not a header field: "host\)" \(read as a continuation of Status\)/)
})

test('case 6: one malformed part never hides the good ones; what was skipped is said', () => {
  const bad = [...MESSAGE.slice(1), '', ...RECIPIENT] // no Original-Envelope-Id
  const r = readTrackingBody(multipart(bad, [...MESSAGE, '', ...RECIPIENT]))
  assert.deepEqual(r.value, [tv7Status()])
  assert.deepEqual(r.skipped, ['part 1: Original-Envelope-Id: required field missing (part skipped)'])
})

test('a bad recipient group or optional field is skipped alone', () => {
  const r = readTrackingStatus(
    lines(
      ...MESSAGE,
      '',
      ...RECIPIENT.map((l) => l.replace('15:16:00', 'soon')),
      '',
      ...RECIPIENT.filter((l) => !l.startsWith('Final-Recipient')),
      '',
      ...RECIPIENT,
    ),
  )
  assert.equal(r.value?.recipients.length, 2)
  assert.equal(r.value?.recipients[0]?.lastAttemptDate, undefined)
  assert.deepEqual(r.value?.recipients[1], tv7Status().recipients[0])
  assert.deepEqual(r.skipped, [
    'recipient 1: Last-Attempt-Date: not an RFC 5322 date-time (field skipped)',
    'recipient 2: Final-Recipient: required field missing (group skipped)',
  ])
})

test('missing blank lines between groups are put back where the fields say', () => {
  const r = readTrackingStatus(
    lines(...MESSAGE, ...RECIPIENT, ...RECIPIENT.map((l) => l.replace('u@', 'v@'))),
  )
  assert.deepEqual(
    r.value?.recipients.map((g) => g.finalRecipient.value),
    ['u@example.net', 'v@example.net'],
  )
  assert.equal(r.skipped.length, 2)
})

test('nothing readable: no value, and the reason', () => {
  assert.deepEqual(readTrackingBody(''), { value: [], skipped: ['empty'] })
  const r = readTrackingBody(multipart(['hello world']))
  assert.deepEqual(r.value, [])
  assert.ok(r.skipped.length > 0)
})

test('AMB-39: a utf-8 address reads back as Unicode (issue 10 case 3)', () => {
  const r = readTrackingStatus(
    lines(
      ...MESSAGE,
      '',
      'Original-Recipient: utf-8; j\\x{F6}rg@example.org',
      'Final-Recipient: utf-8; j\\x{F6}rg@example.org',
      'Action: delivered',
      'Status: 2.0.0',
    ),
  )
  assert.deepEqual(r.skipped, [])
  const g = r.value?.recipients[0]
  assert.deepEqual(g?.finalRecipient, { type: 'utf-8', value: 'j\\x{F6}rg@example.org' })
  assert.equal(decodeAddress(g!.finalRecipient), 'jörg@example.org')
  assert.equal(decodeAddress({ type: 'rfc822', value: 'a@b' }), 'a@b')
})

// A bounce as Postfix writes it (bounce(8) template, RFC 3464 fields plus X-Postfix-* extensions), folded
// Diagnostic-Code included, inside its multipart/report.
const POSTFIX_DSN = lines(
  'Content-Type: multipart/report; report-type=delivery-status;',
  '\tboundary="5A3E820C971.1764545158/postfix.test"',
  'MIME-Version: 1.0',
  '',
  'This is a MIME-encapsulated message.',
  '',
  '--5A3E820C971.1764545158/postfix.test',
  'Content-Description: Notification',
  'Content-Type: text/plain; charset=us-ascii',
  '',
  'This is the mail system at host postfix.test.',
  '',
  '--5A3E820C971.1764545158/postfix.test',
  'Content-Description: Delivery report',
  'Content-Type: message/delivery-status',
  '',
  'Reporting-MTA: dns; postfix.test',
  'X-Postfix-Queue-ID: 5A3E820C971',
  'X-Postfix-Sender: rfc822; s@client.test',
  'Arrival-Date: Mon, 30 Nov 2026 23:25:58 +0000 (UTC)',
  '',
  'Final-Recipient: rfc822; x@example.org',
  'Original-Recipient: rfc822;x@example.org',
  'Action: failed',
  'Status: 5.1.1',
  'Remote-MTA: dns; mx.example.org',
  'Diagnostic-Code: smtp; 550 5.1.1 <x@example.org>: Recipient address rejected:',
  '    User unknown',
  '',
  '--5A3E820C971.1764545158/postfix.test',
  'Content-Description: Undelivered Message Headers',
  'Content-Type: text/rfc822-headers',
  '',
  'Subject: hello',
  '',
  '--5A3E820C971.1764545158/postfix.test--',
)

test('message/delivery-status: a Postfix bounce reads into typed fields, extensions kept', () => {
  const r = readDeliveryReport(POSTFIX_DSN)
  assert.deepEqual(r.skipped, [])
  assert.deepEqual(r.value, [
    {
      reportingMta: { type: 'dns', value: 'postfix.test' },
      arrivalDate: new Date('2026-11-30T23:25:58Z'),
      extensions: [
        { name: 'X-Postfix-Queue-ID', value: '5A3E820C971' },
        { name: 'X-Postfix-Sender', value: 'rfc822; s@client.test' },
      ],
      recipients: [
        {
          finalRecipient: { type: 'rfc822', value: 'x@example.org' },
          originalRecipient: { type: 'rfc822', value: 'x@example.org' },
          action: 'failed',
          status: '5.1.1',
          remoteMta: { type: 'dns', value: 'mx.example.org' },
          diagnosticCode: {
            type: 'smtp',
            value: '550 5.1.1 <x@example.org>: Recipient address rejected:    User unknown',
          },
        },
      ],
    },
  ])
})

test('message/delivery-status: optional per-message fields, a tracking-only action refused per group', () => {
  const r = readDeliveryStatus(
    lines(
      'Reporting-MTA: dns; a.example',
      '',
      'Final-Recipient: rfc822; a@b',
      'Action: transferred',
      'Status: 2.0.0',
      '',
      'Final-Recipient: rfc822; c@d',
      'Action: DELIVERED',
      'Status: 2.0.0',
    ),
  )
  assert.deepEqual(
    r.value?.recipients.map((g) => g.action),
    ['delivered'],
  )
  assert.deepEqual(r.skipped, ['recipient 1: Action: unknown action "transferred" (group skipped)'])
})
