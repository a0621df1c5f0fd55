import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { Tracked } from '../../src/model/tracking'
import {
  type AttemptResult,
  classify,
  giveUpTime,
  type OutcomeContext,
  outcomeWrite,
  type RecipientReport,
} from '../../src/relay/outcome'

const S = 1000
const note: Tracked = {
  v: 1,
  envid: 'e+2B1@h.example',
  ret: null,
  track: { certifier: 'VheLhqV/rCKJmplkGFwsyW59pYk', timeout: 600, retention: 600, envid: 'e+1@h.example' },
  arrival: 1_000_000,
  rcpts: { 'u@x.example': { orcpt: 'rfc822;U@x.example', notify: 'DELAY' } },
}
const ctx: OutcomeContext = {
  txn: 'T.1',
  reportingMta: 'mx.here.test',
  now: 1_000_000 + 30 * S,
  queueLifetime: 10,
  queuedGrace: 100,
  attemptId: 'T.1.1:uid:1:deferred',
  giveUp: 1_000_000 + 900 * S,
}
const report = (over: Partial<RecipientReport> = {}): RecipientReport => ({
  key: 'u@x.example',
  address: 'U@x.example',
  host: 'mx.next.test',
  code: '450',
  reply: '4.2.1 busy',
  status: '4.2.1',
  ...over,
})

/** A reply of the status's class carrying it, or no reply at all. */
const said = (status: string | null) => ({
  code: status === null ? null : `${status[0]}50`,
  status,
  reply: status,
})

test('TSN-18, TSN-21, TSN-24, ESC-3: accepted recipients by hand-off', () => {
  const accepted = (lmtp: boolean, mtrkSent: boolean): AttemptResult => ({ kind: 'accepted', lmtp, mtrkSent })
  assert.deepEqual(classify(accepted(false, true), said(null)), { action: 'transferred', status: '2.4.0' })
  assert.deepEqual(classify(accepted(false, true), said('2.6.0')), { action: 'transferred', status: '2.6.0' })
  assert.deepEqual(
    classify(accepted(false, true), said('2.1.9')),
    { action: 'transferred', status: '2.4.0' },
    'TSN-21',
  )
  assert.deepEqual(classify(accepted(false, true), said('4.2.1')), { action: 'transferred', status: '2.4.0' })
  assert.deepEqual(classify(accepted(false, false), said('2.6.0')), { action: 'relayed', status: '2.1.9' })
  assert.deepEqual(classify(accepted(true, false), said('2.6.0')), { action: 'delivered', status: '2.5.0' })
  assert.deepEqual(
    classify(accepted(true, true), said(null)),
    { action: 'transferred', status: '2.4.0' },
    'TSN-24',
  )
})

test('ESC-3, AMB-40: failures keep the next hop code of their class, else what the reply code means; out of retries 4.x.y becomes 5.x.y', () => {
  assert.deepEqual(classify({ kind: 'temporary' }, said('4.2.1')), { action: 'delayed', status: '4.2.1' })
  // A 5.1.2 in a 450 is not trusted: 450 is "mailbox unavailable".
  const mixed = { code: '450', status: '5.1.2', reply: '5.1.2 odd' }
  assert.deepEqual(classify({ kind: 'temporary' }, mixed), { action: 'delayed', status: '4.2.0' })
  assert.deepEqual(classify({ kind: 'temporary' }, said(null)), { action: 'delayed', status: '4.0.0' })
  assert.deepEqual(classify({ kind: 'permanent' }, said('5.1.1')), { action: 'failed', status: '5.1.1' })
  assert.deepEqual(classify({ kind: 'permanent' }, said('4.3.0')), { action: 'failed', status: '5.3.0' })
  assert.deepEqual(classify({ kind: 'permanent' }, said('2.0.0')), { action: 'failed', status: '5.0.0' })
  assert.deepEqual(classify({ kind: 'permanent' }, said(null)), { action: 'failed', status: '5.0.0' })
})

test("AMB-40: Haraka's own reasons get the precise code of src/dsn/status, not x.0.0", () => {
  const reason = (reply: string) => ({ code: null, status: null, reply })
  assert.deepEqual(classify({ kind: 'permanent' }, reason('No Such Domain: nx.test')), {
    action: 'failed',
    status: '5.1.2',
  })
  assert.deepEqual(classify({ kind: 'temporary' }, reason('Tried all MXs')), {
    action: 'delayed',
    status: '4.4.1',
  })
})

