// The failed-TRACK budget on a real redis-server: limits per client and in all, reservations given back, windows
// that expire by themselves, and a Redis that cannot answer.
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { Redis } from 'ioredis'
import { parseConfig } from '../../src/config/config'
import { LineDecoder } from '../../src/mtqp/framing'
import { MtqpSession } from '../../src/server/session'
import { FailedTrackBudget, type FailedTrackLimits } from '../../src/store/failed-track-budget'
import { createRedisClient, type RedisClient } from '../../src/store/redis'
import { freePort, waitFor } from '../helpers/ports'
import { monitorRedis, sharedRedisPort } from '../helpers/redis'
import { message, recipient } from './fixtures'

let port: number
const clients: RedisClient[] = []
let n = 0

/** A client; commands fail until it is ready (no offline queue), so tests on a live Redis wait for that. */
function redis(p = port): RedisClient {
  const { config } = parseConfig({ redis: { port: p, connect_timeout: 200, command_timeout: 300 } })
  const c = createRedisClient(config.redis, 'mtrk-budget-test')
  c.on('error', () => {})
  clients.push(c)
  return c
}

async function ready(c: RedisClient = redis()): Promise<RedisClient> {
  await waitFor(() => c.status === 'ready', 5000, 'Redis client ready')
  return c
}

function budget(limits: Partial<FailedTrackLimits>, client = redis()): FailedTrackBudget {
  return new FailedTrackBudget(client, {
    prefix: `b${process.pid}-${n++}:`,
    perClient: 3,
    windowMs: 3600_000,
    perMinute: 0,
    ...limits,
  })
}

async function reserveTimes(b: FailedTrackBudget, client: string, times: number): Promise<boolean[]> {
  return Promise.all(Array.from({ length: times }, () => b.reserve(client)))
}

before(async () => {
  port = await sharedRedisPort()
})
after(() => {
  for (const c of clients) c.disconnect()
})

test('MTQP-29: concurrent reservations never overrun a client budget; other clients are not affected', async () => {
  const b = budget({ perClient: 3 }, await ready())
  const got = await reserveTimes(b, '192.0.2.1', 10)
  assert.equal(got.filter(Boolean).length, 3)
  assert.equal(await b.reserve('192.0.2.2'), true)
})

test('a second process (another node) draws on the same budget', async () => {
  const a = budget({ perClient: 4 }, await ready())
  const prefix = a.clientKey('x').split('{')[0]!
  const other = new FailedTrackBudget(await ready(), {
    prefix,
    perClient: 4,
    windowMs: 3600_000,
    perMinute: 0,
  })
  assert.deepEqual(await reserveTimes(a, '192.0.2.1', 2), [true, true])
  assert.deepEqual(await reserveTimes(other, '192.0.2.1', 3), [true, true, false])
  assert.equal(await a.reserve('192.0.2.1'), false)
})

test('the global ceiling holds across clients, and nothing is counted for a refused reservation', async () => {
  const c = await ready()
  const b = budget({ perClient: 5, perMinute: 4 }, c)
  const got = await Promise.all(['a', 'b', 'c', 'd', 'e', 'f'].map((x) => b.reserve(x)))
  assert.equal(got.filter(Boolean).length, 4)
  assert.equal(await c.get(b.globalKey), '4')
  const pttl = await c.pttl(b.globalKey)
  assert.ok(pttl > 0 && pttl <= 60000, `the minute expires by itself (${pttl})`)
})

test('release gives a reservation back, and never below zero', async () => {
  const c = await ready()
  const b = budget({ perClient: 2, perMinute: 10 }, c)
  assert.deepEqual(await reserveTimes(b, 'r', 2), [true, true])
  b.release('r')
  await waitFor(async () => (await c.get(b.clientKey('r'))) === '1', 5000, 'released')
  assert.equal(await b.reserve('r'), true)
  assert.equal(await b.reserve('r'), false)
  for (let i = 0; i < 5; i++) b.release('r')
  await waitFor(async () => (await c.get(b.clientKey('r'))) === '0', 5000, 'floored at 0')
  assert.equal(await c.get(b.globalKey), '0')
})

