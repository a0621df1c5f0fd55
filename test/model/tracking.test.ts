import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ensureNote, rcptKey, readNote, type TrackingNote } from '../../src/model/note'
import { acceptanceWrite, isTracked, trackedRecipients, type WriteContext } from '../../src/model/tracking'

const ctx: WriteContext = {
  txn: 'T.1',
  reportingMta: 'mx.example',
  now: 2_000_000,
  queueLifetime: 100,
  queuedGrace: 10,
}

function note(over: Partial<TrackingNote> = {}): TrackingNote {
  return {
    v: 1,
    envid: '1+2B@h.example',
    ret: 'FULL',
    track: {
      certifier: 'VheLhqV/rCKJmplkGFwsyW59pYk',
      timeout: null,
      retention: 1000,
      envid: '1+@h.example',
    },
    arrival: 1_000_000,
    rcpts: { 'u@x.example': { orcpt: 'rfc822;U@X.example', notify: 'NEVER' } },
    ...over,
  }
}

const rcpts = [
  { key: 'u@x.example', address: 'u@X.example' },
  { key: 'v@x.example', address: 'v@x.example' },
]

test('AMB-33: queued recipients start as delayed 4.0.0, not attempted, with Will-Retry-Until and MTRK-10 keep', () => {
  const n = note()
  assert.ok(isTracked(n))
  const w = acceptanceWrite(n, rcpts, { kind: 'queued' }, ctx)
  assert.deepEqual(w.message, {
    txn: 'T.1',
    envidXtext: '1+2B@h.example',
    envid: '1+@h.example',
    certifier: 'VheLhqV/rCKJmplkGFwsyW59pYk',
    arrival: 1_000_000,
    reportingMta: 'mx.example',
    requestedTimeout: null,
    retention: 1000,
    ret: 'FULL',
  })
  const [u, v] = w.recipients
  assert.equal(u?.event, undefined)
  assert.deepEqual(u?.base, {
    address: 'u@X.example',
    orcpt: 'rfc822;U@X.example',
    notify: 'NEVER',
    action: 'delayed',
    status: '4.0.0',
    remoteMta: null,
    lastAttempt: null,
    willRetryUntil: 1_100_000,
    keepUntil: 2_010_000, // now + grace: the give-up time is already past
    updated: 1_000_000,
    history: [],
  })
  assert.equal(v?.base.orcpt, null, 'no ORCPT: AMB-14 synthesises it when answering')
})

test('delivered locally, relayed by a queue plugin, refused by the queue: one idempotent event each', () => {
  const cases = [
    [{ kind: 'delivered' }, 'delivered', '2.5.0'],
    [{ kind: 'relayed' }, 'relayed', '2.1.9'],
    [{ kind: 'refused', temporary: true, code: 450, reply: '4.3.0 busy' }, 'delayed', '4.3.0'],
    [{ kind: 'refused', temporary: false, code: 550, reply: 'no (5.7.1)' }, 'failed', '5.7.1'],
    // A 4.x.y in a 550 is not trusted: 550 is "mailbox unavailable" (src/dsn/status).
    [{ kind: 'refused', temporary: false, code: 550, reply: '4.2.0 inconsistent' }, 'failed', '5.2.0'],
  ] as const
  for (const [acceptance, action, status] of cases) {
    const n = note()
    assert.ok(isTracked(n))
    const w = acceptanceWrite(n, rcpts, acceptance, ctx)
    const e = w.recipients[0]?.event
    assert.equal(e?.patch.action, action)
    assert.equal(e?.patch.status, status)
    assert.equal(e?.patch.lastAttempt, ctx.now)
    assert.equal(e?.patch.willRetryUntil, null, 'TSN-15: not (or no longer) in our queue')
    assert.equal(e?.patch.keepUntil, 1_000_000 + 1000 * 1000)
    assert.equal(e?.attempt.id, 'T.1:accept')
    assert.equal(w.recipients[1]?.event, e, 'the same event for every recipient')
  }
})

