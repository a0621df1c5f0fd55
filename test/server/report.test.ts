import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import { test } from 'node:test'
import fc from 'fast-check'
import type { StoredMessage, StoredRecipient } from '../../src/model/records'
import { buildReport, type ReportInput } from '../../src/server/report'
import { ACTIONS } from '../../src/tsn/types'
import { boundaryFromBytes, formatTrackingBody } from '../../src/tsn/writer'
import { decodeBase64Strict, encodeBase64 } from '../../src/util/base64'
import { message, recipient } from '../store/fixtures'
import { ADDRESS_CASES } from '../tsn/address-cases'

const T0 = 1_700_000_000_000
const ENVID = '1@h.example.com'

/** TV-1: A = 00 01 .. 0f; B = SHA-1(A). */
const TV1_SECRET_PADDED = 'AAECAwQFBgcICQoLDA0ODw=='
const TV1_SECRET_UNPADDED = 'AAECAwQFBgcICQoLDA0ODw'
const TV1_CERTIFIER = 'VheLhqV/rCKJmplkGFwsyW59pYk'
/** TV-2 and TV-3: A = "abcdefgh" and "abcdefgh\n" (the latter is what RFC 3887's YWJjZGVmZ2gK encodes). */
const TV2_SECRET = 'YWJjZGVmZ2g='
const TV2_CERTIFIER = 'QlrxKgdDUCsyLpOgFbz4aOMk1Wo'
const TV3_SECRET = 'YWJjZGVmZ2gK'
const TV3_CERTIFIER = '5BSvcWHJVUCJ9BBtbxeX7xSnNmY'
/** The hex B of RFC 3887 §4.1, which matches neither (ERR-3887-1), as a stored base64 certifier. */
const RFC_BOGUS_CERTIFIER = encodeBase64(Buffer.from('734ba8b31975d0dbae4d6e249f4e8da270796c94', 'hex'), {
  padding: false,
})

function secret(b64: string): Buffer {
  const s = decodeBase64Strict(b64, { allowPadding: true })
  assert.ok(s)
  return s
}

function stored(
  over: Partial<StoredMessage> = {},
  recipients: StoredRecipient[] = [recipient()],
): StoredMessage {
  return { ...message({ arrival: T0 }), recipients, ...over }
}

function report(records: StoredMessage[], secretText = TV1_SECRET_UNPADDED, over: Partial<ReportInput> = {}) {
  return buildReport({ envid: ENVID, records, secret: secret(secretText), now: T0 + 1000, ...over })
}

test('TV-1 / SEC-5 / AMB-3: the padded and the unpadded secret both open the record of certifier B', () => {
  for (const s of [TV1_SECRET_PADDED, TV1_SECRET_UNPADDED]) {
    assert.equal(report([stored()], s).parts.length, 1, s)
  }
  // The stored certifier may also carry its padding (AMB-2); it is compared as octets, never as text.
  assert.equal(report([stored({ certifier: `${TV1_CERTIFIER}=` })]).parts.length, 1)
})

test('TV-2 / TV-3: each secret opens its own certifier; the RFC 3887 example hash opens neither (ERR-3887-1)', () => {
  assert.equal(report([stored({ certifier: TV2_CERTIFIER })], TV2_SECRET).parts.length, 1)
  assert.equal(report([stored({ certifier: TV3_CERTIFIER })], TV3_SECRET).parts.length, 1)
  for (const s of [TV2_SECRET, TV3_SECRET]) {
    assert.deepEqual(report([stored({ certifier: RFC_BOGUS_CERTIFIER })], s).parts, [], s)
  }
})

test('AMB-4: SHA-1 is over the decoded octets of A, not over its base64 text', () => {
  const overText = encodeBase64(createHash('sha1').update(TV1_SECRET_UNPADDED).digest(), { padding: false })
  assert.deepEqual(report([stored({ certifier: overText })]).parts, [])
})

test('AMB-13: a wrong secret and an unknown envid give the same empty report', () => {
  assert.deepEqual(report([stored()], TV3_SECRET), { parts: [], notes: [] })
  assert.deepEqual(report([]), { parts: [], notes: [] })
})

