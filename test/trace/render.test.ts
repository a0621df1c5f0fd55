import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { TracedMessage } from '../../src/model/trace'
import {
  csv,
  renderDetail,
  renderRetention,
  renderRows,
  renderSummary,
  table,
  traceRows,
} from '../../src/trace/render'
import { recipient } from '../store/fixtures'

const AT = Date.UTC(2026, 10, 30, 10, 0, 0)
const message: TracedMessage = {
  txn: 'abc.1',
  arrival: AT,
  from: '',
  messageId: 'm@x.example',
  envid: null,
  tracked: false,
  clientIp: '192.0.2.1',
  helo: 'client.example',
  reportingMta: 'mx.example',
  queueIds: ['abc.1', 'abc.1.1'],
  recipients: [
    recipient({
      address: 'Zed@Dest.example',
      action: 'failed',
      status: '5.1.1',
      remoteMta: 'mx.dest.example',
      history: [
        {
          id: 'a',
          at: AT + 1000,
          action: 'failed',
          status: '5.1.1',
          host: 'mx.dest.example',
          code: '550',
          reply: '5.1.1 "no", user',
        },
      ],
    }),
    recipient({ address: 'amy@other.example', action: 'delayed', status: '4.0.0' }),
  ],
}

test('rows: one per recipient the query selects, sorted by address; the null sender as <>', () => {
  const all = traceRows([message], { keys: {}, outcomes: null })
  assert.deepEqual(
    all.map((r) => [r.from, r.to, r.state, r.lastReply]),
    [
      ['<>', 'amy@other.example', 'delayed', ''],
      ['<>', 'Zed@Dest.example', 'failed', '550 5.1.1 "no", user'],
    ],
  )
  assert.deepEqual(
    traceRows([message], { keys: { toDomain: 'DEST.example' }, outcomes: null }).map((r) => r.to),
    ['Zed@Dest.example'],
  )
  assert.deepEqual(traceRows([message], { keys: { to: 'zed@dest.example' }, outcomes: ['delayed'] }), [])
  assert.deepEqual(
    traceRows([message], { keys: {}, outcomes: ['delayed'] }).map((r) => r.to),
    ['amy@other.example'],
  )
})

test('CSV quotes what RFC 4180 asks; the table aligns columns without trailing blanks and shows control characters as ?', () => {
  assert.equal(
    csv(
      ['a', 'b'],
      [
        ['x,y', 'say "hi"'],
        ['line\nbreak', ''],
      ],
    ),
    'a,b\r\n"x,y","say ""hi"""\r\n"line\nbreak",\r\n',
  )
  assert.equal(
    table(
      ['A', 'LONGER'],
      [
        ['xyz', ''],
        ['q\u001b[31m', 'v'],
      ],
    ),
    'A       LONGER\nxyz\nq?[31m  v\n',
  )
  const text = renderRows(traceRows([message], { keys: {}, outcomes: null }), 'csv').split('\r\n')
  assert.equal(text[0], 'time,queue_id,from,to,state,status,next_hop,last_reply')
  assert.equal(
    text[2],
    '2026-11-30T10:00:00Z,abc.1,<>,Zed@Dest.example,failed,5.1.1,mx.dest.example,"550 5.1.1 ""no"", user"',
  )
})

test('detail: a retry limit ahead reads "will retry until", one passed "retried until"', () => {
  const queued: TracedMessage = {
    ...message,
    recipients: [recipient({ address: 'q@dest.example', action: 'delayed', willRetryUntil: AT + 3_600_000 })],
  }
  assert.match(renderDetail(queued, AT), /^ {2}will retry until 2026-11-30T11:00:00Z$/m)
  assert.match(renderDetail(queued, AT + 7_200_000), /^ {2}retried until 2026-11-30T11:00:00Z$/m)
})

test('detail and summary', () => {
  const d = renderDetail(message, AT + 60_000)
  assert.match(d, /^Queue id: +abc\.1 abc\.1\.1$/m)
  assert.match(d, /^From: +<>$/m)
  assert.match(d, /^To: amy@other\.example\n {2}state delayed 4\.0\.0\n {2}no delivery attempt yet$/m)
  assert.match(d, /^ {2}2026-11-30T10:00:01Z +failed +5\.1\.1 +mx\.dest\.example +550 5\.1\.1 "no", user$/m)
  // A decoded ENVID may hold a NUL (xtext +00, accepted as Postfix does): never written raw to a terminal.
  const nul = renderDetail(
    { ...message, envid: 'nul1\u0000tail@client.example', helo: 'h\u001b[31m' },
    AT + 60_000,
  )
  assert.match(nul, /^ENVID: +nul1\?tail@client\.example$/m)
  assert.match(nul, /\(HELO h\?\[31m\)$/m)
  assert.doesNotMatch(nul, /[\u0000-\u001f\u007f](?<!\n)/)
  const s = renderSummary(
    {
      hours: [{ start: AT, messages: 2, recipients: { failed: 1, delayed: 2 } }],
      total: { messages: 2, recipients: { failed: 1, delayed: 2 } },
    },
    'table',
  )
  assert.equal(
    s,
    'HOUR                  MESSAGES  FAILED  DELAYED  DELIVERED  RELAYED  EXPANDED  TRANSFERRED\n' +
      '2026-11-30T10:00:00Z  2         1       2        0          0        0         0\n' +
      'total                 2         1       2        0          0        0         0\n',
  )
})

test('MTRK-11: retention counts one a line, aligned; a dry run says nothing changed and what would be', () => {
  const report = {
    keys: 12,
    keysShortened: 7,
    keysRemoved: 3,
    keysSkipped: 1,
    records: 14,
    recordsShortened: 10,
    recipientsQueued: 2,
  }
  const run = { dryRun: false, maxRetention: 172800, queuedGrace: 86400 }
  const done = renderRetention(run, report)
  assert.match(
    done,
    /^retention at most 172800 s from arrival; queued recipients until their give-up time \+ 86400 s\n/,
  )
  assert.match(done, /^keys shortened {2,}7$/m)
  assert.match(done, /^keys removed \(nothing left to keep\) {2,}3$/m)
  assert.match(done, /^records now expiring sooner {2,}10$/m)
  assert.match(done, /^recipients kept longer: still queued \(RFC 3885 3\.1\) {2}2$/m)
  const columns = done
    .split('\n')
    .slice(1, -1)
    .map((l) => l.search(/\d+$/))
  assert.equal(new Set(columns).size, 1, 'counts in one column')
  const dry = renderRetention({ ...run, dryRun: true }, report)
  assert.match(dry, /^Dry run, nothing changed: /)
  assert.match(dry, /^keys would be shortened {2,}7$/m)
  assert.match(dry, /^records that would expire sooner {2,}10$/m)
})
