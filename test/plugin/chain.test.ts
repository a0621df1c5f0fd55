// The chaining gateway (MTQP-30..33, AMB-25) over a fake transport: what is asked, with which TLS policy, what is
// appended, what is disguised, and what happens at the deadline.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { QuerierOptions } from '../../src/client/querier'
import type { Querier } from '../../src/client/types'
import { createChainer } from '../../src/plugin/chain'
import { answered, fakeNetwork, part, REQUEST, rcpt } from '../client/fixtures'

const OWN = [
  part('mx.a.test', [
    rcpt('alice@b.test', 'transferred', 'mx.b.test'),
    rcpt('carol@c.test', 'relayed', 'mx.legacy.test'),
  ]),
]
const B_PART = part('mx.b.test', [rcpt('alice@b.test', 'transferred', 'mx.inner.b.test')], 1)
const INNER_PART = part('mx.inner.b.test', [rcpt('alice@b.test', 'delivered')], 2)

function chainer(query: Querier, over: Partial<Parameters<typeof createChainer>[0]> = {}) {
  const logs: string[] = []
  const seen: QuerierOptions[] = []
  const chain = createChainer({
    reportingMta: 'mx.a.test',
    timeoutMs: 2000,
    maxHops: 5,
    publicName: null,
    log: { info: (m) => logs.push(m), warn: (m) => logs.push(m) },
    querier: (opts) => {
      seen.push(opts)
      return query
    },
    ...over,
  })
  return { chain, logs, seen }
}

const ask = { envid: REQUEST.envid, secret: REQUEST.secret, parts: OWN, tls: false }

test('MTQP-30 / MTQP-33: the next hops are asked and their reports follow ours, one part per reporting MTA', async () => {
  const net = fakeNetwork({
    'mx.b.test': answered('b', B_PART),
    'mx.inner.b.test': answered('inner', INNER_PART),
  })
  const { chain } = chainer(net.query)
  const parts = await chain(ask)
  assert.deepEqual(net.asked, ['mx.b.test', 'mx.inner.b.test'])
  assert.deepEqual(
    parts.map((p) => p.reportingMta.value),
    ['mx.a.test', 'mx.b.test', 'mx.inner.b.test'],
  )
})

test('MTQP-32: TLS to the next hop is required when the client used TLS, opportunistic otherwise', async () => {
  const net = fakeNetwork({
    'mx.b.test': answered('b', part('mx.b.test', [rcpt('alice@b.test', 'delivered')])),
  })
  const { chain, seen } = chainer(net.query)
  await chain({ ...ask, tls: true })
  await chain(ask)
  assert.deepEqual(
    seen.map((o) => [o.starttls, o.insecure ?? false]),
    [
      ['required', false],
      ['opportunistic', false],
    ],
  )
})

test('MTQP-31 / AMB-25: at the deadline the answer is our own report alone, and the queries are abandoned', async () => {
  let signal: AbortSignal | undefined
  const never: Querier = () => new Promise(() => {})
  const { chain, logs } = chainer(never, {
    timeoutMs: 100,
    querier: (opts) => {
      signal = opts.signal
      return never
    },
  })
  const started = Date.now()
  const parts = await chain(ask)
  assert.ok(Date.now() - started < 1000)
  assert.deepEqual(parts, OWN)
  assert.equal(signal?.aborted, true)
  assert.ok(logs.some((l) => /no answer within 100 ms; answering with this server's report$/m.test(l)))
})

test('MTQP-30: nothing to chain (no transferred recipient) asks nobody', async () => {
  const net = fakeNetwork({})
  const { chain } = chainer(net.query)
  const delivered = [part('mx.a.test', [rcpt('u@a.test', 'delivered')])]
  assert.deepEqual(await chain({ ...ask, parts: delivered }), delivered)
  assert.deepEqual(net.asked, [])
})

test('a hop that cannot be asked is left to the client: our part still names it, and the failure is logged', async () => {
  const net = fakeNetwork({})
  const { chain, logs } = chainer(net.query)
  assert.deepEqual(await chain(ask), OWN)
  assert.ok(logs.some((l) => /mx\.b\.test: cannot connect/.test(l)))
})

test('a downstream report that cannot be written back is left out, not the whole answer', async () => {
  const sloppy = part('mx.b.test', [rcpt('alice@b.test', 'delivered', undefined, { status: '2.1.9' })])
  const net = fakeNetwork({ 'mx.b.test': answered('b', sloppy) })
  const { chain, logs } = chainer(net.query)
  assert.deepEqual(await chain(ask), OWN)
  assert.ok(logs.some((l) => /report of mx\.b\.test left out: .*TSN-21/.test(l)))
})

test('MTQP-30 / RFC 3887 example #12: a public name replaces ours and every name learned by chaining', async () => {
  const net = fakeNetwork({
    'mx.b.test': answered('b', B_PART),
    'mx.inner.b.test': answered('inner', INNER_PART),
  })
  const { chain } = chainer(net.query, { publicName: 'gw.example.com' })
  const parts = await chain(ask)
  assert.deepEqual(
    parts.map((p) => [p.reportingMta.value, ...p.recipients.map((r) => r.remoteMta?.value ?? '-')]),
    [
      ['gw.example.com', 'gw.example.com', 'mx.legacy.test'],
      ['gw.example.com', 'gw.example.com'],
      ['gw.example.com', '-'],
    ],
  )
})

test('the hop cap counts the servers beyond the gateway', async () => {
  const net = fakeNetwork({
    'mx.b.test': answered('b', B_PART),
    'mx.inner.b.test': answered('inner', INNER_PART),
  })
  const { chain } = chainer(net.query, { maxHops: 1 })
  const parts = await chain(ask)
  assert.deepEqual(net.asked, ['mx.b.test'])
  assert.equal(parts.length, 2)
})