test('TSN-15, TSN-22: Will-Retry-Until is the queue time plus the schedule, later when attempts were slow', () => {
  const intervals = [5, 10, 20]
  // Attempts at 0, 5, 15 and 35 s; the fourth failure gives up.
  assert.equal(giveUpTime(0, intervals, 1, 0), 35 * S, 'first failure, on schedule')
  assert.equal(giveUpTime(0, intervals, 3, 15 * S), 35 * S, 'third failure, on schedule: 20 s to go')
  assert.equal(
    giveUpTime(0, intervals, 1, 60 * S),
    95 * S,
    'first attempt took a minute: all 35 s still to come',
  )
  assert.equal(giveUpTime(0, [], 1, 7), 7, 'no retries: gives up now')
  fc.assert(
    fc.property(
      fc.array(fc.integer({ min: 5, max: 86400 }), { maxLength: 15 }),
      fc.nat(20),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.nat(2 ** 30),
      (schedule, failures, queued, later) => {
        const t = giveUpTime(queued, schedule, failures, queued + later)
        const total = schedule.reduce((a, b) => a + b, 0) * S
        assert.ok(t >= queued + total && t >= queued + later)
      },
    ),
  )
})

test('a temporary failure: delayed, Remote-MTA, Last-Attempt-Date, Will-Retry-Until, kept past it (MTRK-10)', () => {
  const w = outcomeWrite(note, { kind: 'temporary' }, [report()], ctx)
  assert.equal(w.message.txn, 'T.1')
  assert.equal(w.message.envidXtext, 'e+2B1@h.example')
  const [r] = w.recipients
  assert.equal(r?.base.action, 'delayed', 'creates the record when the acceptance write has not landed')
  assert.equal(r?.base.orcpt, 'rfc822;U@x.example')
  assert.deepEqual(r?.event, {
    at: ctx.now,
    patch: {
      action: 'delayed',
      status: '4.2.1',
      remoteMta: 'mx.next.test',
      lastAttempt: ctx.now,
      willRetryUntil: ctx.giveUp,
      keepUntil: ctx.giveUp + 100 * S,
    },
    attempt: {
      id: ctx.attemptId,
      at: ctx.now,
      action: 'delayed',
      status: '4.2.1',
      host: 'mx.next.test',
      code: '450',
      reply: '4.2.1 busy',
    },
  })
})

test('no host reached: no Remote-MTA in the patch (TSN-13) nor the attempt; failed is out of the queue', () => {
  const noHost = report({ host: null, code: null, status: null, reply: 'Tried all MXs' })
  const delayed = outcomeWrite(note, { kind: 'temporary' }, [noHost], ctx).recipients[0]?.event
  assert.equal(delayed && 'remoteMta' in delayed.patch, false)
  assert.deepEqual(delayed?.attempt, {
    id: ctx.attemptId,
    at: ctx.now,
    action: 'delayed',
    status: '4.4.1', // no answer from host (src/dsn/status)
    reply: 'Tried all MXs',
  })
  const failed = outcomeWrite(note, { kind: 'permanent' }, [noHost], ctx).recipients[0]?.event
  assert.equal(failed?.patch.action, 'failed')
  assert.equal(failed?.patch.willRetryUntil, null, 'TSN-15')
  assert.equal(failed?.patch.keepUntil, 1_000_000 + 600 * S, 'the retention, counted from arrival')
})

test('one write for the recipients of an attempt, each with its own record and the attempt id', () => {
  const w = outcomeWrite(
    note,
    { kind: 'accepted', lmtp: false, mtrkSent: true },
    [
      report({ status: '2.0.0', code: '250' }),
      report({ key: 'v@x.example', address: 'v@x.example', status: null }),
    ],
    { ...ctx, attemptId: 'T.1.1:uid:0:accepted' },
  )
  assert.deepEqual(
    w.recipients.map((r) => [
      r.key,
      r.base.orcpt,
      r.event?.patch.action,
      r.event?.patch.status,
      r.event?.attempt.id,
    ]),
    [
      ['u@x.example', 'rfc822;U@x.example', 'transferred', '2.0.0', 'T.1.1:uid:0:accepted'],
      ['v@x.example', null, 'transferred', '2.4.0', 'T.1.1:uid:0:accepted'],
    ],
  )
  assert.equal(w.recipients[0]?.event?.patch.willRetryUntil, null)
})
