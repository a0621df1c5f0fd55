import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { StoredRecipient } from '../../src/model/records'
import {
  effectiveRetention,
  keepUntil,
  lowerRetention,
  parseDuration,
  queuedHere,
  visibleUntil,
} from '../../src/model/retention'

const limits = { defaultRetention: 864000, maxRetention: 2592000 }

test('MTRK-7..9, AMB-19: requested timeout, capped; default without one; 0 kept as 0', () => {
  assert.equal(effectiveRetention(null, limits), 864000)
  assert.equal(effectiveRetention(3600, limits), 3600)
  assert.equal(effectiveRetention(0, limits), 0)
  assert.equal(effectiveRetention(999999999, limits), 2592000)
})

test('MTRK-10: while queued, data is kept past the give-up time, whatever the retention', () => {
  const base = { arrival: 1_000_000, retention: 0, now: 2_000_000, queuedGrace: 60 }
  assert.equal(keepUntil({ ...base, queued: true, giveUp: 5_000_000 }), 5_060_000)
  assert.equal(keepUntil({ ...base, queued: true, giveUp: null }), 2_060_000)
  assert.equal(
    keepUntil({ ...base, queued: true, giveUp: 10 }),
    2_060_000,
    'a past give-up time counts from now',
  )
  assert.equal(keepUntil({ ...base, queued: false, giveUp: 5_000_000 }), 1_000_000)
  assert.equal(keepUntil({ ...base, retention: 86400, queued: false, giveUp: null }), 87_400_000)
})

test('property: queued data always outlives now and the give-up time; final data is arrival + retention', () => {
  fc.assert(
    fc.property(
      fc.nat(),
      fc.nat(999999999),
      fc.nat(),
      fc.option(fc.nat()),
      fc.nat(86400 * 30),
      (arrival, retention, now, giveUp, grace) => {
        const input = { arrival, retention, now, giveUp, queuedGrace: grace }
        const q = keepUntil({ ...input, queued: true })
        assert.ok(q >= now + grace * 1000 && q >= (giveUp ?? 0) && q >= arrival + retention * 1000)
        assert.equal(keepUntil({ ...input, queued: false }), arrival + retention * 1000)
      },
    ),
  )
})

const DAY_MS = 86_400_000
const ARRIVAL = 1_700_000_000_000

/** A recipient no longer queued here, kept until `keepUntil`. */
const done = (keepUntil: number) =>
  ({ action: 'delivered', willRetryUntil: null, keepUntil }) as Pick<
    StoredRecipient,
    'action' | 'willRetryUntil' | 'keepUntil'
  >

test('MTRK-11: a record past the new maximum is cut to arrival + max, retention and keep times alike', () => {
  const now = ARRIVAL + 3 * DAY_MS
  const cut = { maxRetention: 2 * 86400, queuedGrace: 86400, now }
  const m = { arrival: ARRIVAL, retention: 30 * 86400, recipients: [done(ARRIVAL + 30 * DAY_MS)] }
  const l = lowerRetention(m, cut)
  assert.equal(l.retention, 2 * 86400)
  assert.deepEqual(l.keeps, [ARRIVAL + 2 * DAY_MS])
  assert.equal(l.until, ARRIVAL + 2 * DAY_MS)
  assert.equal(l.before, ARRIVAL + 30 * DAY_MS)
  assert.equal(l.held, 0)
  assert.equal(l.changed, true)
})

test('MTRK-11, MTRK-10: a recipient still queued keeps its give-up time plus the grace; a 4xx refusal is not queued', () => {
  const now = ARRIVAL + DAY_MS
  const giveUp = ARRIVAL + 4 * DAY_MS
  const cut = { maxRetention: 3600, queuedGrace: 86400, now }
  const l = lowerRetention(
    {
      arrival: ARRIVAL,
      retention: 10 * 86400,
      recipients: [
        { action: 'delayed', willRetryUntil: giveUp, keepUntil: ARRIVAL + 10 * DAY_MS },
        { action: 'delayed', willRetryUntil: null, keepUntil: ARRIVAL + 10 * DAY_MS },
      ],
    },
    cut,
  )
  assert.deepEqual(l.keeps, [giveUp + DAY_MS, ARRIVAL + 3_600_000])
  assert.equal(l.held, 1)
  assert.equal(l.retention, 3600)
  assert.equal(l.until, giveUp + DAY_MS)
  assert.equal(queuedHere({ action: 'delayed', willRetryUntil: giveUp }), true)
  assert.equal(queuedHere({ action: 'delayed', willRetryUntil: null }), false)
  assert.equal(queuedHere({ action: 'failed', willRetryUntil: giveUp }), false)
})

test('MTRK-11: a maximum above what a record keeps changes nothing', () => {
  const m = { arrival: ARRIVAL, retention: 86400, recipients: [done(ARRIVAL + DAY_MS)] }
  const l = lowerRetention(m, { maxRetention: 30 * 86400, queuedGrace: 86400, now: ARRIVAL })
  assert.deepEqual(
    [l.retention, l.keeps, l.changed, l.until, l.before],
    [86400, [ARRIVAL + DAY_MS], false, ARRIVAL + DAY_MS, ARRIVAL + DAY_MS],
  )
})

test('property: a lowered keep time is never longer than before, nor below the MTRK-10 floor of a queued recipient', () => {
  const recipient = fc.record({
    action: fc.constantFrom('delayed', 'delivered', 'failed', 'relayed', 'expanded', 'transferred'),
    willRetryUntil: fc.option(fc.nat(4e12)),
    keepUntil: fc.nat(4e12),
  })
  fc.assert(
    fc.property(
      fc.nat(2e12),
      fc.nat(999999999),
      fc.array(recipient, { maxLength: 5 }),
      fc.nat(999999999),
      fc.nat(86400 * 30),
      fc.nat(4e12),
      (arrival, retention, recipients, maxRetention, queuedGrace, now) => {
        const m = { arrival, retention, recipients }
        const l = lowerRetention(m, { maxRetention, queuedGrace, now })
        assert.ok(l.retention <= retention && l.retention <= maxRetention)
        assert.ok(l.until <= l.before)
        assert.equal(l.before, visibleUntil(m))
        recipients.forEach((r, i) => {
          const keep = l.keeps[i] as number
          assert.ok(keep <= r.keepUntil, 'never longer')
          if (queuedHere(r)) {
            const floor = Math.max(r.willRetryUntil ?? now, now) + queuedGrace * 1000
            assert.ok(keep >= Math.min(r.keepUntil, floor), 'never below the MTRK-10 floor')
          } else assert.ok(keep <= arrival + maxRetention * 1000, 'final data: at most arrival + max')
        })
        assert.equal(
          l.changed,
          l.retention !== retention || l.keeps.some((k, i) => k !== recipients[i]?.keepUntil),
        )
      },
    ),
  )
})

test('MTRK-11: a duration as typed: seconds, or a number with s, m, h or d', () => {
  assert.equal(parseDuration('172800'), 172800)
  assert.equal(parseDuration('90s'), 90)
  assert.equal(parseDuration('30m'), 1800)
  assert.equal(parseDuration(' 2h '), 7200)
  assert.equal(parseDuration('2d'), 172800)
  assert.equal(parseDuration('0'), 0)
  for (const bad of ['', '2 days', '-1d', '1.5d', '2w', 'd', '1234567890'])
    assert.equal(parseDuration(bad), null, bad)
})