test("scopes: a page counts the person's address only, a proxy the global ceiling only; each releases its own", async () => {
  const c = await ready()
  const b = budget({ perClient: 2, perMinute: 3 }, c)
  const count = async () => [await c.get(b.clientKey('p')), await c.get(b.globalKey)]
  assert.deepEqual(await Promise.all([1, 2, 3].map(() => b.reserve('p', 'client'))), [true, true, false])
  assert.deepEqual(await count(), ['2', null], 'the global counter untouched')
  assert.deepEqual(await Promise.all([1, 2, 3, 4].map(() => b.reserve('p', 'global'))), [
    true,
    true,
    true,
    false,
  ])
  assert.deepEqual(await count(), ['2', '3'], "the client's counter untouched, though spent")
  b.release('p', 'global')
  await waitFor(async () => (await count())[1] === '2', 5000, 'global released')
  assert.equal((await count())[0], '2', "a proxy's release leaves the client's counter alone")
  b.release('p', 'client')
  await waitFor(async () => (await count())[0] === '1', 5000, 'client released')
  assert.equal((await count())[1], '2', "a page's release leaves the global counter alone")
})

test('one event-loop turn, one script call: releases first, then every reservation in the order asked', async () => {
  const c = await ready()
  const b = budget({ perClient: 3, perMinute: 100 }, c)
  assert.deepEqual(await reserveTimes(b, 'o', 3), [true, true, true])
  const monitor = await monitorRedis((await ready()) as Redis)
  const calls: string[][] = []
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args.some((a) => a.startsWith(b.globalKey.split('{')[0]!)) && /^eval/i.test(args[0] ?? ''))
      calls.push(args)
  })
  // Asked after the reservations, the release still goes first: the spent budget has room for one of them.
  const reserved = Promise.all([b.reserve('o'), b.reserve('o'), b.reserve('p')])
  b.release('o')
  assert.deepEqual(await reserved, [true, false, true])
  b.release('p')
  await waitFor(
    async () => (await c.get(b.clientKey('p'))) === '0',
    5000,
    'a release alone, a few ms after its turn',
  )
  await waitFor(() => calls.length === 2, 5000, 'both calls seen')
  monitor.disconnect()
  assert.equal(calls.length, 2, 'one call for the turn with reservations, one for the lone release')
  assert.deepEqual(
    calls[0]!.slice(-20).filter((_, i) => i % 5 === 0),
    ['g', 'r', 'r', 'r'],
    'the release rides with the reservations, ahead of them',
  )
  assert.equal(await c.get(b.clientKey('o')), '3')
  assert.equal(await c.get(b.globalKey), '3', 'o: 3 - 1 + 1; p: + 1 - 1')
})

test('a release waits a few ms: a reservation of the same counters takes its place, others ride with it', async () => {
  const c = await ready()
  const b = budget({ perClient: 1, perMinute: 100 }, c)
  assert.deepEqual(await Promise.all([b.reserve('w'), b.reserve('x')]), [true, true])
  const monitor = await monitorRedis((await ready()) as Redis)
  const calls: string[][] = []
  monitor.on('monitor', (_time: string, args: string[]) => {
    if (args.some((a) => a.startsWith(b.globalKey.split('{')[0]!)) && /^eval/i.test(args[0] ?? ''))
      calls.push(args)
  })
  // The same client's next TRACK, a moment later: the release and the reservation net to nothing, no call.
  b.release('w')
  await new Promise((r) => setImmediate(r))
  assert.equal(await b.reserve('w'), true, 'the reservation given back serves the next one')
  // Another client's reservation, a moment after a release: one call, the release first.
  b.release('x')
  await new Promise((r) => setImmediate(r))
  assert.equal(await b.reserve('y'), true)
  await waitFor(() => calls.length === 1, 5000, 'the call seen')
  await new Promise((r) => setTimeout(r, 50))
  monitor.disconnect()
  assert.equal(calls.length, 1, 'one call: x given back and y reserved; nothing for w')
  assert.deepEqual(
    calls[0]!.slice(-10).filter((_, i) => i % 5 === 0),
    ['g', 'r'],
  )
  assert.deepEqual(
    [await c.get(b.clientKey('w')), await c.get(b.clientKey('x')), await c.get(b.clientKey('y'))],
    ['1', '0', '1'],
  )
  assert.equal(await c.get(b.globalKey), '2')
})