test('a stored certifier that is not 20 octets of strict base64 opens nothing', () => {
  for (const certifier of [
    '',
    'VheLhqV/rCKJmplkGFwsyW59pY',
    'VheLhqV/rCKJmplkGFwsyW59pYkA',
    'not base64!',
    'AAAA',
  ]) {
    assert.deepEqual(report([stored({ certifier })]).parts, [], certifier)
  }
})

test('AMB-7: a record whose decoded envid differs from the one asked for is not reported', () => {
  assert.deepEqual(report([stored({ envid: '1@H.example.com' })]).parts, [])
})

test('AMB-12: expired data is as if unknown; MTQP-19 / MTRK-10: a queued recipient keeps it visible', () => {
  const keepUntil = T0 + 86400_000
  const done = recipient({ action: 'delivered', status: '2.5.0', keepUntil })
  const rec = stored({ retention: 86400 }, [done])
  assert.equal(report([rec], undefined, { now: keepUntil - 1 }).parts.length, 1)
  assert.deepEqual(report([rec], undefined, { now: keepUntil }).parts, [])
  // A recipient kept longer than the retention keeps the record visible, with that recipient only.
  const later = stored({ retention: 86400 }, [
    done,
    { ...done, address: 'v@example.net', keepUntil: keepUntil + 5 },
  ])
  const kept = report([later], undefined, { now: keepUntil + 4 }).parts
  assert.deepEqual(
    kept.map((p) => p.recipients.map((r) => r.finalRecipient.value)),
    [['v@example.net']],
  )
  // Still in the queue long after everything should have expired: never denied.
  const queued = stored({ retention: 86400 }, [
    recipient({ action: 'delayed', keepUntil, willRetryUntil: keepUntil }),
  ])
  assert.equal(report([queued], undefined, { now: keepUntil + 365 * 86400_000 }).parts.length, 1)
  // Refused by the queue with 4xx: delayed, but not in our queue (no give-up time): it expires like any record.
  const refused = stored({ retention: 86400 }, [recipient({ action: 'delayed', status: '4.3.0', keepUntil })])
  assert.deepEqual(report([refused], undefined, { now: keepUntil }).parts, [])
})

test('MTRK-11: after `mtrk-trace retention --max 0` a delivered recipient is gone, the queued one still answers', () => {
  // As lowerRetention leaves them: retention 0, the delivered recipient kept until arrival, the queued one longer.
  const queued = recipient({ address: 'defer-q@example.net', action: 'delayed', status: '4.5.1' })
  const record = stored({ retention: 0 }, [
    { ...queued, willRetryUntil: T0 + 86400_000, keepUntil: T0 + 2 * 86400_000 },
    recipient({ address: 'direct2@example.net', action: 'transferred', status: '2.0.0', keepUntil: T0 }),
  ])
  const parts = report([record], undefined, { now: T0 + 1000 }).parts
  assert.deepEqual(
    parts.map((p) => p.recipients.map((r) => [r.finalRecipient.value, r.action])),
    [[['defer-q@example.net', 'delayed']]],
  )
  // Out of the queue (delivered since, and cut the same way): nothing left, so unknown.
  const done = stored({ retention: 0 }, [recipient({ action: 'delivered', status: '2.0.0', keepUntil: T0 })])
  assert.deepEqual(report([done], undefined, { now: T0 + 1000 }), { parts: [], notes: [] })
})

test('AMB-37 / AMB-26: two records of one envid, only those the secret opens, one part each, in store order', () => {
  const first = stored({ txn: 'T1', arrival: T0 })
  const other = stored({ txn: 'T2', arrival: T0 + 10, certifier: TV3_CERTIFIER })
  const third = stored({ txn: 'T3', arrival: T0 + 20 }, [recipient({ address: 'w@example.net' })])
  const { parts } = report([first, other, third])
  assert.equal(parts.length, 2)
  assert.deepEqual(
    parts.map((p) => [p.arrivalDate.getTime(), p.recipients[0]?.finalRecipient.value]),
    [
      [T0, 'u@example.net'],
      [T0 + 20, 'w@example.net'],
    ],
  )
})

