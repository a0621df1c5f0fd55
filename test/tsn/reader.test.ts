import assert from 'node:assert/strict'
import { test } from 'node:test'
import { parseTrackingBody, parseTrackingStatus } from '../../src/tsn/reader'
import type { RecipientStatus, TrackingStatus } from '../../src/tsn/types'
import type { Result } from '../../src/util/result'
import {
  firstTrackReply,
  TV7_MESSAGE as MESSAGE,
  TV7_RECIPIENT as RECIPIENT,
  TV7_BODY,
  tv7Status,
} from './helpers'

function value<T>(result: Result<T>): T {
  assert.ok(result.ok, result.ok ? '' : result.error)
  return result.value
}

function error<T>(result: Result<T>): string {
  assert.ok(!result.ok, 'expected an error')
  return result.error
}

const rfc822 = (value: string) => ({ type: 'rfc822', value })
const dns = (value: string) => ({ type: 'dns', value })

/** What every RFC 3887 example's part from example2.com starts with. */
function example2(recipients: RecipientStatus[]): TrackingStatus {
  return {
    originalEnvelopeId: '12345-20010101@example.com', // AMB-8: no angle brackets, unlike the TRACK (ERR-3887-6)
    reportingMta: dns('example2.com'),
    arrivalDate: new Date('2001-01-01T20:15:15Z'),
    recipients,
  }
}

const attempted = { remoteMta: dns('example3.com'), lastAttemptDate: new Date('2001-01-02T00:15:03Z') }

test('RFC 3887 example #6 (delivered)', () => {
  assert.deepEqual(value(parseTrackingBody(firstTrackReply('rfc3887-example-06.txt'))), [
    example2([
      {
        originalRecipient: rfc822('user1@example1.com'),
        finalRecipient: rfc822('user1@example1.com'),
        action: 'delivered',
        status: '2.5.0',
      },
    ]),
  ])
})

test('RFC 3887 example #7: Status:2.4.0 without a space (ERR-3887-3), after Remote-MTA (ERR-3887-4)', () => {
  assert.deepEqual(value(parseTrackingBody(firstTrackReply('rfc3887-example-07.txt'))), [
    example2([
      {
        originalRecipient: rfc822('user1@example1.com'),
        finalRecipient: rfc822('user1@example1.com'),
        action: 'transferred',
        status: '2.4.0',
        ...attempted,
      },
    ]),
  ])
})

test('RFC 3887 example #8: a dot-stuffed top-level header is ignored, the Status comment is kept', () => {
  assert.deepEqual(value(parseTrackingBody(firstTrackReply('rfc3887-example-08.txt'))), [
    example2([
      {
        originalRecipient: rfc822('user1@example1.com'),
        finalRecipient: rfc822('user1@example1.com'),
        action: 'delayed',
        status: '4.4.1',
        statusComment: 'No answer from host',
        ...attempted,
        willRetryUntil: new Date('2001-01-04T20:15:15Z'),
      },
    ]),
  ])
})

// ERR-3887-2: `Status 5.2.2 (Mailbox full)` has no colon. Refusing it would throw away the whole answer,
// user1's relayed status included, over a typo that cannot mean anything else; so the reader takes a line
// that starts with a standard field name and whitespace as that field. Other colon-less lines stay errors.
test('RFC 3887 example #9: the colon-less Status line is read as Status (ERR-3887-2)', () => {
  assert.deepEqual(value(parseTrackingBody(firstTrackReply('rfc3887-example-09.txt'))), [
    example2([
      {
        originalRecipient: rfc822('user1@example1.com'),
        finalRecipient: rfc822('user1@example1.com'),
        action: 'relayed',
        status: '2.1.9',
        ...attempted,
      },
      {
        originalRecipient: rfc822('user2@example1.com'),
        finalRecipient: rfc822('user2@example1.com'),
        action: 'failed',
        status: '5.2.2',
        statusComment: 'Mailbox full',
        ...attempted,
      },
    ]),
  ])
})

