import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { TrackingNote } from '../../src/model/note'
import {
  asciiLower,
  bucketOf,
  bucketsBetween,
  messageIdOf,
  readTraceNote,
  sharedTerm,
  stampTrace,
  traceAcceptanceWrite,
  writeTerms,
} from '../../src/model/trace'
import {
  CLOCK_AHEAD,
  formatCursor,
  parseCursor,
  parseTime,
  parseTraceQuery,
} from '../../src/model/trace-query'

const NOW = Date.UTC(2026, 10, 30, 12, 30)
const addr = (user: string, host: string) => ({ user, host, address: `${user}@${host}` })
const TRACE = {
  arrival: NOW,
  from: 'S@Sender.example',
  messageId: 'abc@sender.example',
  envid: null,
  tracked: false,
  clientIp: '192.0.2.1',
  helo: 'Client.Example',
}

test('the trace note round-trips through notes; a note of another shape is not ours', () => {
  const notes: Record<string, unknown> = {}
  stampTrace(notes, TRACE)
  assert.deepEqual(readTraceNote(JSON.parse(JSON.stringify(notes))), { v: 1, ...TRACE })
  assert.equal(readTraceNote({ mtrk_trace: { v: 1, arrival: 'x' } }), null)
  assert.equal(readTraceNote({}), null)
})

test('MTRK-22: the trace shows a final alias delivered and where it led, which tracking never shows', () => {
  const note: TrackingNote = {
    v: 1,
    envid: null,
    ret: null,
    track: null,
    arrival: NOW,
    rcpts: {
      'pm@local.test': { orcpt: null, notify: null, delivered: 'PM@local.test' },
      'alice@dest.example': { orcpt: null, notify: null, memberOf: 'pm@local.test' },
    },
  }
  const ctx = {
    txn: 't.1',
    reportingMta: 'mx.test',
    now: NOW,
    queueLifetime: 3600,
    queuedGrace: 60,
    retention: 60,
  }
  const w = traceAcceptanceWrite(
    note,
    { v: 1, ...TRACE },
    [addr('alice', 'dest.example')],
    { kind: 'queued' },
    ctx,
  )
  assert.deepEqual(
    w.recipients.map((r) => [r.base.address, r.event?.patch.action ?? r.base.action]),
    [
      ['alice@dest.example', 'delayed'],
      ['PM@local.test', 'delivered'],
    ],
  )
})

test('Message-ID: brackets, folding and spaces removed; absent or empty is null', () => {
  assert.equal(messageIdOf(' <abc@x.example>\r\n'), 'abc@x.example')
  assert.equal(messageIdOf('<abc@\r\n x.example>'), 'abc@x.example')
  assert.equal(messageIdOf(''), null)
  assert.equal(messageIdOf(undefined), null)
})

// The per-message functions take shortcuts; each must agree with its plain definition on any input.
const headerText = fc.string({
  unit: fc.constantFrom('<', '>', ' ', '\t', '\r\n', 'a', 'B', '@', '.', 'é'),
  maxLength: 12,
})

test('messageIdOf: whitespace removed, then one pair of surrounding angle brackets, whatever the text', () => {
  fc.assert(
    fc.property(headerText, (h) => {
      const plain = h.replace(/\s+/g, '').replace(/^<(.*)>$/, '$1')
      assert.equal(messageIdOf(h), plain === '' ? null : plain)
    }),
  )
})

test('asciiLower lowers A-Z and nothing else', () => {
  fc.assert(
    fc.property(
      fc.string({
        unit: fc.oneof(
          fc.constantFrom('A', 'Z', 'a', 'z', '@', '[', '`', 'é', 'İ', 'K'),
          fc.string({ unit: 'binary', minLength: 1, maxLength: 1 }),
        ),
        maxLength: 12,
      }),
      (s) => {
        assert.equal(
          asciiLower(s),
          s.replace(/[A-Z]/g, (c) => c.toLowerCase()),
        )
      },
    ),
  )
})

test('bucketOf names the UTC hour of any time, whatever was asked before', () => {
  const hourName = (ms: number) =>
    new Date(Math.floor(ms / 3_600_000) * 3_600_000).toISOString().replace(/[-T]/g, '').slice(0, 10)
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 0, max: 4_102_444_800_000 }), { minLength: 1, maxLength: 8 }),
      (times) => {
        for (const ms of times) assert.equal(bucketOf(ms), hourName(ms))
      },
    ),
  )
})