test('TSN-5..7 / AMB-8: decoded envid, Reporting-MTA dns; <stored name>, Arrival-Date', () => {
  const [part] = report([stored({ envidXtext: '1+40x@h.example.com', envid: ENVID })]).parts
  assert.equal(part?.originalEnvelopeId, ENVID)
  assert.deepEqual(part?.reportingMta, { type: 'dns', value: 'mx.example.net' })
  assert.equal(part?.arrivalDate.getTime(), T0)
})

test('TSN-6: a Reporting-MTA that is no FQDN is x-local-hostname; an unwritable one a placeholder, noted', () => {
  assert.deepEqual(report([stored({ reportingMta: 'localhost' })]).parts[0]?.reportingMta, {
    type: 'x-local-hostname',
    value: 'localhost',
  })
  const r = report([stored({ reportingMta: 'my host (main)' })])
  assert.deepEqual(r.parts[0]?.reportingMta, { type: 'x-local-hostname', value: 'unknown' })
  assert.equal(r.notes.length, 1)
})

test('AMB-14: Original-Recipient is the ORCPT xtext-decoded, else synthesised from the RCPT address', () => {
  const recips = [
    recipient({ address: 'a@example.net', orcpt: 'rfc822;user+2Btag@example.com' }),
    recipient({ address: 'b@example.net', orcpt: null }),
    recipient({ address: 'c@example.net', orcpt: 'rfc822;bad+zz' }),
    recipient({ address: 'd@example.net', orcpt: 'no-type-here' }),
  ]
  const r = report([stored({}, recips)])
  assert.deepEqual(
    r.parts[0]?.recipients.map((x) => [x.originalRecipient, x.finalRecipient]),
    [
      [
        { type: 'rfc822', value: 'user+tag@example.com' },
        { type: 'rfc822', value: 'a@example.net' },
      ],
      [
        { type: 'rfc822', value: 'b@example.net' },
        { type: 'rfc822', value: 'b@example.net' },
      ],
      [
        { type: 'rfc822', value: 'c@example.net' },
        { type: 'rfc822', value: 'c@example.net' },
      ],
      [
        { type: 'rfc822', value: 'd@example.net' },
        { type: 'rfc822', value: 'd@example.net' },
      ],
    ],
  )
  assert.equal(r.notes.length, 2, 'the two unreadable ORCPTs are noted')
})

const attempted = {
  remoteMta: 'mx2.example.net',
  lastAttempt: T0 + 60_000,
  willRetryUntil: T0 + 5 * 86400_000,
}

test('TSN-13/14/15/21/22/23: which fields each action carries', () => {
  const cases: Array<[string, Partial<StoredRecipient>, { status: string; fields: string[] }]> = [
    [
      'delivered',
      { action: 'delivered', status: '2.5.0', ...attempted },
      { status: '2.5.0', fields: ['r', 'l'] },
    ],
    [
      'transferred',
      { action: 'transferred', status: '2.4.0', ...attempted },
      { status: '2.4.0', fields: ['r', 'l'] },
    ],
    [
      'relayed (TSN-21)',
      { action: 'relayed', status: '2.0.0', ...attempted },
      { status: '2.1.9', fields: ['r', 'l'] },
    ],
    [
      'expanded',
      { action: 'expanded', status: '2.5.0', ...attempted },
      { status: '2.5.0', fields: ['r', 'l'] },
    ],
    ['failed', { action: 'failed', status: '5.2.2', ...attempted }, { status: '5.2.2', fields: ['r', 'l'] }],
    [
      'delayed, attempted (TSN-22)',
      { action: 'delayed', status: '4.4.1', ...attempted },
      { status: '4.4.1', fields: ['r', 'l', 'w'] },
    ],
    [
      'delayed, not attempted (AMB-33)',
      { action: 'delayed', status: '4.0.0', willRetryUntil: attempted.willRetryUntil },
      { status: '4.0.0', fields: ['w'] },
    ],
    ['opaque (TSN-23)', { action: 'opaque', status: '2.0.0', ...attempted }, { status: '2.0.0', fields: [] }],
    [
      'Remote-MTA without an attempt date (TSN-13/14)',
      { action: 'failed', status: '5.0.0', remoteMta: 'mx2.example.net', lastAttempt: null },
      { status: '5.0.0', fields: [] },
    ],
    [
      'attempt that reached no host',
      { action: 'failed', status: '5.4.4', lastAttempt: T0 + 1 },
      { status: '5.4.4', fields: ['l'] },
    ],
  ]
  for (const [name, over, want] of cases) {
    const r = report([stored({}, [recipient(over)])])
    const got = r.parts[0]?.recipients[0]
    assert.ok(got, name)
    assert.equal(got.status, want.status, name)
    const fields = [got.remoteMta && 'r', got.lastAttemptDate && 'l', got.willRetryUntil && 'w'].filter(
      (f) => typeof f === 'string',
    )
    assert.deepEqual(fields, want.fields, name)
    if (got.remoteMta) assert.deepEqual(got.remoteMta, { type: 'dns', value: 'mx2.example.net' }, name) // AMB-30
    const body = formatTrackingBody(r.parts, 'b1')
    assert.ok(body.ok, `${name}: ${body.ok ? '' : body.error}`)
  }
})

