// The timeline model: one path per recipient across hops, its state and where tracking stops (MTQPC-6).
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { followReferrals, type Hop, hostKey } from '../../src/client/follow'
import {
  buildTimelines,
  overallState,
  type RecipientState,
  type RecipientTimeline,
} from '../../src/client/timeline'
import { parseTrackingBody } from '../../src/tsn/reader'
import type { TrackingStatus } from '../../src/tsn/types'
import { answered, failed, fakeNetwork, part, REQUEST, rcpt } from './fixtures'

const FIRST = { kind: 'server', host: 'mtqp.a.test' } as const

async function timelines(
  table: Parameters<typeof fakeNetwork>[0],
  maxHops?: number,
): Promise<RecipientTimeline[]> {
  const net = fakeNetwork(table, 1)
  return buildTimelines(await followReferrals(FIRST, { request: REQUEST, query: net.query, maxHops }))
}

/** `recipient: reporter action > reporter action ... => state` */
function shape(t: RecipientTimeline): string {
  return `${t.recipient.value}: ${t.steps.map((s) => `${s.reportingMta.value} ${s.action}`).join(' > ')} => ${t.state}`
}

test('MTQPC-6: a timeline per recipient across hops, each step with its status meaning', async () => {
  const ts = await timelines({
    'mtqp.a.test': answered(
      'a.test',
      part('mx.a.test', [
        rcpt('alice@b.test', 'transferred', 'mx.b.test'),
        rcpt('carol@c.test', 'transferred', 'mx.c.test'),
      ]),
    ),
    'mx.b.test': answered('b.test', part('mx.b.test', [rcpt('alice@b.test', 'delivered')], 2)),
    'mx.c.test': answered(
      'c.test',
      part('mx.c.test', [rcpt('carol@c.test', 'relayed', 'mx.legacy.test')], 3),
    ),
  })
  assert.deepEqual(ts.map(shape), [
    'alice@b.test: mx.a.test transferred > mx.b.test delivered => delivered',
    'carol@c.test: mx.a.test transferred > mx.c.test relayed => relayed',
  ])
  const carol = ts[1]!
  assert.equal(carol.steps[1]?.statusText, 'Success: message relayed to non-compliant mailer')
  assert.deepEqual(carol.steps[1]?.remoteMta, { type: 'dns', value: 'mx.legacy.test' })
  assert.equal(carol.steps[1]?.hop, 2)
  assert.match(
    carol.end,
    /mx\.c\.test relayed the message to mx\.legacy\.test, which does not support tracking \(2\.1\.9/,
  )
  assert.equal(ts[0]?.end, 'mx.b.test delivered the message to alice@b.test')
})

test('RFC 3886 §3.3.3: every final action ends the timeline with its state and reason (table)', async () => {
  const cases: Array<[Parameters<typeof rcpt>[1], RecipientState, RegExp]> = [
    ['delivered', 'delivered', /delivered the message to u@x\.test/],
    ['expanded', 'delivered', /list or alias .*tracking stops there/],
    ['relayed', 'relayed', /does not support tracking \(2\.1\.9/],
    [
      'delayed',
      'in-transit',
      /queued at mx\.a\.test, which keeps trying \(4\.4\.1 Persistent transient failure: no answer from host\)/,
    ],
    ['failed', 'failed', /mx\.a\.test gave up: 5\.2\.2 Permanent failure: mailbox full/],
    ['opaque', 'unknown', /does not disclose/],
  ]
  for (const [action, state, end] of cases) {
    const [t] = await timelines({
      'mtqp.a.test': answered('a.test', part('mx.a.test', [rcpt('u@x.test', action)])),
    })
    assert.equal(t?.state, state, action)
    assert.match(t?.end ?? '', end, action)
  }
})

test('MTQPC-6: where tracking stops when the next hop gives no report (partial results)', async () => {
  const ts = await timelines({
    'mtqp.a.test': answered(
      'a.test',
      part('mx.a.test', [
        rcpt('u1@x.test', 'transferred', 'mx.b.test'),
        rcpt('u2@x.test', 'transferred', 'mx.c.test'),
        rcpt('u3@x.test', 'transferred', 'mx.d.test'),
        rcpt('u4@x.test', 'transferred', 'mx.e.test'),
        rcpt('u5@x.test', 'transferred', 'mx.a.test2'),
      ]),
    ),
    'mx.c.test': failed('temporary', 'mtqp.c.test:1038 cannot answer now (-TEMP/unavailable)'),
    'mx.d.test': failed('noinfo', 'mtqp.d.test:1038 has no information about this message (-ERR/noinfo)'),
    'mx.e.test': answered('e.test', part('mx.e.test', [rcpt('someone-else@x.test', 'delivered')])),
    'mx.a.test2': answered('a.test', part('mx.a.test2', [rcpt('u5@x.test', 'transferred', 'mx.a.test')])),
  })
  const ends = Object.fromEntries(ts.map((t) => [t.recipient.value, `${t.state}: ${t.end}`]))
  assert.match(
    ends['u1@x.test']!,
    /^unknown: the tracking server of mx\.b\.test could not be asked: cannot connect to mx\.b\.test/,
  )
  assert.match(ends['u2@x.test']!, /^unknown: mx\.c\.test cannot answer now; try again later/)
  assert.match(ends['u3@x.test']!, /^unknown: mx\.d\.test has no information about this message/)
  assert.match(
    ends['u4@x.test']!,
    /^unknown: mx\.e\.test answered, but its report does not mention u4@x\.test/,
  )
  assert.match(ends['u5@x.test']!, /^unknown: the message came back to mx\.a\.test: a loop/)
  assert.equal(
    ends['someone-else@x.test'],
    'delivered: mx.e.test delivered the message to someone-else@x.test',
  )
})

test('MTQPC-6: a hop beyond the limit and a referral not followed are named as such', async () => {
  const [t] = await timelines(
    {
      'mtqp.a.test': answered('a', part('h1.test', [rcpt('u@z.test', 'transferred', 'h2.test')])),
      'h2.test': answered('b', part('h2.test', [rcpt('u@z.test', 'transferred', 'h3.test')])),
    },
    2,
  )
  assert.equal(t?.end, 'h3.test was not asked: the limit of 2 hops was reached')
})

test('MTQP-33: chained parts of one answer continue the timeline; their steps carry the same hop', async () => {
  const ts = await timelines({
    'mtqp.a.test': answered(
      'a.test',
      part('mx.a.test', [rcpt('alice@b.test', 'transferred', 'mx.b.test')]),
      part('mx.b.test', [rcpt('alice@b.test', 'transferred', 'mx.c.test')], 1),
      part('mx.c.test', [rcpt('alice@b.test', 'delivered')], 2),
    ),
  })
  assert.deepEqual(ts.map(shape), [
    'alice@b.test: mx.a.test transferred > mx.b.test transferred > mx.c.test delivered => delivered',
  ])
  assert.deepEqual(
    ts[0]?.steps.map((s) => s.hop),
    [0, 0, 0],
  )
})

test('an alias fanning out at the next hop (same ORCPT) forks the timeline', async () => {
  const ts = await timelines({
    'mtqp.a.test': answered('a.test', part('mx.a.test', [rcpt('team@b.test', 'transferred', 'mx.b.test')])),
    'mx.b.test': answered(
      'b.test',
      part('mx.b.test', [
        rcpt('ann@b.test', 'delivered', undefined, { original: 'team@b.test' }),
        rcpt('bob@b.test', 'failed', undefined, { original: 'team@b.test' }),
      ]),
    ),
  })
  assert.deepEqual(ts.map(shape), [
    'team@b.test: mx.a.test transferred > mx.b.test delivered => delivered',
    'team@b.test: mx.a.test transferred > mx.b.test failed => failed',
  ])
  assert.equal(overallState(ts), 'failed')
})

test('a next hop whose Reporting-MTA is not the name it was reached by still continues the timeline', async () => {
  const ts = await timelines({
    'mtqp.a.test': answered('a.test', part('mx.a.test', [rcpt('alice@b.test', 'transferred', 'mx.b.test')])),
    'mx.b.test': answered('b.test', part('relay7.internal.b.test', [rcpt('alice@b.test', 'delivered')])),
  })
  assert.deepEqual(ts.map(shape), [
    'alice@b.test: mx.a.test transferred > relay7.internal.b.test delivered => delivered',
  ])
})

function rfcExample(text: string): TrackingStatus[] {
  const parts = parseTrackingBody(text)
  assert.ok(parts.ok, parts.ok ? '' : parts.error)
  return parts.value
}

const EX_HEAD =
  'Content-Type: multipart/related; boundary=%%%%; type=tracking-status\n\n--%%%%\nContent-Type: message/tracking-status\n\n'
const EX_MSG = (mta: string) =>
  `Original-Envelope-Id: 12345-20010101@example.com\nReporting-MTA: dns; ${mta}\nArrival-Date: Mon,  1 Jan 2001 15:15:15 -0500\n`
const EX_USER1_RELAYED = (remote: string) =>
  `\nOriginal-Recipient: rfc822; user1@example1.com\nFinal-Recipient: rfc822; user1@example1.com\nAction: relayed\nStatus: 2.1.9\nRemote-MTA: dns; ${remote}\nLast-Attempt-Date: Mon, 1 Jan 2001 19:15:03 -0500\n`
const EX_USER2_DELIVERED = (final: string) =>
  `\nOriginal-Recipient: rfc822; user2@example1.com\nFinal-Recipient: rfc822; ${final}\nAction: delivered\nStatus:2.5.0\n`

test('RFC 3887 examples #10, #11, #12: gateway answers become one timeline per recipient', () => {
  const hop = (parts: TrackingStatus[]): Hop[] => [
    { id: 0, target: FIRST, parent: null, depth: 1, outcome: answered('example2.com', ...parts) },
  ]
  const ex10 = `${EX_HEAD}${EX_MSG('example2.com')}${EX_USER1_RELAYED('smtp.example3.com')}\n--%%%%\nContent-Type: message/tracking-status\n\n${EX_MSG('smtp.example3.com')}${EX_USER2_DELIVERED('user4@example3.com')}\n--%%%%--\n`
  const ex11 = `${EX_HEAD}${EX_MSG('example2.com')}${EX_USER1_RELAYED('smtp.example3.com')}${EX_USER2_DELIVERED('user4@example3.com')}\n--%%%%--\n`
  const ex12 = `${EX_HEAD}${EX_MSG('example2.com')}${EX_USER1_RELAYED('example2.com')}\n--%%%%\nContent-Type: message/tracking-status\n\n${EX_MSG('example2.com')}${EX_USER2_DELIVERED('user4@example1.com')}\n--%%%%--\n`
  for (const [name, text] of [
    ['#10', ex10],
    ['#11', ex11],
    ['#12', ex12],
  ] as const) {
    const ts = buildTimelines(hop(rfcExample(text)))
    assert.deepEqual(
      ts.map((t) => `${t.recipient.value} ${t.state}`),
      ['user1@example1.com relayed', 'user2@example1.com delivered'],
      name,
    )
  }
})

test('RFC 3887 example #12: transferred to its own (public) name ends the timeline with a clear reason', async () => {
  const [t] = await timelines({
    'mtqp.a.test': answered(
      'gw',
      part('gw.example.com', [rcpt('u@x.test', 'transferred', 'gw.example.com')]),
    ),
  })
  assert.equal(
    t?.end,
    'gw.example.com passed the message on inside its own network and does not name the next host',
  )
})

test('overall state: failed, then in transit, then unknown, then relayed, then delivered; none known is unknown', () => {
  const t = (state: RecipientState): RecipientTimeline => ({
    recipient: { type: 'rfc822', value: 'u@x' },
    steps: [],
    state,
    end: '',
  })
  const cases: Array<[RecipientState[], RecipientState]> = [
    [[], 'unknown'],
    [['delivered'], 'delivered'],
    [['delivered', 'relayed'], 'relayed'],
    [['relayed', 'unknown', 'delivered'], 'unknown'],
    [['unknown', 'in-transit'], 'in-transit'],
    [['in-transit', 'failed', 'delivered'], 'failed'],
  ]
  for (const [states, want] of cases) assert.equal(overallState(states.map(t)), want, states.join(','))
})

test('property: every recipient report appears in a timeline; consecutive steps follow Remote-MTA', async () => {
  const hosts = ['h0.test', 'h1.test', 'h2.test', 'h3.test']
  const arbRcpt = fc.record({
    user: fc.constantFrom('u1', 'u2', 'u3'),
    to: fc.option(fc.constantFrom(...hosts), { nil: undefined }),
    action: fc.constantFrom('delivered', 'relayed', 'failed', 'delayed') as fc.Arbitrary<
      'delivered' | 'relayed' | 'failed' | 'delayed'
    >,
  })
  await fc.assert(
    fc.asyncProperty(
      fc.array(fc.array(arbRcpt, { minLength: 1, maxLength: 3 }), {
        minLength: hosts.length,
        maxLength: hosts.length,
      }),
      async (graph) => {
        const table = Object.fromEntries(
          hosts.map((h, i) => [
            h,
            answered(
              h,
              part(
                h,
                graph[i]!.map((r) =>
                  r.to === undefined
                    ? rcpt(`${r.user}@z.test`, r.action)
                    : rcpt(`${r.user}@z.test`, 'transferred', r.to),
                ),
              ),
            ),
          ]),
        )
        const net = fakeNetwork(table, 0)
        const hops = await followReferrals(
          { kind: 'mta', host: 'h0.test' },
          { request: REQUEST, query: net.query },
        )
        const ts = buildTimelines(hops)
        const reported = hops.flatMap((h) =>
          h.outcome.kind === 'answered'
            ? h.outcome.parts.flatMap((p) =>
                p.recipients.map((r) => `${p.reportingMta.value} ${r.finalRecipient.value}`),
              )
            : [],
        )
        const shown = new Set(
          ts.flatMap((t) => t.steps.map((s) => `${s.reportingMta.value} ${s.finalRecipient.value}`)),
        )
        for (const r of reported) assert.ok(shown.has(r), r)
        for (const t of ts) {
          for (let i = 1; i < t.steps.length; i++) {
            const [prev, next] = [t.steps[i - 1]!, t.steps[i]!]
            assert.equal(prev.action, 'transferred')
            assert.equal(hostKey(prev.remoteMta?.value ?? ''), hostKey(next.reportingMta.value))
          }
          const last = t.steps.at(-1)!
          if (last.action === 'transferred') assert.equal(t.state, 'unknown')
          assert.ok(t.end.length > 0)
        }
      },
    ),
    { numRuns: 80 },
  )
})

test('AMB-40: a step carries the Diagnostic-Code the reporting MTA gave, so `mtqp track` can say why', async () => {
  const p = part('mx.a.test', [rcpt('bob@b.test', 'failed', 'mx.b.test')])
  p.recipients[0]!.extensions = [{ name: 'diagnostic-code', value: 'smtp; 550 5.1.1 No such user' }]
  const [t] = await timelines({ 'mtqp.a.test': answered('a.test', p) })
  assert.equal(t?.steps[0]?.diagnostic, 'smtp; 550 5.1.1 No such user')
})