test('an acceptance write: every recipient, list members included, the header and its index terms', () => {
  const note: TrackingNote = {
    v: 1,
    envid: 'e+2B1@sender.example',
    ret: null,
    track: null,
    arrival: NOW,
    rcpts: {
      'list@local.test': { orcpt: null, notify: null, expanded: 'List@local.test' },
      'm1@dest.example': { orcpt: null, notify: null, memberOf: 'list@local.test' },
    },
  }
  const w = traceAcceptanceWrite(
    note,
    { v: 1, ...TRACE, envid: 'e+1@sender.example' },
    [addr('Bob', 'dest.example'), addr('m1', 'dest.example')],
    { kind: 'queued' },
    {
      txn: 'abc.1',
      reportingMta: 'mx.test',
      now: NOW,
      queueLifetime: 3600,
      queuedGrace: 60,
      retention: 60,
    },
  )
  assert.deepEqual(
    w.recipients.map((r) => [r.base.address, r.event?.patch.action ?? r.base.action]),
    [
      ['Bob@dest.example', 'delayed'],
      ['m1@dest.example', 'delayed'],
      ['List@local.test', 'expanded'],
    ],
  )
  assert.equal(w.header.txn, 'abc.1')
  assert.equal(w.keepUntil, NOW + 3600_000 + 60_000, 'queued: kept past the give-up time')
  assert.deepEqual(writeTerms(w).sort(), [
    'env:e+1@sender.example',
    'f:s@sender.example',
    'fd:sender.example',
    'helo:client.example',
    'ip:192.0.2.1',
    'mid:abc@sender.example',
    'q:abc.1',
    'r:bob@dest.example',
    'r:list@local.test',
    'r:m1@dest.example',
    'rd:dest.example',
    'rd:local.test',
  ])
  assert.deepEqual(
    writeTerms(w).flatMap((t) => sharedTerm(t) ?? []),
    ['q', 'abc.1', 'mid', 'abc@sender.example'],
    'the queue id and the Message-ID go to the shared sets; the others a set per value',
  )
})

test('hour buckets: UTC hours, newest first, inclusive of both ends', () => {
  assert.equal(bucketOf(NOW), '2026113012')
  assert.deepEqual(
    bucketsBetween(NOW - 3_600_000, NOW).map((b) => b.bucket),
    ['2026113012', '2026113011'],
  )
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: 0, max: 3e8 }), (since, span) => {
      const bs = bucketsBetween(since, since + span)
      return bs[0]?.bucket === bucketOf(since + span) && bs.at(-1)?.bucket === bucketOf(since)
    }),
  )
})

test('times: now, durations ago, ISO dates (UTC without a zone); anything else is unreadable', () => {
  assert.equal(parseTime('now', NOW), NOW)
  assert.equal(parseTime('2h', NOW), NOW - 7_200_000)
  assert.equal(parseTime('3d', NOW), NOW - 3 * 86_400_000)
  assert.equal(parseTime('2026-11-30', NOW), Date.UTC(2026, 10, 30))
  assert.equal(parseTime('2026-11-30T10:00', NOW), Date.UTC(2026, 10, 30, 10))
  assert.equal(parseTime('2026-11-30T10:00+01:00', NOW), Date.UTC(2026, 10, 30, 9))
  for (const bad of ['yesterday', '2h ago', '-3d', '2026-13-45', '30/11/2026', ''])
    assert.equal(parseTime(bad, NOW), null, bad)
  // Dates and times that do not exist are refused, not rolled over to the next day or month.
  for (const bad of [
    '2026-11-31',
    '2026-02-29',
    '2026-02-30',
    '2026-00-10',
    '2026-11-00',
    '2026-11-30T24:00',
  ])
    assert.equal(parseTime(bad, NOW), null, bad)
  assert.equal(parseTime('2028-02-29', NOW), Date.UTC(2028, 1, 29), 'a leap day exists')
  fc.assert(
    fc.property(fc.date({ min: new Date(0), max: new Date(Date.UTC(2100, 0)), noInvalidDate: true }), (d) => {
      const day = d.toISOString().slice(0, 10)
      assert.equal(parseTime(day, NOW), Date.parse(day), 'every real date reads as itself')
    }),
  )
  // As an end, a date alone takes in its whole day; a time of day stays as given.
  assert.equal(parseTime('2026-11-30', NOW, true), Date.UTC(2026, 11, 1) - 1)
  assert.equal(parseTime('2026-11-30T10:00', NOW, true), Date.UTC(2026, 10, 30, 10))
})

test('a date-only --until is the end of that day: --since D --until D is the whole day D', () => {
  // Searched the day after: an end later than now (and an hour more, CLOCK_AHEAD) is cut to it.
  const d = { now: Date.UTC(2026, 11, 2), window: 86_400_000, kept: 7 * 86_400_000 }
  const r = parseTraceQuery({ since: '2026-11-30', until: '2026-11-30' }, d)
  assert.ok(r.ok)
  assert.deepEqual([r.value.since, r.value.until], [Date.UTC(2026, 10, 30), Date.UTC(2026, 11, 1) - 1])
})

