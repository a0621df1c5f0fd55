import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { RecipientStatus, TrackingStatus, TypedValue } from '../../src/tsn/types'
import { boundaryFromBytes, formatTrackingBody, formatTrackingStatus } from '../../src/tsn/writer'
import type { Result } from '../../src/util/result'
import { TV7_BODY, tv7Status, withRecipient } from './helpers'

const crlf = (...lines: string[]) => lines.map((line) => `${line}\r\n`).join('')

function value(result: Result<string>): string {
  assert.ok(result.ok, result.ok ? '' : result.error)
  return result.value
}

test('TV-7: formatTrackingBody reproduces the happy-path TRACK body byte for byte (MTQP-16, TSN-1, AMB-16)', () => {
  assert.equal(value(formatTrackingBody([tv7Status()], 'b1', { utcOffsetMinutes: -300 })), TV7_BODY)
})

test('formatTrackingStatus writes one part body, blank line before each recipient group (TSN-3)', () => {
  const two = tv7Status()
  two.recipients.push({
    originalRecipient: { type: 'rfc822', value: 'v@example.net' },
    finalRecipient: { type: 'rfc822', value: 'w@example.net' },
    action: 'delivered',
    status: '2.5.0',
  })
  assert.equal(
    value(formatTrackingStatus(two)),
    crlf(
      'Original-Envelope-Id: 1@h.example.com',
      'Reporting-MTA: dns; mx.example.net',
      'Arrival-Date: Mon, 1 Jan 2001 20:15:15 +0000',
      '',
      'Original-Recipient: rfc822; u@example.net',
      'Final-Recipient: rfc822; u@example.net',
      'Action: transferred',
      'Status: 2.4.0',
      'Remote-MTA: dns; mx2.example.net',
      'Last-Attempt-Date: Mon, 1 Jan 2001 20:16:00 +0000',
      '',
      'Original-Recipient: rfc822; v@example.net',
      'Final-Recipient: rfc822; w@example.net',
      'Action: delivered',
      'Status: 2.5.0',
    ),
  )
})

test('fields come out in grammar order whatever the object key order (TSN-17, AMB-15)', () => {
  const recipient: RecipientStatus = {
    extensions: [
      { name: 'X-Queue-Id', value: 'abc123' },
      { name: 'Diagnostic-Code', value: 'smtp; 421 try later' }, // AMB-18: only when the caller asks
    ],
    willRetryUntil: new Date('2001-01-04T20:15:15Z'),
    lastAttemptDate: new Date('2001-01-02T00:15:03Z'),
    remoteMta: { type: 'dns', value: 'example3.com' },
    statusComment: 'No answer from host',
    status: '4.4.1',
    action: 'delayed',
    finalRecipient: { type: 'rfc822', value: 'user1@example1.com' },
    originalRecipient: { type: 'rfc822', value: 'user1@example1.com' },
  }
  const ts: TrackingStatus = {
    recipients: [recipient],
    extensions: [{ name: 'X-Mtrk-Hop', value: '1' }],
    arrivalDate: new Date('2001-01-01T20:15:15Z'),
    reportingMta: { type: 'dns', value: 'example2.com' },
    originalEnvelopeId: '12345-20010101@example.com',
  }
  assert.equal(
    value(formatTrackingStatus(ts, { utcOffsetMinutes: -300 })),
    crlf(
      'Original-Envelope-Id: 12345-20010101@example.com',
      'Reporting-MTA: dns; example2.com',
      'Arrival-Date: Mon, 1 Jan 2001 15:15:15 -0500',
      'X-Mtrk-Hop: 1',
      '',
      'Original-Recipient: rfc822; user1@example1.com',
      'Final-Recipient: rfc822; user1@example1.com',
      'Action: delayed',
      'Status: 4.4.1 (No answer from host)',
      'Remote-MTA: dns; example3.com',
      'Last-Attempt-Date: Mon, 1 Jan 2001 19:15:03 -0500',
      'Will-Retry-Until: Thu, 4 Jan 2001 15:15:15 -0500',
      'X-Queue-Id: abc123',
      'Diagnostic-Code: smtp; 421 try later',
    ),
  )
})

test('a Status comment is quoted so that parentheses and backslashes stay inside it (RFC 3464 §2.3.4)', () => {
  const out = value(formatTrackingStatus(withRecipient({ statusComment: 'a (b) \\ c)' })))
  assert.match(out, /\r\nStatus: 2\.4\.0 \(a \\\(b\\\) \\\\ c\\\)\)\r\n/)
})

test('an extension field with an empty value is written without a trailing space', () => {
  const out = value(formatTrackingStatus({ ...tv7Status(), extensions: [{ name: 'X-Empty', value: '' }] }))
  assert.match(out, /\r\nX-Empty:\r\n/)
})