test('RFC 3887 example #10 (firewall chaining): one TrackingStatus per part (MTQP-33)', () => {
  assert.deepEqual(value(parseTrackingBody(firstTrackReply('rfc3887-example-10.txt'))), [
    example2([
      {
        originalRecipient: rfc822('user1@example1.com'),
        finalRecipient: rfc822('user1@example1.com'),
        action: 'relayed',
        status: '2.1.9',
        ...attempted,
        remoteMta: dns('smtp.example3.com'),
      },
    ]),
    {
      ...example2([
        {
          originalRecipient: rfc822('user2@example1.com'),
          finalRecipient: rfc822('user4@example3.com'),
          action: 'delivered',
          status: '2.5.0',
        },
      ]),
      reportingMta: dns('smtp.example3.com'),
    },
  ])
})

test('RFC 3887 example #11: merged per-recipient blocks, Status:2.5.0 (ERR-3887-3)', () => {
  const [part] = value(parseTrackingBody(firstTrackReply('rfc3887-example-11.txt')))
  assert.deepEqual(
    part?.recipients.map((r) => [r.finalRecipient.value, r.action, r.status, r.remoteMta?.value]),
    [
      ['user1@example1.com', 'relayed', '2.1.9', 'smtp.example3.com'],
      ['user4@example3.com', 'delivered', '2.5.0', undefined],
    ],
  )
})

test('RFC 3887 example #12: hidden host names, two parts from the same Reporting-MTA', () => {
  const parts = value(parseTrackingBody(firstTrackReply('rfc3887-example-12.txt')))
  assert.deepEqual(
    parts.map((p) => [p.reportingMta.value, p.recipients[0]?.finalRecipient.value, p.recipients[0]?.action]),
    [
      ['example2.com', 'user1@example1.com', 'relayed'],
      ['example2.com', 'user4@example1.com', 'delivered'],
    ],
  )
})

test('RFC 3887 example #13 is schematic (ERR-3887-12): an error, not a throw', () => {
  assert.match(error(parseTrackingBody(firstTrackReply('rfc3887-example-13.txt'))), /not a header field/)
})

test('TV-7 reads back into the TrackingStatus it was written from', () => {
  assert.deepEqual(value(parseTrackingBody(TV7_BODY)), [tv7Status()])
})

const status = (message: string[], recipient: string[], eol = '\r\n') =>
  [...message, '', ...recipient, ''].join(eol)

/** Inputs that all mean tv7Status(), in the forms MTQPC-5 asks a client to accept. */
const equivalents: [what: string, text: string][] = [
  ['CRLF', status(MESSAGE, RECIPIENT)],
  ['LF', status(MESSAGE, RECIPIENT, '\n')],
  ['bare CR', status(MESSAGE, RECIPIENT, '\r')],
  ['fields in any order (AMB-15)', status([...MESSAGE].reverse(), [...RECIPIENT].reverse())],
  ['no space after the colon (ERR-3887-3)', status(MESSAGE, RECIPIENT).replace(/: /g, ':')],
  ['whitespace before the colon (RFC 822 obsolete syntax)', status(MESSAGE, RECIPIENT).replace(/: /g, ' : ')],
  [
    'field names in any case (RFC 3464 §2.1.1)',
    status(MESSAGE, RECIPIENT).replace(/^[^:]+/gm, (n) => n.toUpperCase()),
  ],
  [
    'types and Action in any case (RFC 3464 §2.1.2, §2.3.3)',
    status(MESSAGE, RECIPIENT).replace(/dns;|rfc822;|transferred/g, (t) => t.toUpperCase()),
  ],
  [
    'continuation lines with SP and HTAB (RFC 3464 §2.1.1)',
    status(
      ['Original-Envelope-Id:', ' 1@h.example.com', 'Reporting-MTA: dns;', '\tmx.example.net', MESSAGE[2]!],
      ['Original-Recipient: rfc822;', '   u@example.net', ...RECIPIENT.slice(1)],
    ),
  ],
  [
    'comments in types, Action, MTA names and dates',
    status(
      [MESSAGE[0]!, 'Reporting-MTA: dns (the DNS); mx.example.net (Haraka 3)', `${MESSAGE[2]} (EST)`],
      [...RECIPIENT.slice(0, 2), 'Action: transferred (to an MTRK MTA)', ...RECIPIENT.slice(3)],
    ),
  ],
  [
    'leading, repeated and whitespace-only blank lines',
    `\r\n\r\n${[...MESSAGE, ' ', '\t', '', ...RECIPIENT].join('\r\n')}`,
  ],
  ['no final line break', [...MESSAGE, '', ...RECIPIENT].join('\r\n')],
]