test('MTQP-29: right TRACKs on several connections of one address, one after another, never spend its budget', async () => {
  const c = await ready()
  const b = budget({ perClient: 2, perMinute: 600 }, c)
  const now = Date.now()
  const stored = {
    ...message({
      envid: 'tracking-id@example.com',
      envidXtext: 'tracking-id@example.com',
      certifier: '5BSvcWHJVUCJ9BBtbxeX7xSnNmY', // SHA-1 of the secret below (RFC 3885 §3)
      arrival: now - 60_000,
      retention: 864_000,
    }),
    recipients: [
      recipient({
        address: 'u@example.com',
        action: 'delivered',
        status: '2.5.0',
        keepUntil: now + 86_400_000,
      }),
    ],
  }
  const connection = () => {
    const replies: string[] = []
    const decoder = new LineDecoder()
    const session = new MtqpSession({
      config: parseConfig({}).config.mtqp,
      certificateNames: null,
      client: '192.0.2.9',
      store: { available: true, lookup: async (e) => [stored].filter((m) => m.envid === e) },
      budget: b.scoped('both'),
      now: () => Date.now(),
      monotonic: () => performance.now(),
      randomBytes: (k) => Buffer.alloc(k, 0xab),
      sleepUntil: (d) => new Promise((r) => setTimeout(r, Math.max(0, d - performance.now()))),
      log: { debug: () => {}, info: () => {}, warn: () => {} },
      output: (o) => {
        if (o.kind === 'write') replies.push(o.data.split('\r\n')[0]!)
      },
    })
    session.start()
    return {
      session,
      replies,
      track: async () => {
        session.receive(decoder.push(Buffer.from('TRACK <tracking-id@example.com> YWJjZGVmZ2gK\r\n')))
        await session.whenIdle()
      },
    }
  }
  const connections = [connection(), connection(), connection(), connection()]
  for (const k of connections) await k.track()
  for (const k of connections) await k.track()
  for (const k of connections) k.session.closed()
  assert.deepEqual(
    connections.map((k) => k.replies.slice(1)),
    connections.map(() => ['+OK+ Tracking information follows', '+OK+ Tracking information follows']),
    'a connection whose TRACK succeeded holds no reservation once it has nothing left to answer',
  )
  await waitFor(async () => (await c.get(b.clientKey('192.0.2.9'))) === '0', 5000, 'every reservation back')
})

test('a batch mixing scopes and limits counts each reservation against its own', async () => {
  const c = await ready()
  const b = budget({ perClient: 1, perMinute: 3 }, c)
  const stricter = b.withLimits({
    prefix: b.clientKey('x').split('{')[0]!,
    perClient: 0,
    windowMs: 1,
    perMinute: 2,
  })
  const got = await Promise.all([
    b.reserve('s', 'client'),
    b.reserve('s', 'client'),
    b.reserve('s', 'global'),
    stricter.reserve('t'),
    b.reserve('u'),
    stricter.reserve('v'),
  ])
  // client-only: 1 of 2; then the global counter: 1 (global scope), 2 (stricter, limit 2), 3 (both), stricter refused.
  assert.deepEqual(got, [true, false, true, true, true, false])
  assert.deepEqual(
    [await c.get(b.clientKey('s')), await c.get(b.clientKey('u')), await c.get(b.globalKey)],
    ['1', '1', '3'],
  )
})

test('Redis unreachable: every reservation of the batch rejects, a release does not throw', async () => {
  const b = budget({ perClient: 5 }, redis(await freePort()))
  b.release('z')
  const got = await Promise.allSettled([b.reserve('z'), b.reserve('y')])
  assert.deepEqual(
    got.map((r) => r.status),
    ['rejected', 'rejected'],
  )
})

test('a client window expires by itself: after it, the client has a fresh budget', async () => {
  const c = await ready()
  const b = budget({ perClient: 1, windowMs: 300 }, c)
  assert.equal(await b.reserve('w'), true)
  assert.equal(await b.reserve('w'), false)
  assert.ok((await c.pttl(b.clientKey('w'))) > 0, 'the key has a TTL')
  await waitFor(() => b.reserve('w'), 5000, 'a fresh window')
})

test('Cluster: both keys of one call hash to one slot', () => {
  const b = budget({})
  const tag = (k: string) => /\{([^}]+)\}/.exec(k)?.[1]
  assert.equal(tag(b.clientKey('2001:db8::/64')), 'failed-track')
  assert.equal(tag(b.globalKey), 'failed-track')
})

test('limits 0 and 0: no budget, no Redis needed', async () => {
  const b = budget({ perClient: 0, perMinute: 0 }, redis(await freePort()))
  assert.equal(await b.reserve('z'), true)
})

test('Redis unreachable: reserve rejects (the server then refuses the TRACK)', async () => {
  const b = budget({ perClient: 5 }, redis(await freePort()))
  await assert.rejects(b.reserve('z'))
})