test('notes: read back defensively, created on demand, keyed by user@lower-case host', () => {
  assert.equal(readNote({}), null)
  assert.equal(readNote({ mtrk: { v: 2 } }), null)
  assert.equal(readNote({ mtrk: { ...note(), track: { certifier: 1 } } }), null)
  const notes: Record<string, unknown> = {}
  const created = ensureNote(notes)
  assert.equal(readNote(notes), created)
  assert.equal(isTracked(created), false)
  assert.equal(
    rcptKey({ user: 'Mixed', host: 'example.com', address: 'Mixed@Example.COM' }),
    'Mixed@example.com',
  )
  assert.equal(rcptKey({ user: 'postmaster', host: '', address: 'postmaster' }), 'postmaster')
})

const addr = (address: string) => {
  const [user = '', host = ''] = address.split('@')
  return { user, host: host.toLowerCase(), address }
}

test('TSN-19, TSN-20: a list is recorded as its received address, expanded 2.5.0; its members never', () => {
  const n = note({
    rcpts: {
      'list@x.example': { orcpt: null, notify: null, expanded: 'List@X.example' },
      'm1@far.example': { orcpt: null, notify: null, memberOf: 'list@x.example' },
      'list2@x.example': { orcpt: null, notify: null, expanded: 'list2@x.example' },
    },
  })
  assert.ok(isTracked(n))
  // The transaction's recipients after aliasing: a plain one, a member, and a list that includes itself.
  const rcpts = trackedRecipients(n, [addr('u@X.example'), addr('m1@far.example'), addr('list2@x.example')])
  assert.deepEqual(rcpts, [
    { key: 'u@x.example', address: 'u@X.example' },
    { key: 'list@x.example', address: 'List@X.example', redirected: 'expanded' },
    { key: 'list2@x.example', address: 'list2@x.example', redirected: 'expanded' },
  ])
  const queued = acceptanceWrite(n, rcpts, { kind: 'queued' }, ctx)
  assert.equal(queued.recipients[0]?.event, undefined, 'u is queued')
  assert.deepEqual(
    [queued.recipients[1]?.event?.patch.action, queued.recipients[1]?.event?.patch.status],
    ['expanded', '2.5.0'],
  )
  const refused = acceptanceWrite(
    n,
    rcpts,
    { kind: 'refused', temporary: false, code: 550, reply: 'no' },
    ctx,
  )
  assert.deepEqual(
    refused.recipients.map((r) => r.event?.patch.action),
    ['failed', 'failed', 'failed'],
    'a refused message was expanded nowhere',
  )
})

test('MTRK-22, TSN-25: a final alias is recorded delivered 2.5.0 at acceptance, with no Remote-MTA; never its target', () => {
  const n = note({
    rcpts: {
      'postmaster@x.example': {
        orcpt: 'rfc822;PM@x.example',
        notify: 'SUCCESS',
        delivered: 'Postmaster@x.example',
      },
      'alice@far.example': { orcpt: null, notify: null, memberOf: 'postmaster@x.example' },
    },
  })
  assert.ok(isTracked(n))
  const rcpts = trackedRecipients(n, [addr('u@x.example'), addr('alice@far.example')])
  assert.deepEqual(rcpts, [
    { key: 'u@x.example', address: 'u@x.example' },
    { key: 'postmaster@x.example', address: 'Postmaster@x.example', redirected: 'delivered' },
  ])
  const queued = acceptanceWrite(n, rcpts, { kind: 'queued' }, ctx)
  assert.equal(queued.recipients[0]?.event, undefined, 'u is queued')
  const pm = queued.recipients[1]
  assert.equal(pm?.base.orcpt, 'rfc822;PM@x.example')
  assert.deepEqual(
    [pm?.event?.patch.action, pm?.event?.patch.status, pm?.event?.patch.willRetryUntil, pm?.base.remoteMta],
    ['delivered', '2.5.0', null, null],
  )
  const refused = acceptanceWrite(
    n,
    rcpts,
    { kind: 'refused', temporary: true, code: 451, reply: 'later' },
    ctx,
  )
  assert.deepEqual(
    refused.recipients.map((r) => r.event?.patch.action),
    ['delayed', 'delayed'],
    'a refused message was delivered nowhere',
  )
})