test('a value longer than 998 octets is folded before a space, and unfolding restores it (MTQP-5)', () => {
  const long = Array.from({ length: 400 }, (_, i) => `word${i}`).join(' ')
  const out = value(formatTrackingStatus({ ...tv7Status(), extensions: [{ name: 'X-Long', value: long }] }))
  const lines = out.split('\r\n')
  assert.ok(lines.every((line) => line.length <= 998))
  assert.ok(lines.filter((line) => line.startsWith(' ')).length >= 2, 'folded onto continuation lines')
  const unfolded = out.replace(/\r\n(?=[ \t])/g, '')
  assert.ok(unfolded.includes(`\r\nX-Long: ${long}\r\n`))
})

/** Each row: what is wrong, the input, and a fragment the error must contain (the field it names). */
const refusals: [what: string, input: TrackingStatus, fragment: string][] = [
  [
    'an empty Original-Envelope-Id (TSN-5)',
    { ...tv7Status(), originalEnvelopeId: '' },
    'Original-Envelope-Id',
  ],
  [
    'CR LF in a value: header injection (TSN-2)',
    { ...tv7Status(), originalEnvelopeId: '1@h\r\nX-Injected: yes' },
    'Original-Envelope-Id: contains CR or LF',
  ],
  [
    'a bare LF in a value',
    { ...tv7Status(), originalEnvelopeId: '1@h\nX-Injected: yes' },
    'Original-Envelope-Id: contains CR or LF',
  ],
  ['8-bit text (TSN-2)', { ...tv7Status(), originalEnvelopeId: 'é@h.example.com' }, 'printable US-ASCII'],
  ['a control character', { ...tv7Status(), originalEnvelopeId: '1\t@h.example.com' }, 'printable US-ASCII'],
  ['trailing whitespace', { ...tv7Status(), originalEnvelopeId: '1@h.example.com ' }, 'whitespace'],
  [
    'a missing Reporting-MTA (TSN-6)',
    { ...tv7Status(), reportingMta: undefined as unknown as TypedValue },
    'Reporting-MTA: required',
  ],
  [
    'an MTA-name-type that is not an atom',
    { ...tv7Status(), reportingMta: { type: 'd ns', value: 'mx.example.net' } },
    'Reporting-MTA: type',
  ],
  [
    'parentheses in an MTA name',
    { ...tv7Status(), reportingMta: { type: 'dns', value: 'mx(1).example.net' } },
    'Reporting-MTA: parentheses',
  ],
  ['an invalid Arrival-Date (TSN-7)', { ...tv7Status(), arrivalDate: new Date(Number.NaN) }, 'Arrival-Date'],
  ['no recipient group', { ...tv7Status(), recipients: [] }, 'per-recipient group'],
  [
    'a missing Original-Recipient (TSN-9)',
    withRecipient({ originalRecipient: undefined as unknown as TypedValue }),
    'recipient 1: Original-Recipient: required',
  ],
  [
    'an empty Final-Recipient (TSN-10)',
    withRecipient({ finalRecipient: { type: 'rfc822', value: '' } }),
    'Final-Recipient: must not be empty',
  ],
  [
    'an address with an injected field',
    withRecipient({ finalRecipient: { type: 'rfc822', value: 'u@x\r\nAction: delivered' } }),
    'Final-Recipient: contains CR or LF',
  ],
  ['an unknown Action (TSN-11)', withRecipient({ action: 'bounced' as RecipientStatus['action'] }), 'Action'],
  ['a Status with a leading zero (TSN-12)', withRecipient({ status: '2.04.0' }), 'Status'],
  ['a Status of class 3 (ESC-1)', withRecipient({ status: '3.4.0' }), 'Status'],
  ['a Status of two parts', withRecipient({ status: '2.4' }), 'Status'],
  ['a Status detail of four digits', withRecipient({ status: '2.4.1000' }), 'Status'],
  ['a Status with a comment inside', withRecipient({ status: '2.4.0 (x)' }), 'Status'],
  ['2.1.9 without relayed (TSN-21)', withRecipient({ status: '2.1.9' }), 'TSN-21'],
  [
    'relayed without 2.1.9 (TSN-21, ERR-3886-6)',
    withRecipient({ action: 'relayed', status: '2.0.0' }),
    'TSN-21',
  ],
  [
    'opaque with Remote-MTA (TSN-23)',
    withRecipient({ action: 'opaque', status: '2.0.0', lastAttemptDate: undefined }),
    'Remote-MTA: not allowed with Action opaque',
  ],
  [
    'opaque with Last-Attempt-Date (TSN-23)',
    withRecipient({ action: 'opaque', status: '2.0.0', remoteMta: undefined }),
    'Last-Attempt-Date: not allowed with Action opaque',
  ],
  [
    'opaque with Will-Retry-Until (TSN-23)',
    withRecipient({
      action: 'opaque',
      status: '4.0.0',
      remoteMta: undefined,
      lastAttemptDate: undefined,
      willRetryUntil: new Date('2001-01-04T00:00:00Z'),
    }),
    'Will-Retry-Until: not allowed with Action opaque',
  ],
  [
    'Remote-MTA without Last-Attempt-Date (TSN-13, TSN-14)',
    withRecipient({ lastAttemptDate: undefined }),
    'Last-Attempt-Date: required with Remote-MTA',
  ],
  [
    'Will-Retry-Until when the message has left the queue (TSN-15)',
    withRecipient({ willRetryUntil: new Date('2001-01-04T00:00:00Z') }),
    'Will-Retry-Until: only',
  ],
  ['an invalid Last-Attempt-Date', withRecipient({ lastAttemptDate: new Date('nope') }), 'Last-Attempt-Date'],
  [
    'a Status comment with CR LF',
    withRecipient({ statusComment: 'x\r\nAction: failed' }),
    'Status: contains CR',
  ],
  [
    'an extension name with a space',
    withRecipient({ extensions: [{ name: 'X Bad', value: '1' }] }),
    'not a valid field name',
  ],
  [
    'an extension named like a standard field, any case (TSN-16)',
    withRecipient({ extensions: [{ name: 'sTATUS', value: '2.0.0' }] }),
    'sTATUS: a standard field',
  ],
  [
    'a per-message extension named like a recipient field',
    { ...tv7Status(), extensions: [{ name: 'Final-Recipient', value: 'rfc822; x@y' }] },
    'Final-Recipient: a standard field',
  ],
  [
    'an extension value with LF',
    withRecipient({ extensions: [{ name: 'X-A', value: 'a\nb' }] }),
    'X-A: contains CR or LF',
  ],
  [
    'a line over 998 octets with nowhere to fold (MTQP-5)',
    withRecipient({ finalRecipient: { type: 'rfc822', value: `${'a'.repeat(990)}@example.net` } }),
    'Final-Recipient: longer than 998 octets',
  ],
]

