import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
  assumedLastReport,
  delayReportDue,
  notifyAsks,
  type ReportAction,
  type ReportContext,
  reportWanted,
} from '../../src/dsn/decision'

const ACTIONS: ReportAction[] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded']
const ctx: ReportContext = { sender: 'alice@example.test', policy: 'all', fromRelayClient: false }

test('RFC 3461 §5.2: the decision table per NOTIFY value', () => {
  const table: [string | null, ReportAction[]][] = [
    [null, ['failed', 'delayed']], // DSN-5's reading of no NOTIFY; never success (§5.2.3(c))
    ['NEVER', []],
    ['SUCCESS', ['delivered', 'relayed', 'expanded']],
    ['FAILURE', ['failed']],
    ['DELAY', ['delayed']],
    ['SUCCESS,FAILURE', ['failed', 'delivered', 'relayed', 'expanded']],
    ['failure,delay', ['failed', 'delayed']],
    ['SUCCESS,DELAY', ['delayed', 'delivered', 'relayed', 'expanded']],
    ['DELAY,FAILURE,SUCCESS', ACTIONS],
    ['garbage', ['failed', 'delayed']], // unreadable stored value: as if absent
  ]
  for (const [notify, yes] of table) {
    for (const action of ACTIONS) {
      assert.equal(notifyAsks(notify, action), yes.includes(action), `${notify} ${action}`)
      assert.equal(reportWanted(notify, action, ctx), yes.includes(action), `${notify} ${action}`)
    }
  }
})

test('never a report about a report, nor to nobody; the backscatter switch spares failures only', () => {
  fc.assert(
    fc.property(
      fc.constantFrom(null, 'NEVER', 'SUCCESS', 'FAILURE', 'DELAY', 'SUCCESS,FAILURE,DELAY'),
      fc.constantFrom(...ACTIONS),
      fc.constantFrom('', ' '),
      (notify, action, sender) => {
        assert.equal(reportWanted(notify, action, { ...ctx, sender }), false)
      },
    ),
  )
  const strict: ReportContext = { ...ctx, policy: 'relay_clients' }
  assert.equal(reportWanted('SUCCESS,FAILURE,DELAY', 'failed', strict), true)
  for (const action of ['delayed', 'delivered', 'relayed', 'expanded'] as const) {
    assert.equal(reportWanted('SUCCESS,FAILURE,DELAY', action, strict), false)
    assert.equal(reportWanted('SUCCESS,FAILURE,DELAY', action, { ...strict, fromRelayClient: true }), true)
  }
})

test('delay reports: first after firstAfter in the queue, then at most once per interval', () => {
  const base = { queuedAt: 0, firstAfter: 3600, interval: 86400 }
  assert.equal(delayReportDue({ ...base, lastReport: null, now: 3599_000 }), false)
  assert.equal(delayReportDue({ ...base, lastReport: null, now: 3600_000 }), true)
  assert.equal(delayReportDue({ ...base, lastReport: 3600_000, now: 7200_000 }), false)
  assert.equal(delayReportDue({ ...base, lastReport: 3600_000, now: 3600_000 + 86400_000 }), true)
  // Property: between two due reports at least `interval` passes, whatever the retry times.
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 200_000_000 }), { maxLength: 40 }), (steps) => {
      let now = 0
      let last: number | null = null
      for (const step of steps) {
        now += step
        if (delayReportDue({ ...base, lastReport: last, now })) {
          assert.ok(now >= 3600_000)
          if (last !== null) assert.ok(now - last >= 86400_000)
          last = now
        }
      }
    }),
  )
})

test('AMB-44: after a restart the previous deferral stands in for the forgotten report time: never an extra report', () => {
  assert.equal(assumedLastReport(0, null, 3600), null, 'a first attempt: nothing can have been sent')
  assert.equal(assumedLastReport(0, 3599_000, 3600), null, 'no report was due by the previous deferral')
  assert.equal(assumedLastReport(0, 3600_000, 3600), 3600_000)
  const base = { queuedAt: 0, firstAfter: 3600, interval: 86400 }
  // Property: deferrals at any times, restarts (the remembered time lost) before any of them; reports stay at least
  // `interval` apart, and the first still comes once a deferral is `firstAfter` in the queue and the one before not.
  const deferral = fc.record({ step: fc.integer({ min: 1, max: 200_000_000 }), restart: fc.boolean() })
  fc.assert(
    fc.property(fc.array(deferral, { maxLength: 40 }), (deferrals) => {
      let now = 0
      let previous: number | null = null
      let remembered: number | null = null
      const sent: number[] = []
      for (const { step, restart } of deferrals) {
        now += step
        if (restart) remembered = null
        const lastReport = remembered ?? assumedLastReport(0, previous, base.firstAfter)
        if (delayReportDue({ ...base, lastReport, now })) {
          remembered = now
          sent.push(now)
        }
        previous = now
      }
      for (let i = 1; i < sent.length; i++) assert.ok(sent[i]! - sent[i - 1]! >= 86400_000, `${sent}`)
      if (sent.length === 0) assert.ok(now < 3600_000, 'a deferral past firstAfter sends the first report')
    }),
  )
})