test('a range is cut to the hours a record can still be in; a time before 1970 is refused by its option', () => {
  const kept = 7 * 86_400_000
  const d = { now: NOW, window: kept, kept }
  const iso = (ms: number) => new Date(ms).toISOString()
  const range = (input: Record<string, string>) => {
    const r = parseTraceQuery(input, d)
    assert.ok(r.ok, r.ok ? '' : r.error)
    return [r.value.since, r.value.until]
  }
  assert.deepEqual(range({ since: '2000-01-01' }), [NOW - kept, NOW], 'older records have expired')
  assert.deepEqual(range({ since: '20000d' }), [NOW - kept, NOW])
  assert.deepEqual(range({ since: '1h', until: '9999-12-31' }), [NOW - 3_600_000, NOW + CLOCK_AHEAD])
  assert.deepEqual(range({ since: '1970-01-01', until: '2000-01-01' }), [
    Date.UTC(2000, 0, 2) - 1,
    Date.UTC(2000, 0, 2) - 1,
  ])
  for (const [input, re] of [
    [{ since: '999999999d' }, /^--since: "999999999d" is before 1970$/],
    [{ since: '1969-12-31' }, /^--since: "1969-12-31" is before 1970$/],
    [{ until: '0000-01-01T00:00Z' }, /^--until: "0000-01-01T00:00Z" is before 1970$/],
    [
      { since: iso(NOW + 1.5 * CLOCK_AHEAD), until: iso(NOW + 2 * CLOCK_AHEAD) },
      /^--since: .* is in the future$/,
    ],
  ] as const) {
    const e = parseTraceQuery(input, d)
    assert.ok(!e.ok, JSON.stringify(input))
    assert.match(e.error, re)
  }
  const api = parseTraceQuery({ since: '999999999d' }, { ...d, name: (field) => field })
  assert.ok(!api.ok)
  assert.equal(api.error, 'since: "999999999d" is before 1970')
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4e12 }), fc.integer({ min: 0, max: 4e12 }), (a, b) => {
      const r = parseTraceQuery({ since: iso(Math.min(a, b)), until: iso(Math.max(a, b)) }, d)
      if (!r.ok) return Math.min(a, b) > NOW + CLOCK_AHEAD
      const { since, until } = r.value
      return since >= Math.min(NOW - kept, until) && since <= until && until <= NOW + CLOCK_AHEAD
    }),
  )
})

test('a query: defaults, and each malformed value reported by its option', () => {
  const d = { now: NOW, window: 86_400_000, kept: 7 * 86_400_000 }
  const r = parseTraceQuery({ to: 'Bob@dest.example', outcome: 'failed,Delayed' }, d)
  assert.deepEqual(r, {
    ok: true,
    value: {
      keys: { to: 'Bob@dest.example' },
      since: NOW - 86_400_000,
      until: NOW,
      outcomes: ['failed', 'delayed'],
      limit: 50,
      cursor: null,
    },
  })
  const errors: Array<[Record<string, string>, RegExp]> = [
    [{ since: 'yesterday' }, /^--since: "yesterday" is not a time/],
    [{ until: '2026-11-30x' }, /^--until: /],
    [{ since: '1h', until: '2h' }, /^--since: .* is after --until/],
    [{ since: new Date(NOW + 86_400_000).toISOString() }, /^--since: .* is in the future$/],
    [{ outcome: 'bounced' }, /^--outcome: "bounced" is not one of/],
    [{ limit: '0' }, /^--limit: "0" is not a number from 1 to 1000/],
    [{ limit: '5x' }, /^--limit: /],
    [{ to: 'bob' }, /^--to: "bob" is not an address/],
    [{ toDomain: 'b@dest.example' }, /^--to-domain: .* is an address, not a domain \(use --to\)/],
    [{ from: '' }, /^--from: empty \(the null sender is written <>\)/],
    [{ ip: 'host.example' }, /^--ip: "host.example" is not an IP address/],
    [{ ip: '999.1.1.1' }, /^--ip: "999\.1\.1\.1" is not an IP address/],
    [{ ip: '1:2:3' }, /^--ip: "1:2:3" is not an IP address/],
    [{ messageId: '' }, /^--message-id: empty$/],
    [{ messageId: 'a b' }, /^--message-id: .* contains white space/],
    [{ cursor: 'nope' }, /^--cursor: "nope" is not a cursor/],
  ]
  for (const [input, re] of errors) {
    const e = parseTraceQuery(input, d)
    assert.ok(!e.ok, JSON.stringify(input))
    assert.match(e.error, re)
  }
  // The operator page's API names its query keys as the request spelled them.
  const asKeys = { ...d, name: (field: string) => field }
  const api: Array<[Record<string, string>, RegExp]> = [
    [{ since: 'yesterday' }, /^since: "yesterday" is not a time/],
    [{ since: '1h', until: '2h' }, /^since: .* is after until$/],
    [{ toDomain: 'b@dest.example' }, /^toDomain: .* is an address, not a domain \(use to\)/],
  ]
  for (const [input, re] of api) {
    const e = parseTraceQuery(input, asKeys)
    assert.ok(!e.ok, JSON.stringify(input))
    assert.match(e.error, re)
  }
})

test('cursors round-trip', () => {
  fc.assert(
    fc.property(fc.integer({ min: 0, max: 4e12 }), fc.stringMatching(/^[\w.-]{1,40}$/), (arrival, txn) => {
      assert.deepEqual(parseCursor(formatCursor({ arrival, txn })), { arrival, txn })
    }),
  )
})