for (const [what, input, fragment] of refusals) {
  test(`formatTrackingStatus refuses ${what}`, () => {
    const result = formatTrackingStatus(input)
    assert.equal(result.ok, false)
    assert.ok(!result.ok && result.error.includes(fragment), `${!result.ok && result.error} ∌ ${fragment}`)
  })
}

test('formatTrackingStatus refuses a utcOffsetMinutes that no numeric zone can express', () => {
  const result = formatTrackingStatus(tv7Status(), { utcOffsetMinutes: 6000 })
  assert.ok(!result.ok && result.error.startsWith('Arrival-Date: utcOffsetMinutes'))
})

test('formatTrackingBody names the part that failed', () => {
  const result = formatTrackingBody([tv7Status(), withRecipient({ status: '9.9.9' })], 'b1')
  assert.ok(!result.ok && result.error.startsWith('part 2: recipient 1: Status'))
})

test('formatTrackingBody writes one delimiter per part and quotes a boundary with a space (AMB-16)', () => {
  const out = value(formatTrackingBody([tv7Status(), tv7Status()], "a b'(+)_,-./:=?"))
  assert.ok(out.startsWith(`Content-Type: multipart/related; boundary="a b'(+)_,-./:=?"; type=`))
  assert.equal(out.split("\r\n--a b'(+)_,-./:=?\r\n").length, 3)
  assert.ok(out.endsWith("\r\n\r\n--a b'(+)_,-./:=?--\r\n"))
})

const badBoundaries: [what: string, boundary: string][] = [
  ['empty', ''],
  ['71 characters', 'b'.repeat(71)],
  ['ending in a space', 'b1 '],
  ['with "%", as in the RFC examples (ERR-3887-5)', '%%%%'],
  ['with a double quote', 'b"1'],
  ['with CR LF', 'b1\r\nX: y'],
]

for (const [what, boundary] of badBoundaries) {
  test(`formatTrackingBody refuses a boundary ${what} (RFC 2046 §5.1.1)`, () => {
    assert.equal(formatTrackingBody([tv7Status()], boundary).ok, false)
  })
}

test('formatTrackingBody accepts a boundary of exactly 70 characters', () => {
  assert.ok(formatTrackingBody([tv7Status()], 'b'.repeat(70)).ok)
})

test('formatTrackingBody refuses a part in which a line starts with the delimiter (RFC 2046 §5.1.1)', () => {
  const part = { ...tv7Status(), extensions: [{ name: '--b1', value: 'x' }] }
  const result = formatTrackingBody([part], 'b1')
  assert.ok(!result.ok && result.error.includes('boundary delimiter'))
  assert.ok(formatTrackingBody([part], 'b2').ok)
})

test('formatTrackingBody refuses an empty list of parts', () => {
  assert.equal(formatTrackingBody([], 'b1').ok, false)
})

test('boundaryFromBytes makes a legal, deterministic boundary from the bytes it is given', () => {
  const boundary = boundaryFromBytes(new Uint8Array([0, 1, 0xab, 0xff]))
  assert.equal(boundary, 'mtrk-0001abff')
  assert.ok(formatTrackingBody([tv7Status()], boundary).ok)
  const long = boundaryFromBytes(new Uint8Array(64).fill(0x5a))
  assert.equal(long.length, 69)
  assert.ok(formatTrackingBody([tv7Status()], long).ok)
  assert.ok(formatTrackingBody([tv7Status()], boundaryFromBytes(new Uint8Array())).ok)
})