for (const [what, text] of equivalents) {
  test(`parseTrackingStatus is lenient: ${what} (MTQPC-5)`, () => {
    assert.deepEqual(value(parseTrackingStatus(text)), tv7Status())
  })
}

test('unknown fields are kept in order as extensions, Diagnostic-Code and Final-Log-ID included (TSN-16, AMB-18)', () => {
  const text = status(
    [...MESSAGE, 'X-Hop: 1'],
    [...RECIPIENT, 'Diagnostic-Code: smtp; 250 ok (queued as', ' 123)', 'Final-Log-ID: abc', 'x-lower:value'],
  )
  const ts = value(parseTrackingStatus(text))
  assert.deepEqual(ts.extensions, [{ name: 'X-Hop', value: '1' }])
  assert.deepEqual(ts.recipients[0]?.extensions, [
    { name: 'Diagnostic-Code', value: 'smtp; 250 ok (queued as 123)' },
    { name: 'Final-Log-ID', value: 'abc' },
    { name: 'x-lower', value: 'value' },
  ])
})

test('addresses and the envelope id are kept verbatim, parentheses and case included (RFC 3464 §2.2.1, §2.3.2)', () => {
  const text = status(
    ['Original-Envelope-Id: Env(1)@H.example.com', ...MESSAGE.slice(1)],
    ['Original-Recipient: rfc822; "a(b)"@Example.NET (Ann)', ...RECIPIENT.slice(1)],
  )
  const ts = value(parseTrackingStatus(text))
  assert.equal(ts.originalEnvelopeId, 'Env(1)@H.example.com')
  assert.deepEqual(ts.recipients[0]?.originalRecipient, rfc822('"a(b)"@Example.NET (Ann)'))
})

const statusComments: [field: string, code: string, comment: string | undefined][] = [
  ['Status: 4.4.1 (No answer from host)', '4.4.1', 'No answer from host'],
  ['Status: 4.4.1(No answer)', '4.4.1', 'No answer'],
  ['Status: 4.4.1 ( padded )', '4.4.1', 'padded'],
  ['Status: 4.4.1 (a (nested) one)', '4.4.1', 'a (nested) one'],
  ['Status: 4.4.1 (quoted \\) paren)', '4.4.1', 'quoted ) paren'],
  ['Status: 4.4.1 (one) (two)', '4.4.1', 'one two'],
  ['Status: 4.4.1 ()', '4.4.1', ''],
  ['Status: 4.04.1', '4.04.1', undefined], // well-formed per RFC 3464's grammar; only the writer is strict
  ['Status: 3.0.0', '3.0.0', undefined],
]

for (const [field, code, comment] of statusComments) {
  test(`Status comment: ${field} (RFC 3464 §2.3.4)`, () => {
    const ts = value(parseTrackingStatus(status(MESSAGE, [...RECIPIENT.slice(0, 3), field])))
    const { status: read, statusComment } = ts.recipients[0]!
    assert.deepEqual({ read, statusComment }, { read: code, statusComment: comment })
  })
}

const ENVELOPE = 'Content-Type: multipart/related; boundary="b1"; type="message/tracking-status"'
const PART = ['--b1', 'Content-Type: message/tracking-status', '', ...MESSAGE, '', ...RECIPIENT, '']
const entity = (...lines: string[]) => lines.join('\r\n')

