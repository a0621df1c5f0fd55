// The stored-record side of MTRK-11 (src/store/codec.ts lowerStoredRetention): a record rewritten with lower keep
// times keeps every other element as stored, and recipients this version cannot read stay untouched in their place.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { StoredRecipient } from '../../src/model/records'
import { decodeMessage, encodeMessage, encodeRecipient, lowerStoredRetention } from '../../src/store/codec'
import { message, recipient } from './fixtures'

const DAY_MS = 86_400_000
const m = message({ retention: 30 * 86400 })
const ENVID = m.envid

/** A record as the write script stores it: the encoded message elements, each recipient under its key. */
function stored(recipients: Array<[string, StoredRecipient] | unknown[]>): string {
  const rs = recipients.map((r) =>
    typeof r[0] === 'string' && r.length === 2
      ? [r[0], ...JSON.parse(encodeRecipient(r[0], r[1] as StoredRecipient)), []]
      : r,
  )
  return JSON.stringify([2, ...JSON.parse(encodeMessage(m)), rs])
}

const cut = { maxRetention: 2 * 86400, queuedGrace: 86400, now: m.arrival + 5 * DAY_MS }

test('MTRK-11: the rewritten record decodes to the same message with the lower retention and keep times', () => {
  const giveUp = m.arrival + 6 * DAY_MS
  const json = stored([
    [
      'a@example.net',
      recipient({ address: 'a@example.net', action: 'delivered', keepUntil: m.arrival + 30 * DAY_MS }),
    ],
    [
      'b@example.net',
      recipient({ address: 'b@example.net', willRetryUntil: giveUp, keepUntil: giveUp + DAY_MS }),
    ],
  ])
  const r = lowerStoredRetention(m.txn, ENVID, json, cut)
  assert.ok(r?.json)
  const before = decodeMessage(m.txn, ENVID, json)
  const after = decodeMessage(m.txn, ENVID, r.json)
  assert.ok(before && after)
  assert.equal(after.retention, 2 * 86400)
  assert.deepEqual(
    after.recipients.map((x) => x.keepUntil),
    [m.arrival + 2 * DAY_MS, giveUp + DAY_MS],
  )
  const keepless = (x: typeof before) => ({
    ...x,
    retention: 0,
    recipients: x.recipients.map((y) => ({ ...y, keepUntil: 0 })),
  })
  assert.deepEqual(keepless(after), keepless(before))
  assert.deepEqual(r.lowered.keeps, [m.arrival + 2 * DAY_MS, giveUp + DAY_MS])
  assert.equal(r.lowered.held, 1)
})

test('MTRK-11: a recipient that does not decode stays as stored; the others are matched by position', () => {
  const odd = ['odd@example.net', 'not', 'a', 'recipient']
  const json = stored([
    odd,
    [
      'a@example.net',
      recipient({ address: 'a@example.net', action: 'failed', keepUntil: m.arrival + 9 * DAY_MS }),
    ],
  ])
  const r = lowerStoredRetention(m.txn, ENVID, json, cut)
  assert.ok(r?.json)
  const [first, second] = (JSON.parse(r.json) as unknown[][])[8] as unknown[][]
  assert.deepEqual(first, odd)
  assert.equal(second?.[9], m.arrival + 2 * DAY_MS)
})

test('MTRK-11: a value that is not a format-2 message is not rewritten; one already short enough is unchanged', () => {
  assert.equal(lowerStoredRetention(m.txn, ENVID, '{"m":1}', cut), null)
  assert.equal(lowerStoredRetention(m.txn, ENVID, 'not json', cut), null)
  const short = message({ retention: 86400 })
  const json = JSON.stringify([
    2,
    ...JSON.parse(encodeMessage(short)),
    [
      [
        'a@example.net',
        ...JSON.parse(encodeRecipient('a@example.net', recipient({ action: 'delivered' }))),
        [],
      ],
    ],
  ])
  const r = lowerStoredRetention(m.txn, ENVID, json, cut)
  assert.equal(r?.json, null)
  assert.equal(r?.lowered.changed, false)
})

test('property: a rewritten record keeps every element but the retention and keep times', () => {
  fc.assert(
    fc.property(
      fc.array(
        fc.record({
          action: fc.constantFrom('delayed', 'delivered', 'failed', 'relayed'),
          willRetryUntil: fc.option(fc.nat(4e12)),
          keepUntil: fc.nat(4e12),
        }),
        { minLength: 1, maxLength: 4 },
      ),
      fc.nat(60 * 86400),
      (rs, maxRetention) => {
        const json = stored(
          rs.map((x, i) => [`r${i}@example.net`, recipient({ ...x, address: `r${i}@example.net` })]),
        )
        const r = lowerStoredRetention(m.txn, ENVID, json, { ...cut, maxRetention })
        assert.ok(r)
        const after = JSON.parse(r.json ?? json) as unknown[]
        const before = JSON.parse(json) as unknown[]
        after[6] = before[6]
        for (const [i, x] of (after[8] as unknown[][]).entries()) {
          assert.ok((x[9] as number) <= (rs[i]?.keepUntil as number))
          x[9] = (before[8] as unknown[][])[i]?.[9]
        }
        assert.deepEqual(after, before)
      },
    ),
  )
})