test('TSN-21 / ESC-3: status codes that do not fit the action are repaired, with a note', () => {
  const cases: Array<[StoredRecipient['action'], string, string]> = [
    ['delivered', '2.1.9', '2.5.0'],
    ['transferred', '5.0.0', '2.4.0'],
    ['delayed', '2.0.0', '4.0.0'],
    ['failed', 'x', '5.0.0'],
    ['failed', '4.4.7', '4.4.7'],
    ['opaque', '5.01.1', '2.0.0'],
  ]
  for (const [action, status, want] of cases) {
    const r = report([stored({}, [recipient({ action, status })])])
    assert.equal(r.parts[0]?.recipients[0]?.status, want, `${action} ${status}`)
    assert.equal(r.notes.length, status === want ? 0 : 1, `${action} ${status}`)
  }
})

test('inconsistent records: every recipient is written, a non-printable address in RFC 6533 form (AMB-39)', () => {
  const good = recipient()
  const bad = recipient({ address: 'bad\r\nInjected: yes' })
  const both = report([stored({}, [bad, good])]).parts[0]?.recipients
  assert.equal(both?.length, 2)
  assert.deepEqual(both?.[0]?.finalRecipient, {
    type: 'utf-8',
    value: 'bad\\x{0D}\\x{0A}Injected:\\x{20}yes',
  })
  assert.equal(report([stored({}, [bad]), stored({ txn: 'ok' })]).parts.length, 2)
  assert.deepEqual(report([stored({}, [])]).parts, [])
  assert.deepEqual(report([stored({ arrival: -1e15 })]).parts, [], 'arrival before 1900 cannot be written')
  const envid = report([stored({ envid: 'a\u0000@b', envidXtext: 'a+00@b' })], undefined, {
    envid: 'a\u0000@b',
  })
  assert.equal(envid.parts[0]?.originalEnvelopeId, 'a+00@b', 'falls back to the printable xtext form')
})

