// Finding a hop's tracking server (MTQPC-1, AMB-29, AMB-31): SRV ordering by RFC 2782, the address fallback, and
// the real resolver against a real local DNS server.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import fc from 'fast-check'
import {
  type DnsResolver,
  discoverServers,
  dnsServerResolver,
  endpointAddresses,
  orderSrvRecords,
  type SrvRecord,
} from '../../src/client/discovery'
import { type DnsServer, startDns } from '../helpers/dns'

const srv = (name: string, priority: number, weight: number, port = 1038): SrvRecord => ({
  name,
  port,
  priority,
  weight,
})

/** Returns the given values in turn, for RFC 2782's random draws. */
function draws(...values: number[]): () => number {
  let i = 0
  return () => values[i++ % values.length]!
}

function dnsError(code: string): Error {
  return Object.assign(new Error(code), { code })
}

function stub(
  records: Record<string, SrvRecord[] | string>,
  addresses: Record<string, string[]> = {},
): DnsResolver {
  return {
    async resolveSrv(name) {
      const r = records[name]
      if (r === undefined) throw dnsError('ENODATA')
      if (typeof r === 'string') throw dnsError(r)
      return r
    },
    async resolveAddresses(host) {
      const a = addresses[host]
      if (a === undefined) throw dnsError('ENOTFOUND')
      return a
    },
  }
}

test('MTQPC-1 / RFC 2782: lower priority first; within a priority the running weight sum picks', () => {
  // Integer draws are floor(random * (sum + 1)); running sums below are 10, 40 (then 30 alone).
  const cases: Array<[string, SrvRecord[], number[], string[]]> = [
    ['priority alone orders', [srv('b', 20, 0), srv('a', 10, 0)], [0], ['a', 'b']],
    [
      'draw 0.2 of 40 is 8: the weight-10 record',
      [srv('w10', 1, 10), srv('w30', 1, 30)],
      [0.2, 0],
      ['w10', 'w30'],
    ],
    [
      'draw 0.5 of 40 is 20: the weight-30 record',
      [srv('w10', 1, 10), srv('w30', 1, 30)],
      [0.5, 0],
      ['w30', 'w10'],
    ],
    [
      'draw 0 takes a weight-0 record, placed first',
      [srv('w5', 1, 5), srv('w0', 1, 0)],
      [0, 0],
      ['w0', 'w5'],
    ],
    ['any positive draw skips weight 0', [srv('w5', 1, 5), srv('w0', 1, 0)], [0.99, 0], ['w5', 'w0']],
    [
      'each priority is ordered on its own',
      [srv('p2a', 2, 1), srv('p1a', 1, 1), srv('p2b', 2, 1), srv('p1b', 1, 1)],
      [0.9, 0, 0.9, 0],
      ['p1b', 'p1a', 'p2b', 'p2a'],
    ],
  ]
  for (const [what, records, random, want] of cases) {
    assert.deepEqual(
      orderSrvRecords(records, draws(...random)).map((r) => r.name),
      want,
      what,
    )
  }
})

const arbSrv = fc.record({
  name: fc.stringMatching(/^[a-z]{1,8}\.test$/),
  port: fc.integer({ min: 1, max: 65535 }),
  priority: fc.integer({ min: 0, max: 5 }),
  weight: fc.integer({ min: 0, max: 100 }),
})

test('property / RFC 2782: the order is a permutation with priorities never decreasing, whatever the draws', () => {
  fc.assert(
    fc.property(
      fc.array(arbSrv, { maxLength: 12 }),
      fc.array(fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), { minLength: 1 }),
      (records, random) => {
        const out = orderSrvRecords(records, draws(...random))
        assert.equal(out.length, records.length)
        assert.deepEqual([...out].sort(compare), [...records].sort(compare))
        for (let i = 1; i < out.length; i++) assert.ok(out[i - 1]!.priority <= out[i]!.priority)
      },
    ),
  )
})

test('property / RFC 2782: a record is picked first with probability weight / total (exact over all draws)', () => {
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 1, max: 20 }), { minLength: 1, maxLength: 5 }), (weights) => {
      const records = weights.map((w, i) => srv(`r${i}`, 0, w))
      const sum = weights.reduce((a, b) => a + b, 0)
      const firsts = new Map<string, number>()
      // Every integer draw 0..sum once: the random value that floors to it.
      for (let d = 0; d <= sum; d++) {
        const first = orderSrvRecords(records, draws((d + 0.5) / (sum + 1), 0))[0]!.name
        firsts.set(first, (firsts.get(first) ?? 0) + 1)
      }
      // Draw 0 also lands on the first record; all other draws follow the weights exactly.
      for (const [i, w] of weights.entries()) assert.equal(firsts.get(`r${i}`) ?? 0, w + (i === 0 ? 1 : 0))
    }),
  )
})

function compare(a: SrvRecord, b: SrvRecord): number {
  return JSON.stringify(a) < JSON.stringify(b) ? -1 : 1
}

