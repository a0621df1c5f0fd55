// Following referrals (MTQPC-6) over a fake transport: which servers are asked, in which order, how often, and
// what is recorded when a hop is not asked.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { followFrom, followReferrals, type Hop, referrals } from '../../src/client/follow'
import { answered, failed, fakeNetwork, part, REQUEST, rcpt } from './fixtures'

const FIRST = { kind: 'server', host: 'mtqp.a.test', port: 4000 } as const

function summary(hops: Hop[]): string[] {
  return hops.map((h) => {
    const o = h.outcome
    const what = o.kind === 'answered' ? 'answered' : o.kind === 'failed' ? o.failure : o.why
    return `${h.id}<${h.parent ?? '-'} d${h.depth} ${h.target.host} ${what}`
  })
}

test('MTQPC-6: a transferred recipient sends the same TRACK to the Remote-MTA, found as a mail host', async () => {
  const net = fakeNetwork({
    'mtqp.a.test': answered('a.test', part('mx.a.test', [rcpt('alice@b.test', 'transferred', 'mx.b.test')])),
    'mx.b.test': answered('b.test', part('mx.b.test', [rcpt('alice@b.test', 'delivered')], 1)),
  })
  const hops = await followReferrals(FIRST, { request: REQUEST, query: net.query })
  assert.deepEqual(summary(hops), ['0<- d1 mtqp.a.test answered', '1<0 d2 mx.b.test answered'])
  assert.deepEqual(hops[1]?.target, { kind: 'mta', host: 'mx.b.test' }, 'AMB-29: SRV, then the host')
})

test('MTQPC-6 / MTQP-33: a referral covered by a chained part of the same answer is not asked again', async () => {
  const net = fakeNetwork({
    'mtqp.a.test': answered(
      'a.test',
      part('mx.a.test', [rcpt('alice@b.test', 'transferred', 'mx.b.test')]),
      part('MX.B.TEST', [rcpt('alice@b.test', 'delivered')], 1),
    ),
  })
  const hops = await followReferrals(FIRST, { request: REQUEST, query: net.query })
  assert.deepEqual(net.asked, ['mtqp.a.test'])
  assert.equal(hops.length, 1)
})

test('MTQPC-6: independent branches are asked in parallel, numbered in the order they were found', async () => {
  const net = fakeNetwork(
    {
      'mtqp.a.test': answered(
        'a.test',
        part('mx.a.test', [
          rcpt('alice@b.test', 'transferred', 'mx.b.test'),
          rcpt('carol@c.test', 'transferred', 'mx.c.test'),
        ]),
      ),
      'mx.b.test': answered('b.test', part('mx.b.test', [rcpt('alice@b.test', 'delivered')])),
      'mx.c.test': answered('c.test', part('mx.c.test', [rcpt('carol@c.test', 'relayed', 'mx.legacy.test')])),
    },
    30,
  )
  const hops = await followReferrals(FIRST, { request: REQUEST, query: net.query })
  assert.equal(net.maxInFlight, 2, 'mx.b.test and mx.c.test were asked at the same time')
  assert.deepEqual(summary(hops), [
    '0<- d1 mtqp.a.test answered',
    '1<0 d2 mx.b.test answered',
    '2<0 d2 mx.c.test answered',
  ])
})

test('MTQPC-6: branches that meet ask the shared host once', async () => {
  const net = fakeNetwork({
    'mtqp.a.test': answered(
      'a.test',
      part('mx.a.test', [
        rcpt('u1@d.test', 'transferred', 'mx.b.test'),
        rcpt('u2@d.test', 'transferred', 'mx.c.test'),
      ]),
    ),
    'mx.b.test': answered('b.test', part('mx.b.test', [rcpt('u1@d.test', 'transferred', 'mx.d.test')])),
    'mx.c.test': answered('c.test', part('mx.c.test', [rcpt('u2@d.test', 'transferred', 'mx.d.test')])),
    'mx.d.test': answered(
      'd.test',
      part('mx.d.test', [rcpt('u1@d.test', 'delivered'), rcpt('u2@d.test', 'delivered')]),
    ),
  })
  await followReferrals(FIRST, { request: REQUEST, query: net.query })
  assert.deepEqual(net.asked.filter((h) => h === 'mx.d.test').length, 1)
})