// Stored data as anything could have written it: valid-looking values mixed with junk of every kind.
const junk = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 20 }),
  fc.string({ minLength: 990, maxLength: 1200 }),
  fc.constantFrom('', ' x ', '(x)', 'a b', 'x\r\ny'),
)
const maybe = <T>(a: fc.Arbitrary<T>) => fc.oneof(a, junk)
const millis = fc.oneof(
  fc.integer({ min: T0 - 1e12, max: T0 + 1e12 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
  fc.constantFrom(0, -1, 8.64e15, -8.64e15, Number.MAX_SAFE_INTEGER),
)
const storedRecipient: fc.Arbitrary<StoredRecipient> = fc.record({
  address: maybe(fc.emailAddress()),
  orcpt: fc.oneof(fc.constant(null), maybe(fc.emailAddress().map((a) => `rfc822;${a}`))),
  notify: fc.constant(null),
  action: fc.constantFrom(...ACTIONS),
  status: maybe(fc.constantFrom('2.5.0', '2.1.9', '4.4.1', '5.2.2', '2.4.0', '4.0.0')),
  remoteMta: fc.oneof(fc.constant(null), maybe(fc.domain())),
  lastAttempt: fc.oneof(fc.constant(null), millis),
  willRetryUntil: fc.oneof(fc.constant(null), millis),
  keepUntil: millis,
  updated: millis,
  history: fc.constant([]),
})
const storedMessage = (certifier: string): fc.Arbitrary<StoredMessage> =>
  fc.record({
    txn: fc.string(),
    envidXtext: maybe(fc.constant(ENVID)),
    envid: fc.constantFrom(ENVID),
    certifier: fc.constantFrom(certifier, `${certifier}=`),
    arrival: millis,
    reportingMta: maybe(fc.domain()),
    requestedTimeout: fc.oneof(fc.constant(null), fc.nat()),
    retention: fc.oneof(fc.nat(), fc.double({ noNaN: true, noDefaultInfinity: true })),
    ret: fc.constant(null),
    recipients: fc.array(storedRecipient, { maxLength: 4 }),
  })

test('property: whatever is stored, the report is one formatTrackingBody accepts (never an error)', () => {
  fc.assert(
    fc.property(
      fc.array(storedMessage(TV1_CERTIFIER), { maxLength: 3 }),
      millis,
      fc.uint8Array({ minLength: 16, maxLength: 16 }),
      (records, now, bytes) => {
        const { parts } = report(records, TV1_SECRET_UNPADDED, { now })
        if (parts.length === 0) return
        const body = formatTrackingBody(parts, boundaryFromBytes(bytes))
        assert.ok(body.ok, body.ok ? '' : body.error)
      },
    ),
    { numRuns: 500 },
  )
})

test('property: MTQP-19, a writable record with a queued recipient is always reported', () => {
  fc.assert(
    fc.property(storedMessage(TV1_CERTIFIER), millis, (m, now) => {
      const queued = recipient({ action: 'delayed', willRetryUntil: T0 + 86400_000 })
      const rec = { ...m, arrival: T0, recipients: [...m.recipients, queued] }
      assert.equal(report([rec], TV1_SECRET_UNPADDED, { now }).parts.length, 1)
    }),
  )
})

test('AMB-39: SMTPUTF8 recipients and UTF-8 ORCPTs are reported in the 7-bit utf-8 form (issue 10 cases 1-3)', () => {
  for (const [address, orcpt, final, original] of ADDRESS_CASES) {
    const r = report([stored({}, [recipient({ address, orcpt })])])
    const g = r.parts[0]?.recipients[0]
    assert.ok(g, address)
    assert.equal(`${g.finalRecipient.type}; ${g.finalRecipient.value}`, final, `${address} ${orcpt}`)
    // AMB-14: without an ORCPT the answer names the RCPT address as the original one.
    assert.equal(
      `${g.originalRecipient.type}; ${g.originalRecipient.value}`,
      original ?? final,
      `${address} ${orcpt}`,
    )
    assert.ok(formatTrackingBody(r.parts, 'b').ok, 'the writer accepts it (7-bit, TSN-2)')
  }
})

test('AMB-40: the latest attempt says why, as a Diagnostic-Code: the remote reply, or our own reason', () => {
  const attempt = { id: 'a', at: T0, action: 'failed' as const, status: '5.1.1' }
  const diag = (history: StoredRecipient['history']) =>
    report([stored({}, [recipient({ action: 'failed', status: '5.1.1', lastAttempt: T0, history })])])
      .parts[0]?.recipients[0]?.extensions
  assert.deepEqual(diag([{ ...attempt, code: '550', reply: '5.1.1 No such user' }]), [
    { name: 'Diagnostic-Code', value: 'smtp; 550 5.1.1 No such user' },
  ])
  assert.deepEqual(diag([{ ...attempt, reply: 'No Such Domain: nx.test' }]), [
    { name: 'Diagnostic-Code', value: 'X-Haraka; No Such Domain: nx.test' },
  ])
  assert.equal(diag([attempt]), undefined)
  assert.equal(diag([]), undefined)
})