const bodies: [what: string, text: string][] = [
  [
    'MIME-Version in the entity and the part (AMB-17)',
    entity('MIME-Version: 1.0', ENVELOPE, '', PART[0]!, 'MIME-Version: 1.0', ...PART.slice(1), '--b1--'),
  ],
  [
    "the examples' unquoted %%%% boundary and type=tracking-status (ERR-3887-5)",
    entity(
      ENVELOPE.replace('"b1"', '%%%%').replace('"message/tracking-status"', 'tracking-status'),
      '',
      ...PART,
      '--b1--',
    ).replace(/--b1/g, '--%%%%'),
  ],
  [
    'parameters in another order and case',
    entity(
      'content-type: Multipart/Related; TYPE="message/tracking-status";\tBoundary = "b1"',
      '',
      ...PART,
      '--b1--',
    ),
  ],
  [
    'a folded Content-Type',
    entity(
      'Content-Type: multipart/related;',
      ' boundary="b1";',
      '\ttype="message/tracking-status"',
      '',
      ...PART,
      '--b1--',
    ),
  ],
  ['a boundary with a quoted-pair', entity(ENVELOPE.replace('"b1"', '"\\b1"'), '', ...PART, '--b1--')],
  [
    'a preamble, an epilogue and padding after the delimiters (RFC 2046 §5.1.1)',
    entity(ENVELOPE, '', 'preamble', `${PART[0]} `, ...PART.slice(1), '--b1--\t', 'epilogue'),
  ],
  ['blank lines before the entity (ERR-3887-12)', entity('', '', ENVELOPE, '', ...PART, '--b1--')],
  [
    'a part without its MIME header',
    entity(ENVELOPE, '', '--b1', ...MESSAGE, '', ...RECIPIENT, '', '--b1--'),
  ],
  [
    'a single message/tracking-status entity',
    entity('Content-Type: message/tracking-status', '', ...MESSAGE, '', ...RECIPIENT),
  ],
  ['a bare message/tracking-status body', entity(...MESSAGE, '', ...RECIPIENT)],
  ['LF line ends', entity(ENVELOPE, '', ...PART, '--b1--').replace(/\r\n/g, '\n')],
]

for (const [what, text] of bodies) {
  test(`parseTrackingBody accepts ${what}`, () => {
    assert.deepEqual(value(parseTrackingBody(text)), [tv7Status()])
  })
}