test('MTQPC-6 [impl]: a loop back to an MTA already on the path is recorded and not asked', async () => {
  const net = fakeNetwork({
    'mtqp.a.test': answered('a.test', part('mx.a.test', [rcpt('alice@b.test', 'transferred', 'mx.b.test')])),
    'mx.b.test': answered('b.test', part('mx.b.test', [rcpt('alice@b.test', 'transferred', 'mx.a.test')])),
  })
  const hops = await followReferrals(FIRST, { request: REQUEST, query: net.query })
  assert.deepEqual(net.asked, ['mtqp.a.test', 'mx.b.test'])
  assert.deepEqual(summary(hops), [
    '0<- d1 mtqp.a.test answered',
    '1<0 d2 mx.b.test answered',
    '2<1 d3 mx.a.test loop',
  ])
})

test('MTQPC-6 [impl]: at most maxHops servers along one path; the next is recorded as not asked', async () => {
  const chain: Record<string, ReturnType<typeof answered>> = {
    'mtqp.a.test': answered('a', part('h1.test', [rcpt('u@z.test', 'transferred', 'h2.test')])),
  }
  for (let i = 2; i <= 6; i++)
    chain[`h${i}.test`] = answered(
      `h${i}`,
      part(`h${i}.test`, [rcpt('u@z.test', 'transferred', `h${i + 1}.test`)]),
    )
  const net = fakeNetwork(chain, 1)
  const hops = await followReferrals(FIRST, { request: REQUEST, query: net.query, maxHops: 3 })
  assert.deepEqual(net.asked, ['mtqp.a.test', 'h2.test', 'h3.test'])
  const last = hops.at(-1)
  assert.equal(last?.outcome.kind === 'skipped' && last.outcome.why, 'hop-limit')
  assert.equal(last?.target.host, 'h4.test')
})

test('following off: only the first server is asked; the referrals are recorded as not followed', async () => {
  const net = fakeNetwork({
    'mtqp.a.test': answered('a.test', part('mx.a.test', [rcpt('alice@b.test', 'transferred', 'mx.b.test')])),
  })
  const hops = await followReferrals(FIRST, { request: REQUEST, query: net.query, follow: false })
  assert.deepEqual(summary(hops), ['0<- d1 mtqp.a.test answered', '1<0 d2 mx.b.test not-followed'])
})

test('partial results: unreachable, -TEMP and -ERR/noinfo hops are recorded and the other branches go on', async () => {
  const net = fakeNetwork({
    'mtqp.a.test': answered(
      'a.test',
      part('mx.a.test', [
        rcpt('u1@b.test', 'transferred', 'mx.b.test'),
        rcpt('u2@c.test', 'transferred', 'mx.c.test'),
        rcpt('u3@d.test', 'transferred', 'mx.d.test'),
        rcpt('u4@e.test', 'transferred', 'mx.e.test'),
      ]),
    ),
    'mx.c.test': failed('temporary', 'mtqp.c.test:1038 cannot answer now (-TEMP/unavailable)'),
    'mx.d.test': failed('noinfo', 'mtqp.d.test:1038 has no information about this message (-ERR/noinfo)'),
    'mx.e.test': answered('e.test', part('mx.e.test', [rcpt('u4@e.test', 'delivered')])),
  })
  const hops = await followReferrals(FIRST, { request: REQUEST, query: net.query })
  assert.deepEqual(summary(hops).slice(1), [
    '1<0 d2 mx.b.test unreachable',
    '2<0 d2 mx.c.test temporary',
    '3<0 d2 mx.d.test noinfo',
    '4<0 d2 mx.e.test answered',
  ])
})

