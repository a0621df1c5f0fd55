import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { effectiveRetention, keepUntil } from '../../src/model/retention'

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