test('AMB-31 / URI-1: a server from a URI is used directly, on its port or 1038, without DNS', async () => {
  const resolver = stub({})
  assert.deepEqual(await discoverServers({ kind: 'server', host: 'mtqp.example.net' }, resolver), {
    ok: true,
    value: [{ host: 'mtqp.example.net', port: 1038, via: 'direct' }],
  })
  assert.deepEqual(
    await discoverServers({ kind: 'server', host: '192.0.2.1', port: 4000, tlsName: 'm.example' }, resolver),
    {
      ok: true,
      value: [{ host: '192.0.2.1', port: 4000, via: 'direct', tlsName: 'm.example' }],
    },
  )
})

test('MTQPC-1 / AMB-29: a mail host is looked up as SRV _mtqp._tcp.<host>, in RFC 2782 order', async () => {
  const resolver = stub({
    '_mtqp._tcp.mx.b.test': [srv('t2.b.test.', 20, 0, 4002), srv('t1.b.test', 10, 0, 4001)],
  })
  const r = await discoverServers({ kind: 'mta', host: 'mx.b.test' }, resolver, () => 0)
  assert.deepEqual(r, {
    ok: true,
    value: [
      { host: 't1.b.test', port: 4001, via: 'srv', srvName: '_mtqp._tcp.mx.b.test' },
      { host: 't2.b.test', port: 4002, via: 'srv', srvName: '_mtqp._tcp.mx.b.test' },
    ],
  })
})

test('MTQPC-1: no SRV record (NODATA or NXDOMAIN) falls back to the host itself on 1038', async () => {
  for (const code of ['ENODATA', 'ENOTFOUND']) {
    const r = await discoverServers(
      { kind: 'mta', host: 'mx.c.test' },
      stub({ '_mtqp._tcp.mx.c.test': code }),
    )
    assert.deepEqual(r, { ok: true, value: [{ host: 'mx.c.test', port: 1038, via: 'address' }] }, code)
  }
})

test('RFC 2782: a lone "." target means no tracking service; "." among others is ignored', async () => {
  const none = await discoverServers(
    { kind: 'mta', host: 'mx.n.test' },
    stub({ '_mtqp._tcp.mx.n.test': [srv('', 0, 0, 1)] }),
  )
  assert.ok(!none.ok)
  assert.equal(none.error.failure, 'no-service')
  const mixed = await discoverServers(
    { kind: 'mta', host: 'mx.m.test' },
    stub({ '_mtqp._tcp.mx.m.test': [srv('.', 0, 0, 1), srv('t.m.test', 5, 0)] }),
  )
  assert.ok(mixed.ok)
  assert.deepEqual(
    mixed.value.map((e) => e.host),
    ['t.m.test'],
  )
})

test('MTQPC-1: any other DNS failure is reported, not guessed around', async () => {
  const r = await discoverServers(
    { kind: 'mta', host: 'mx.s.test' },
    stub({ '_mtqp._tcp.mx.s.test': 'ESERVFAIL' }),
  )
  assert.deepEqual(r, {
    ok: false,
    error: { failure: 'dns', reason: 'DNS look-up of _mtqp._tcp.mx.s.test failed (ESERVFAIL)' },
  })
})

test('endpoint addresses: IP literals as they are, names through the resolver', async () => {
  const resolver = stub({}, { 'mx.a.test': ['192.0.2.1', '2001:db8::1'] })
  assert.deepEqual(await endpointAddresses('::1', resolver), { ok: true, value: ['::1'] })
  assert.deepEqual(await endpointAddresses('mx.a.test', resolver), {
    ok: true,
    value: ['192.0.2.1', '2001:db8::1'],
  })
  assert.deepEqual(await endpointAddresses('gone.test', resolver), {
    ok: false,
    error: 'gone.test has no address (ENOTFOUND)',
  })
})

describe('a real DNS server (dnsmasq) through dnsServerResolver', () => {
  let dns: DnsServer
  before(async () => {
    dns = await startDns({
      zones: ['test'],
      srv: [
        { name: '_mtqp._tcp.mx.b.test', target: 'mtqp1.b.test', port: 4001, priority: 10, weight: 5 },
        { name: '_mtqp._tcp.mx.b.test', target: 'mtqp2.b.test', port: 4002, priority: 20 },
        { name: '_mtqp._tcp.mx.n.test' },
      ],
    })
  })
  after(() => dns.stop())

  test('MTQPC-1: SRV records in priority order, NODATA falls back to the host, "." is no service', async () => {
    const resolver = dnsServerResolver([dns.address])
    const b = await discoverServers({ kind: 'mta', host: 'mx.b.test' }, resolver)
    assert.ok(b.ok)
    assert.deepEqual(
      b.value.map((e) => `${e.host}:${e.port}`),
      ['mtqp1.b.test:4001', 'mtqp2.b.test:4002'],
    )
    assert.deepEqual(await discoverServers({ kind: 'mta', host: 'mx.c.test' }, resolver), {
      ok: true,
      value: [{ host: 'mx.c.test', port: 1038, via: 'address' }],
    })
    const n = await discoverServers({ kind: 'mta', host: 'mx.n.test' }, resolver)
    assert.equal(n.ok ? 'found' : n.error.failure, 'no-service')
    assert.deepEqual(await endpointAddresses('mtqp1.b.test', resolver), { ok: true, value: ['127.0.0.1'] })
  })
})