test('RFC 3887 example #12: a recipient transferred to the reporting MTA itself (names hidden) is not asked', () => {
  assert.deepEqual(
    referrals([part('gw.example.com', [rcpt('u@x.test', 'transferred', 'gw.example.com')])]),
    [],
  )
  assert.deepEqual(
    referrals([
      part('mx.a.test', [
        rcpt('u@x.test', 'transferred', 'mx.b.test'),
        rcpt('v@x.test', 'transferred', 'MX.B.TEST'),
      ]),
    ]),
    ['mx.b.test'],
    'one query per host, case-insensitively',
  )
})

test('MTQP-30: followFrom starts from answers in hand (a chaining server) and asks only the referrals', async () => {
  const net = fakeNetwork({
    'mx.b.test': answered('b.test', part('mx.b.test', [rcpt('alice@b.test', 'delivered')])),
  })
  const own = [part('mx.a.test', [rcpt('alice@b.test', 'transferred', 'mx.b.test')])]
  const hops = await followFrom('mx.a.test', own, { request: REQUEST, query: net.query })
  assert.deepEqual(net.asked, ['mx.b.test'])
  assert.equal(hops[0]?.outcome.kind === 'answered' && hops[0].outcome.server.via, 'local')
})

test('property: each host asked at most once, every asked host was referred to, no path longer than maxHops', async () => {
  const hosts = ['h0.test', 'h1.test', 'h2.test', 'h3.test', 'h4.test', 'h5.test']
  const arbAnswer = fc.array(fc.option(fc.constantFrom(...hosts), { nil: undefined }), {
    minLength: 1,
    maxLength: 3,
  })
  await fc.assert(
    fc.asyncProperty(
      fc.array(arbAnswer, { minLength: hosts.length, maxLength: hosts.length }),
      fc.integer({ min: 1, max: 6 }),
      async (graph, maxHops) => {
        const table = Object.fromEntries(
          hosts.map((h, i) => [
            h,
            answered(
              h,
              part(
                h,
                graph[i]!.map((to, j) =>
                  to === undefined
                    ? rcpt(`u${j}@z.test`, 'delivered')
                    : rcpt(`u${j}@z.test`, 'transferred', to),
                ),
              ),
            ),
          ]),
        )
        const net = fakeNetwork(table, 0)
        const hops = await followReferrals(
          { kind: 'mta', host: 'h0.test' },
          { request: REQUEST, query: net.query, maxHops },
        )
        assert.equal(new Set(net.asked).size, net.asked.length)
        for (const hop of hops) {
          assert.ok(hop.depth <= maxHops + 1)
          if (hop.outcome.kind === 'answered') assert.ok(hop.depth <= maxHops)
          assert.ok(
            !(hop.outcome.kind === 'failed' && hop.outcome.failure === 'aborted'),
            'every query finished',
          )
          if (hop.parent !== null) {
            const parent = hops[hop.parent]!
            assert.ok(
              parent.outcome.kind === 'answered' && referrals(parent.outcome.parts).includes(hop.target.host),
            )
          }
        }
      },
    ),
    { numRuns: 60 },
  )
})

test('progress: every hop is heard when asked and when settled, skipped hops once, in the order it happened', async () => {
  const net = fakeNetwork({
    'mtqp.a.test': answered('a.test', part('mx.a.test', [rcpt('alice@b.test', 'transferred', 'mx.b.test')])),
    'mx.b.test': answered('b.test', part('mx.b.test', [rcpt('alice@b.test', 'transferred', 'mx.c.test')])),
  })
  const heard: string[] = []
  const hops = await followReferrals(FIRST, {
    request: REQUEST,
    query: net.query,
    maxHops: 2,
    progress: ({ phase, hop }) => heard.push(`${phase} ${hop.id} ${hop.target.host} ${hop.outcome.kind}`),
  })
  assert.deepEqual(heard, [
    // While a hop is being asked its outcome is the placeholder a caller giving up would keep.
    'asking 0 mtqp.a.test failed',
    'done 0 mtqp.a.test answered',
    'asking 1 mx.b.test failed',
    'done 1 mx.b.test answered',
    'done 2 mx.c.test skipped',
  ])
  assert.equal(hops.length, 3)
})
