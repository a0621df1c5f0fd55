import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import {
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
