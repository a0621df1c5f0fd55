// Outcome writes against the real store (Redis): a replayed hook is recorded once, two attempts twice, and an outcome
// that lands before the acceptance record, or after a newer one, never loses anything.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { attemptId } from '../../src/haraka/outbound'
import type { HMailItem } from '../../src/haraka/types'
import { acceptanceWrite, type Tracked } from '../../src/model/tracking'
import {
  type AttemptResult,
  type OutcomeContext,
  outcomeWrite,
  type RecipientReport,
} from '../../src/relay/outcome'
import type { TrackingStore } from '../../src/store/store'
import { sharedRedisPort } from '../helpers/redis'
import { openStore } from '../helpers/store'

let store: TrackingStore
before(async () => {
  store = await openStore(await sharedRedisPort(), `outcome${process.pid}:`)
})
after(() => store.close())

const T0 = Date.now()
const note = (envid: string): Tracked => ({
  v: 1,
  envid,
  ret: null,
  track: { certifier: 'VheLhqV/rCKJmplkGFwsyW59pYk', timeout: null, retention: 3600, envid },
  arrival: T0,
  rcpts: {},
})
const hmail = (uid: string, failures: number) =>
  ({
    todo: { uuid: 'C.1.1' },
    filename: `1_2_0_3_${uid}_4_h`,
    num_failures: failures,
  }) as unknown as HMailItem
const report: RecipientReport = {
  key: 'u@far.test',
  address: 'u@far.test',
  host: 'mx.far.test',
  code: '450',
  reply: '4.2.1 busy',
  status: '4.2.1',
}

function write(n: Tracked, result: AttemptResult, h: HMailItem, name: string, now: number, r = report) {
  const ctx: OutcomeContext = {
    txn: 'C.1',
    reportingMta: 'mx.here.test',
    now,
    queueLifetime: 10,
    queuedGrace: 60,
    attemptId: attemptId(h, name),
    giveUp: now + 10_000,
  }
  return outcomeWrite(n, result, [r], ctx)
}

const recipientOf = async (envid: string) => (await store.lookup(envid))[0]?.recipients[0]

test('an outcome before the acceptance record creates it; the acceptance then changes nothing', async () => {
  const n = note('early@h.test')
  await store.record(write(n, { kind: 'temporary' }, hmail('A', 1), 'deferred', T0 + 100))
  const ctx = { txn: 'C.1', reportingMta: 'mx.here.test', now: T0 + 50, queueLifetime: 10, queuedGrace: 60 }
  await store.record(acceptanceWrite(n, [report], { kind: 'queued' }, ctx))
  const r = await recipientOf('early@h.test')
  assert.equal(r?.action, 'delayed')
  assert.equal(r?.status, '4.2.1')
  assert.equal(r?.history.length, 1)
})

test('a replayed hook is recorded once; another attempt, or a split queue file, is recorded again', async () => {
  const n = note('replay@h.test')
  const first = write(n, { kind: 'temporary' }, hmail('A', 1), 'deferred', T0 + 100)
  await store.record(first)
  await store.record(first)
  await store.record(write(n, { kind: 'temporary' }, hmail('A', 1), 'deferred', T0 + 200))
  assert.equal(
    (await recipientOf('replay@h.test'))?.history.length,
    1,
    'same file, same attempt, same outcome',
  )
  await store.record(write(n, { kind: 'temporary' }, hmail('A', 2), 'deferred', T0 + 5100))
  await store.record(write(n, { kind: 'temporary' }, hmail('B', 1), 'deferred', T0 + 5200))
  const accepted = { ...report, code: '250', reply: '2.0.0 ok', status: '2.0.0' }
  await store.record(
    write(
      n,
      { kind: 'accepted', lmtp: false, mtrkSent: true },
      hmail('B', 1),
      'accepted',
      T0 + 9000,
      accepted,
    ),
  )
  const r = await recipientOf('replay@h.test')
  assert.deepEqual(
    r?.history.map((h) => [h.id, h.action]),
    [
      ['C.1.1:A:1:deferred', 'delayed'],
      ['C.1.1:A:2:deferred', 'delayed'],
      ['C.1.1:B:1:deferred', 'delayed'],
      ['C.1.1:B:1:accepted', 'transferred'],
    ],
  )
  assert.equal(r?.action, 'transferred')
  assert.equal(r?.willRetryUntil, null)
})

test('a late write of an older attempt is kept in the history but does not undo the newer state', async () => {
  const n = note('late@h.test')
  const accepted = { ...report, code: '250', reply: 'ok', status: null }
  await store.record(
    write(
      n,
      { kind: 'accepted', lmtp: false, mtrkSent: false },
      hmail('A', 1),
      'accepted',
      T0 + 9000,
      accepted,
    ),
  )
  await store.record(write(n, { kind: 'temporary' }, hmail('A', 1), 'deferred', T0 + 100))
  const r = await recipientOf('late@h.test')
  assert.equal(r?.action, 'relayed')
  assert.equal(r?.status, '2.1.9')
  assert.equal(r?.history.length, 2)
})