const statusErrors: [what: string, text: string, fragment: string][] = [
  ['empty input', '', 'empty'],
  ['no recipient group', MESSAGE.join('\r\n'), 'no per-recipient group'],
  ['no Original-Envelope-Id (TSN-5)', status(MESSAGE.slice(1), RECIPIENT), 'Original-Envelope-Id: required'],
  ['no Reporting-MTA (TSN-6)', status([MESSAGE[0]!, MESSAGE[2]!], RECIPIENT), 'Reporting-MTA: required'],
  ['no Arrival-Date (TSN-7)', status(MESSAGE.slice(0, 2), RECIPIENT), 'Arrival-Date: required'],
  [
    'no Original-Recipient (TSN-9)',
    status(MESSAGE, RECIPIENT.slice(1)),
    'recipient 1: Original-Recipient: required',
  ],
  [
    'no Final-Recipient (TSN-10)',
    status(MESSAGE, [RECIPIENT[0]!, ...RECIPIENT.slice(2)]),
    'Final-Recipient: required',
  ],
  [
    'no Action (TSN-11)',
    status(
      MESSAGE,
      RECIPIENT.filter((l) => !l.startsWith('Action')),
    ),
    'Action: required',
  ],
  [
    'no Status (TSN-12)',
    status(
      MESSAGE,
      RECIPIENT.filter((l) => !l.startsWith('Status')),
    ),
    'Status: required',
  ],
  [
    'an unknown Action',
    status(
      MESSAGE,
      RECIPIENT.map((l) => l.replace('transferred', 'bounced')),
    ),
    'Action: unknown action',
  ],
  [
    'a two-part Status',
    status(
      MESSAGE,
      RECIPIENT.map((l) => l.replace('2.4.0', '2.4')),
    ),
    'Status:',
  ],
  [
    'text after the Status code',
    status(
      MESSAGE,
      RECIPIENT.map((l) => l.replace('2.4.0', '2.4.0 ok')),
    ),
    'Status:',
  ],
  [
    'an unbalanced Status comment',
    status(
      MESSAGE,
      RECIPIENT.map((l) => l.replace('2.4.0', '2.4.0 (x')),
    ),
    'Status: unterminated',
  ],
  [
    'a bad date',
    status(
      MESSAGE.map((l) => l.replace('15:15:15', '25:15:15')),
      RECIPIENT,
    ),
    'Arrival-Date:',
  ],
  [
    'a bad Last-Attempt-Date',
    status(
      MESSAGE,
      RECIPIENT.map((l) => l.replace('15:16:00', 'soon')),
    ),
    'Last-Attempt-Date:',
  ],
  [
    'a typed field without ";"',
    status(
      MESSAGE,
      RECIPIENT.map((l) => l.replace('rfc822;', 'rfc822')),
    ),
    'missing ";"',
  ],
  [
    'a type that is not an atom',
    status(
      MESSAGE.map((l) => l.replace('dns;', 'd<n>s;')),
      RECIPIENT,
    ),
    'Reporting-MTA: type',
  ],
  [
    'a duplicate field (RFC 3886 §3.2)',
    status([...MESSAGE, MESSAGE[0]!], RECIPIENT),
    'appears more than once',
  ],
  [
    'a recipient field among the per-message fields (read as a missing blank line)',
    status([...MESSAGE, RECIPIENT[1]!], RECIPIENT),
    'no blank line before the first per-recipient field',
  ],
  [
    'a per-message field in a recipient group',
    status(MESSAGE, [...RECIPIENT, MESSAGE[0]!]),
    'does not belong',
  ],
  [
    'a continuation line without a field',
    status(MESSAGE, RECIPIENT).replace('Original-Envelope-Id', ' Original-Envelope-Id'),
    'continuation line',
  ],
  [
    'a line that is not a field',
    status(MESSAGE, [...RECIPIENT, 'hello world']),
    'line 11: not a header field',
  ],
]

for (const [what, text, fragment] of statusErrors) {
  test(`parseTrackingStatus reports ${what}`, () => {
    const message = error(parseTrackingStatus(text))
    assert.ok(message.includes(fragment), `${message} ∌ ${fragment}`)
  })
}

const bodyErrors: [what: string, text: string, fragment: string][] = [
  [
    'a multipart without a boundary',
    entity('Content-Type: multipart/related', '', ...PART, '--b1--'),
    'boundary',
  ],
  ['a missing close delimiter', entity(ENVELOPE, '', ...PART), 'close delimiter'],
  ['no parts', entity(ENVELOPE, '', 'preamble', '--b1--'), 'without parts'],
  [
    'a part of another type (TSN-1)',
    entity(ENVELOPE, '', '--b1', 'Content-Type: text/plain', '', 'hi', '--b1--'),
    'part 1: Content-Type "text/plain"',
  ],
  [
    'an entity of another type (TSN-1)',
    entity('Content-Type: text/plain', '', 'hi'),
    'Content-Type "text/plain"',
  ],
  [
    'a bad second part',
    entity(ENVELOPE, '', ...PART, '--b1', ...MESSAGE, '', '--b1--'),
    'part 2: no per-recipient group',
  ],
]

for (const [what, text, fragment] of bodyErrors) {
  test(`parseTrackingBody reports ${what}`, () => {
    const message = error(parseTrackingBody(text))
    assert.ok(message.includes(fragment), `${message} ∌ ${fragment}`)
  })
}
