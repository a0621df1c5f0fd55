// The operator trace in a real Redis: writes, every search key, paging, the outcome filter, the summary counts,
// expiry of records with their index entries, and records and journaled writes of the object format before format 2.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { Redis } from 'ioredis'
import { parseConfig } from '../../src/config/config'
import type { RecipientWrite } from '../../src/model/records'
import { bucketOf, type TraceHeader, type TraceWrite, traceWrite } from '../../src/model/trace'
import { parseTraceQuery, type TraceQueryInput } from '../../src/model/trace-query'
import { OutageJournal } from '../../src/store/journal'
import { createRedisClient } from '../../src/store/redis'
import { TrackingStore } from '../../src/store/store'
import { openTrace } from '../../src/trace/index'
import type { Action } from '../../src/tsn/types'
import { waitFor } from '../helpers/ports'
import { sharedRedisPort } from '../helpers/redis'
import { message, recipient } from './fixtures'

let port: number
const stores: TrackingStore[] = []
let prefixN = 0

async function makeStore() {
  const { config } = parseConfig({ redis: { port } })
  const prefix = `tr${process.pid}-${prefixN++}:`
  const store = new TrackingStore(
    createRedisClient(config.redis, 'mtrk-trace-test'),
    { prefix, historyLimit: 5, journal: null },
    { info: () => {}, warn: () => {} },
  )
  stores.push(store)
  await waitFor(() => store.available, 5000, 'store ready')
  return { store, prefix }
}

before(async () => {
  port = await sharedRedisPort()
})
after(async () => {
  for (const s of stores) await s.close()
})

const T0 = Date.UTC(2026, 10, 30, 10, 0, 0)
const now = Date.now()

function header(over: Partial<TraceHeader> = {}): TraceHeader {
  return {
    txn: 'conn1.1',
    arrival: T0,
    from: 'Alice@Sender.example',
    messageId: 'm1@sender.example',
    envid: null,
    tracked: false,
    clientIp: '192.0.2.7',
    helo: 'client.sender.example',
    reportingMta: 'mx.test',
    ...over,
  }
}

function rcpt(address: string, over: Partial<RecipientWrite> = {}): RecipientWrite {
  return { key: address, base: recipient({ address, keepUntil: now + 600_000, updated: T0 }), ...over }
}

function write(h: Partial<TraceHeader>, rcpts: RecipientWrite[], queueIds: string[] = []): TraceWrite {
  return traceWrite(header(h), rcpts, queueIds, now)
}

const q = (input: TraceQueryInput) => {
  const r = parseTraceQuery(
    { since: '2026-11-29', until: '2026-12-01', ...input },
    { now, window: 86_400_000, kept: 365 * 86_400_000 },
  )
  assert.ok(r.ok, r.ok ? '' : r.error)
  return r.value
}

test('every search key finds its message and only it; addresses and domains compare caseless in ASCII', async () => {
  const { store } = await makeStore()
  await store.record(write({}, [rcpt('Bob@Dest.example'), rcpt('carol@other.example')]))
  await store.record(
    write(
      {
        txn: 'conn2.1',
        arrival: T0 + 60_000,
        from: '',
        messageId: null,
        envid: 'env-2@sender.example',
        tracked: true,
        clientIp: '2001:db8::2',
        helo: 'other.client',
      },
      [rcpt('dave@dest.example')],
      ['conn2.1.1'],
    ),
  )
  const txns = async (input: TraceQueryInput) =>
    (await store.trace.search(q(input))).messages.map((m) => m.txn)
  assert.deepEqual(await txns({}), ['conn2.1', 'conn1.1'], 'newest first')
  assert.deepEqual(await txns({ from: 'alice@sender.EXAMPLE' }), ['conn1.1'])
  assert.deepEqual(await txns({ from: '<>' }), ['conn2.1'], 'the null sender')
  assert.deepEqual(await txns({ fromDomain: 'sender.example' }), ['conn1.1'])
  assert.deepEqual(await txns({ to: 'bob@dest.example' }), ['conn1.1'])
  assert.deepEqual(await txns({ toDomain: 'DEST.example' }), ['conn2.1', 'conn1.1'])
  assert.deepEqual(await txns({ messageId: '<m1@sender.example>' }), ['conn1.1'])
  assert.deepEqual(await txns({ envid: 'env-2@sender.example' }), ['conn2.1'])
  assert.deepEqual(await txns({ queueId: 'conn2.1.1' }), ['conn2.1'])
  assert.deepEqual(await txns({ queueId: 'conn1.1' }), ['conn1.1'])
  assert.deepEqual(await txns({ ip: '2001:db8::2' }), ['conn2.1'])
  assert.deepEqual(await txns({ helo: 'Client.Sender.Example' }), ['conn1.1'])
  assert.deepEqual(await txns({ toDomain: 'dest.example', ip: '192.0.2.7' }), ['conn1.1'], 'keys combine')
  assert.deepEqual(await txns({ to: 'bob@dest.example', helo: 'other.client' }), [])
  assert.deepEqual(await txns({ to: 'nobody@dest.example' }), [])
  assert.deepEqual(await txns({ since: '2026-11-30T10:00:30Z' }), ['conn2.1'], 'the time range')

  const found = await store.trace.find('conn2.1.1', T0 - 86_400_000, T0 + 86_400_000)
  assert.equal(found?.envid, 'env-2@sender.example')
  assert.deepEqual(found?.queueIds, ['conn2.1', 'conn2.1.1'])
  const byTxn = await store.trace.find('conn1.1.3', T0 - 86_400_000, T0 + 86_400_000)
  assert.equal(byTxn?.txn, 'conn1.1', 'an hmail id not yet indexed leads to its transaction')
  assert.deepEqual(byTxn?.recipients.map((r) => r.address).sort(), [
    'Bob@Dest.example',
    'carol@other.example',
  ])
  assert.equal(await store.trace.find('NOPE.1', T0 - 86_400_000, T0 + 86_400_000), null)
})

test('trace records are not tracking records: the envid is unknown to the store MTQP reads', async () => {
  const { store } = await makeStore()
  await store.record(write({ envid: 'untracked@sender.example' }, [rcpt('bob@dest.example')]))
  assert.equal((await store.trace.search(q({ envid: 'untracked@sender.example' }))).messages.length, 1)
  assert.deepEqual(await store.lookup('untracked@sender.example'), [])
})

test('paging: bounded pages, newest first, no message twice or missed, ties on one millisecond included', async () => {
  const { store } = await makeStore()
  // 9 messages over three hour buckets; three share one arrival time.
  const arrivals = [0, 1, 1, 1, 3_600_000, 3_600_001, 7_200_000, 7_200_500, 7_300_000]
  for (const [i, at] of arrivals.entries())
    await store.record(write({ txn: `p${i}.1`, arrival: T0 + at }, [rcpt('pager@dest.example')]))
  const seen: string[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await store.trace.search(
      q({ to: 'pager@dest.example', limit: '4', ...(cursor ? { cursor } : {}) }),
    )
    assert.ok(page.messages.length <= 4)
    seen.push(...page.messages.map((m) => m.txn))
    cursor = page.next ?? undefined
    pages++
  } while (cursor && pages < 10)
  assert.equal(pages, 3)
  assert.deepEqual(seen, ['p8.1', 'p7.1', 'p6.1', 'p5.1', 'p4.1', 'p3.1', 'p2.1', 'p1.1', 'p0.1'])
})

test('outcome filter per recipient, summary counts per hour that follow each state change', async () => {
  const { store } = await makeStore()
  const event = (id: string, action: 'delivered' | 'failed' | 'delayed', at: number) => ({
    at,
    patch: { action, status: action === 'delivered' ? '2.0.0' : action === 'failed' ? '5.1.1' : '4.4.1' },
    attempt: { id, at, action, status: '2.0.0', host: 'mx.dest.example', code: '250', reply: 'ok' },
  })
  await store.record(write({ txn: 's1.1' }, [rcpt('a@dest.example'), rcpt('b@dest.example')]))
  await store.record(write({ txn: 's2.1', arrival: T0 + 3_600_000 }, [rcpt('c@dest.example')]))
  // The first attempt: a delivered, b failed; replayed, it changes nothing.
  for (let i = 0; i < 2; i++) {
    await store.record(
      write(
        { txn: 's1.1' },
        [
          rcpt('a@dest.example', { event: event('x1', 'delivered', T0 + 10) }),
          rcpt('b@dest.example', { event: event('x1', 'failed', T0 + 10) }),
        ],
        ['s1.1.1'],
      ),
    )
  }
  const txns = async (input: TraceQueryInput) =>
    (await store.trace.search(q(input))).messages.map((m) => m.txn)
  assert.deepEqual(await txns({ outcome: 'failed' }), ['s1.1'])
  assert.deepEqual(await txns({ outcome: 'delayed' }), ['s2.1'])
  assert.deepEqual(await txns({ outcome: 'failed', to: 'a@dest.example' }), [], 'a was delivered, b failed')
  assert.deepEqual(await txns({ outcome: 'delivered,failed', toDomain: 'dest.example' }), ['s1.1'])

  const [m] = (await store.trace.search(q({ queueId: 's1.1.1' }))).messages
  assert.deepEqual(m?.recipients.map((r) => [r.address, r.action, r.history.length]).sort(), [
    ['a@dest.example', 'delivered', 1],
    ['b@dest.example', 'failed', 1],
  ])
  const s = await store.trace.summary(T0, T0 + 3_600_000)
  assert.deepEqual(
    s.hours.map((h) => [new Date(h.start).toISOString(), h.messages, h.recipients]),
    [
      ['2026-11-30T10:00:00.000Z', 1, { delivered: 1, failed: 1 }],
      ['2026-11-30T11:00:00.000Z', 1, { delayed: 1 }],
    ],
  )
  assert.deepEqual(s.total, { messages: 2, recipients: { delivered: 1, failed: 1, delayed: 1 } })
})

test('records and their index entries expire together, at the latest keep time written', async () => {
  const { store, prefix } = await makeStore()
  const redis = new Redis({ port })
  try {
    const arrival = Date.now()
    const soon = Date.now() + 1500
    const r = rcpt('gone@dest.example')
    await store.record(
      traceWrite(
        header({ txn: 'e1.1', arrival }),
        [{ ...r, base: { ...r.base, keepUntil: soon } }],
        [],
        Date.now(),
      ),
    )
    const bucket = `${prefix}trace:{${bucketOf(arrival)}}:`
    const keys = [
      `${bucket}m:e1.1`,
      `${bucket}t`,
      `${bucket}c`,
      `${bucket}i:r:gone@dest.example`,
      `${bucket}u:q`,
    ]
    for (const k of keys) {
      const ttl = await redis.pttl(k)
      assert.ok(ttl > 0 && ttl <= 1500, `${k} expires with its record: ${ttl}`)
    }
    await waitFor(async () => (await redis.exists(...keys)) === 0, 10000, 'keys expired')
    const page = await store.trace.search(q({ to: 'gone@dest.example', since: '1h', until: 'now' }))
    assert.deepEqual(page.messages, [])
  } finally {
    redis.disconnect()
  }
})

/** Every key under a prefix, without it: type, content and PTTL. */
async function dump(redis: Redis, prefix: string) {
  const out: Record<string, { content: unknown; ttl: number }> = {}
  let cursor = '0'
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', '1000')
    cursor = next
    for (const k of keys) {
      const type = await redis.type(k)
      const content =
        type === 'hash' ? await redis.hgetall(k) : await redis.zrange(k, '0', '-1', 'WITHSCORES')
      out[k.slice(prefix.length)] = { content, ttl: await redis.pttl(k) }
    }
  } while (cursor !== '0')
  return out
}

test('writes submitted together (one script call) leave Redis as the same writes one call each', async () => {
  const one = await makeStore()
  const together = await makeStore()
  const redis = new Redis({ port })
  try {
    const arrival = Date.now()
    const event = (id: string, action: 'delivered' | 'delayed', at: number, keepUntil: number) => ({
      at,
      patch: { action, status: action === 'delivered' ? '2.0.0' : '4.4.1', keepUntil },
      attempt: { id, at, action, status: '2.0.0', host: 'mx.dest.example', code: '250', reply: 'ok' },
    })
    const r = (address: string, keepUntil: number, ev?: ReturnType<typeof event>) => {
      const w = rcpt(address)
      return { ...w, base: { ...w.base, keepUntil }, ...(ev ? { event: ev } : {}) }
    }
    const k1 = now + 600_000
    const k2 = now + 900_000
    const k3 = now + 1_200_000
    const writes = [
      // Two messages of one bucket sharing their sender's, client's and recipient domain's index sets.
      write({ txn: 'b1.1', arrival }, [r('a@dest.example', k1), r('b@dest.example', k1)]),
      write({ txn: 'b2.1', arrival: arrival + 1 }, [r('c@dest.example', k2)]),
      // An envid record in between: tracking and trace writes go in one call.
      {
        message: message({ envid: 'b@h.example', envidXtext: 'b@h.example' }),
        recipients: [{ key: 'a', base: recipient({ keepUntil: k1 }) }],
        now,
      },
      // Outcomes of b1: a state change per recipient, a later keep time; then the same write again (a replay).
      write(
        { txn: 'b1.1', arrival },
        [r('a@dest.example', k1, event('x1', 'delivered', now, k3))],
        ['b1.1.1'],
      ),
      write(
        { txn: 'b1.1', arrival },
        [r('a@dest.example', k1, event('x1', 'delivered', now, k3))],
        ['b1.1.1'],
      ),
      write({ txn: 'b2.1', arrival: arrival + 1 }, [
        r('c@dest.example', k2, event('y1', 'delayed', now, k2)),
      ]),
      // Another hour's bucket.
      write({ txn: 'b3.1', arrival: arrival - 3_600_000 }, [r('a@dest.example', k1)]),
    ]
    for (const w of writes) {
      await one.store.record(w)
    }
    for (const w of writes) together.store.submit(w)
    const expected = await dump(redis, one.prefix)
    assert.ok(Object.keys(expected).length > 15, 'records, time sets, counts and index sets written')
    const got = await waitFor(
      async () => {
        const d = await dump(redis, together.prefix)
        return Object.keys(d).length === Object.keys(expected).length ? d : undefined
      },
      5000,
      'the batch written',
    )
    const content = (d: typeof got) =>
      Object.entries(d)
        .map(([k, v]) => [k, v.content])
        .sort()
    assert.deepEqual(content(got), content(expected))
    // A bucket's sets touched by the call all get its latest keep time: never shorter than one call each gives.
    for (const [k, { ttl }] of Object.entries(expected)) {
      const t = got[k]?.ttl ?? -2
      const most = k.includes(':m:') || k.startsWith('envid:') ? ttl + 3000 : k3 - now
      assert.ok(ttl > 0 && t > ttl - 3000 && t <= most, `${k}: TTL ${t} ms, one call each ${ttl} ms`)
    }
    const counts = Object.entries(expected).find(([k]) => k.startsWith(`trace:{${bucketOf(arrival)}}:c`))
    assert.deepEqual(counts?.[1].content, {
      messages: '2',
      delivered: '1',
      delayed: '2',
      expires: String(k3),
    })
  } finally {
    redis.disconnect()
  }
})

test('records of the object format (before trace format 2) are read, searched and updated in place', async () => {
  const { store, prefix } = await makeStore()
  const redis = new Redis({ port })
  try {
    const arrival = Date.now() - 60_000
    const keep = Date.now() + 600_000
    const b = `${prefix}trace:{${bucketOf(arrival)}}:`
    // As the write script of the object format left them: header with txn, recipient with object attempts.
    const attempt = (id: string, action: Action, status: string, at: number) => ({
      id,
      at,
      action,
      status,
      host: 'mx.dest.example',
      code: '451',
      reply: '451 busy',
    })
    await redis.hset(`${b}m:o1.1`, {
      h: JSON.stringify({ ...header({ txn: 'o1.1', arrival }), tracked: true }),
      'r:bob@dest.example': JSON.stringify({
        ...recipient({ address: 'Bob@dest.example', keepUntil: keep, updated: arrival }),
        history: [attempt('o1.1.1', 'delayed', '4.4.1', arrival)],
      }),
      'q:o1.1.1': '1',
    })
    await redis.zadd(`${b}t`, arrival, 'o1.1')
    for (const t of ['r:bob@dest.example', 'q:o1.1', 'q:o1.1.1'])
      await redis.zadd(`${b}i:${t}`, arrival, 'o1.1')
    await redis.hset(`${b}c`, { messages: 1, delayed: 1, expires: keep })
    const range = { since: '1h', until: 'now' }

    const found = async () => {
      const m = await store.trace.find('o1.1', arrival - 1000, arrival + 1000)
      assert.ok(m)
      return m
    }
    const old = await found()
    assert.equal(old.tracked, true)
    assert.deepEqual(old.queueIds, ['o1.1', 'o1.1.1'])
    assert.deepEqual(old.recipients[0]?.history, [attempt('o1.1.1', 'delayed', '4.4.1', arrival)])
    const search = async (input: TraceQueryInput) =>
      (await store.trace.search(q({ ...range, ...input }))).messages.map((m) => m.txn)
    assert.deepEqual(await search({ to: 'bob@dest.example', outcome: 'delayed' }), ['o1.1'])

    // A later attempt (written twice: a replay), and the first attempt again: the record becomes positional,
    // the old attempt is kept and recognised, the counts move from delayed to delivered once.
    const event = (id: string, action: 'delivered' | 'delayed', at: number) => ({
      at,
      patch: { action, status: action === 'delivered' ? '2.0.0' : '4.4.1' },
      attempt: attempt(id, action, action === 'delivered' ? '2.0.0' : '4.4.1', at),
    })
    const again = (ev: ReturnType<typeof event>) =>
      store.record(
        traceWrite(
          header({ txn: 'o1.1', arrival }),
          [rcpt('Bob@dest.example', { key: 'bob@dest.example', event: ev })],
          [],
          Date.now(),
        ),
      )
    await again(event('o1.1.2', 'delivered', arrival + 1000))
    await again(event('o1.1.2', 'delivered', arrival + 1000))
    await again(event('o1.1.1', 'delayed', arrival))
    const now2 = await found()
    assert.equal(now2.recipients[0]?.action, 'delivered')
    assert.deepEqual(
      now2.recipients[0]?.history.map((a) => [a.id, a.action]),
      [
        ['o1.1.1', 'delayed'],
        ['o1.1.2', 'delivered'],
      ],
    )
    const stored = JSON.parse((await redis.hget(`${b}m:o1.1`, 'r:bob@dest.example')) ?? '')
    assert.ok(Array.isArray(stored) && stored.length === 11, 'rewritten as a format-2 recipient')
    assert.equal(await redis.hget(`${b}m:o1.1`, 'h').then((h) => h?.startsWith('{')), true, 'header kept')
    assert.deepEqual(await redis.hgetall(`${b}c`), {
      messages: '1',
      delayed: '0',
      delivered: '1',
      expires: String(keep),
    })
    assert.deepEqual(await search({ to: 'bob@dest.example', outcome: 'delayed' }), [])
    assert.deepEqual(await search({ toDomain: 'dest.example', outcome: 'delivered' }), ['o1.1'])
  } finally {
    redis.disconnect()
  }
})

test('new records are positional: the header and each recipient an array, no copy of the txn or the key', async () => {
  const { store, prefix } = await makeStore()
  const redis = new Redis({ port })
  try {
    await store.record(write({ txn: 'n1.1' }, [rcpt('bob@dest.example')]))
    const m = await redis.hgetall(`${prefix}trace:{${bucketOf(T0)}}:m:n1.1`)
    assert.deepEqual(JSON.parse(m.h ?? ''), [
      2,
      T0,
      'Alice@Sender.example',
      'm1@sender.example',
      null,
      0,
      '192.0.2.7',
      'client.sender.example',
      'mx.test',
    ])
    const r = JSON.parse(m['r:bob@dest.example'] ?? '')
    assert.deepEqual(r.slice(0, 4), [0, null, null, 'delayed'], 'address 0: the same as the field key')
  } finally {
    redis.disconnect()
  }
})

test('trace writes journaled by the object-format version replay into the positional records', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-trace-journal-'))
  // Two lines of an outage journal as the version before trace format 2 wrote them: an acceptance, then an
  // outcome; from a process that is gone, so a new store claims and replays them.
  const lines = [
    '{"header":{"txn":"j1.1","arrival":1764496800000,"from":"alice@sender.example","messageId":"j1@sender.example","envid":null,"tracked":false,"clientIp":"192.0.2.7","helo":"client.sender.example","reportingMta":"mx.test"},"recipients":[{"key":"Bob@dest.example","base":{"address":"Bob@dest.example","orcpt":null,"notify":null,"action":"delayed","status":"4.0.0","remoteMta":null,"lastAttempt":null,"willRetryUntil":null,"keepUntil":4102444800000,"updated":1764496800000,"history":[]}}],"queueIds":[],"keepUntil":4102444800000,"now":1764496800000}',
    '{"header":{"txn":"j1.1","arrival":1764496800000,"from":"alice@sender.example","messageId":"j1@sender.example","envid":null,"tracked":false,"clientIp":"192.0.2.7","helo":"client.sender.example","reportingMta":"mx.test"},"recipients":[{"key":"Bob@dest.example","base":{"address":"Bob@dest.example","orcpt":null,"notify":null,"action":"delayed","status":"4.0.0","remoteMta":null,"lastAttempt":null,"willRetryUntil":null,"keepUntil":4102444800000,"updated":1764496800000,"history":[]},"event":{"at":1764496801000,"patch":{"action":"delivered","status":"2.0.0","remoteMta":"mx.dest.example","lastAttempt":1764496801000},"attempt":{"id":"j1.1.1","at":1764496801000,"action":"delivered","status":"2.0.0","host":"mx.dest.example","code":"250","reply":"250 ok"}}}],"queueIds":["j1.1.1"],"keepUntil":4102444800000,"now":1764496801000}',
  ]
  const dead = Number(
    execFileSync(process.execPath, ['-e', 'console.log(process.pid)'], { encoding: 'utf8' }),
  )
  writeFileSync(join(dir, `${dead}-1-0.jnl`), `${lines.join('\n')}\n`)
  const log = { info: () => {}, warn: () => {} }
  const { config } = parseConfig({ redis: { port } })
  const prefix = `trj${process.pid}:`
  const journal = new OutageJournal({ dir, maxBytes: 1 << 20, fsyncMs: 10, batch: 10, pauseMs: 0, log })
  const store = new TrackingStore(
    createRedisClient(config.redis, 'mtrk-trace-test'),
    { prefix, historyLimit: 5, journal },
    log,
  )
  stores.push(store)
  const arrival = 1764496800000
  const m = await waitFor(
    async () => {
      const found = await store.trace.find('j1.1.1', arrival - 1000, arrival + 1000)
      return found?.recipients[0]?.action === 'delivered' ? found : undefined
    },
    5000,
    'the journal replayed',
  )
  assert.equal(m.from, 'alice@sender.example')
  assert.deepEqual(m.queueIds, ['j1.1', 'j1.1.1'])
  assert.deepEqual(m.recipients[0]?.history, [
    {
      id: 'j1.1.1',
      at: 1764496801000,
      action: 'delivered',
      status: '2.0.0',
      host: 'mx.dest.example',
      code: '250',
      reply: '250 ok',
    },
  ])
  await waitFor(() => readdirSync(dir).length === 0, 5000, 'the journal file removed')
  rmSync(dir, { recursive: true, force: true })
})

test('queue ids and Message-IDs share one set per bucket: paging, ties, values that start alike, combined keys', async () => {
  const { store, prefix } = await makeStore()
  const redis = new Redis({ port })
  try {
    // 7 messages with one Message-ID over two buckets, three on one millisecond; others whose ids start alike.
    const arrivals = [0, 5, 5, 5, 3_600_000, 3_600_001, 3_600_002]
    for (const [i, at] of arrivals.entries())
      await store.record(
        write({ txn: `s${i}.1`, arrival: T0 + at, messageId: 'same@x', helo: i % 2 ? 'odd' : 'even' }, [
          rcpt('r@dest.example'),
        ]),
      )
    await store.record(write({ txn: 'long.1', messageId: 'same@x.y' }, [rcpt('r@dest.example')]))
    await store.record(write({ txn: 'nul.1', messageId: `same@x\u0000${T0 + 1}` }, [rcpt('r@dest.example')]))
    await store.record(write({ txn: 's0.1x', messageId: 'other@x' }, [rcpt('r@dest.example')], ['s0.1']))
    const seen: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const page = await store.trace.search(
        q({ messageId: 'same@x', limit: '3', ...(cursor ? { cursor } : {}) }),
      )
      seen.push(...page.messages.map((m) => m.txn))
      cursor = page.next ?? undefined
      pages++
    } while (cursor && pages < 10)
    assert.deepEqual(
      seen,
      ['s6.1', 's5.1', 's4.1', 's3.1', 's2.1', 's1.1', 's0.1'],
      'newest first, ties by txn',
    )
    const txns = async (input: TraceQueryInput) =>
      (await store.trace.search(q(input))).messages.map((m) => m.txn)
    assert.deepEqual(await txns({ messageId: 'same@x', helo: 'odd' }), ['s5.1', 's3.1', 's1.1'])
    assert.deepEqual(await txns({ helo: 'odd', messageId: 'same@x', since: '2026-11-30T11:00Z' }), ['s5.1'])
    assert.deepEqual(await txns({ queueId: 's0.1' }), ['s0.1x', 's0.1'], 'an hmail id and a transaction id')
    assert.deepEqual(await txns({ queueId: 's0.1', messageId: 'other@x' }), ['s0.1x'])
    assert.deepEqual(await txns({ messageId: 'same@x.y' }), ['long.1'])
    assert.deepEqual(await txns({ messageId: 'same' }), [])
    // One set per bucket and kind, whatever the number of messages.
    const b = `${prefix}trace:{${bucketOf(T0)}}:`
    assert.equal(await redis.exists(`${b}i:mid:same@x`, `${b}i:q:s0.1`), 0)
    assert.equal(await redis.zcard(`${b}u:mid`), 4 + 3)
  } finally {
    redis.disconnect()
  }
})

test('a connection uuid finds its messages by the queue id set: each once, newest first, paged, and no other', async () => {
  const { store } = await makeStore()
  // Connection C: four messages over two buckets, two on one millisecond, one with outbound ids (more members of
  // the set); C1 and C-X start like C; D is another connection.
  const arrivals = [0, 5, 5, 3_600_000]
  for (const [i, at] of arrivals.entries())
    await store.record(
      write(
        { txn: `C.${i + 1}`, arrival: T0 + at, helo: i % 2 ? 'odd' : 'even' },
        [rcpt('r@dest.example')],
        [`C.${i + 1}.1`, `C.${i + 1}.2`],
      ),
    )
  for (const txn of ['C1.1', 'C-X.1', 'D.1'])
    await store.record(write({ txn, arrival: T0 + 1 }, [rcpt('r@dest.example')]))
  const seen: string[] = []
  let cursor: string | undefined
  let pages = 0
  do {
    const page = await store.trace.search(q({ queueId: 'C', limit: '1', ...(cursor ? { cursor } : {}) }))
    seen.push(...page.messages.map((m) => m.txn))
    cursor = page.next ?? undefined
    pages++
  } while (cursor && pages < 10)
  assert.deepEqual(seen, ['C.4', 'C.3', 'C.2', 'C.1'], 'newest first, ties by txn, each once')
  const txns = async (input: TraceQueryInput) =>
    (await store.trace.search(q(input))).messages.map((m) => m.txn)
  assert.deepEqual(await txns({ queueId: 'C', helo: 'odd' }), ['C.4', 'C.2'], 'with another key')
  assert.deepEqual(await txns({ queueId: 'C', since: '2026-11-30T11:00Z' }), ['C.4'], 'in the time range')
  assert.deepEqual(await txns({ queueId: 'C1' }), ['C1.1'])
  assert.deepEqual(await txns({ queueId: 'C.2' }), ['C.2'], 'a queue id stays exact')
  assert.equal(await store.trace.find('C', T0 - 1, T0 + 7_200_000), null, 'a connection is no one message')
})

test('sets of one queue id or Message-ID alone (before the shared sets) are searched with the shared ones', async () => {
  const { store, prefix } = await makeStore()
  const redis = new Redis({ port })
  try {
    const b = `${prefix}trace:{${bucketOf(T0)}}:`
    // o1 and o2 as written before: each in the set of its Message-ID alone; o2 also written since (an outcome).
    for (const [txn, at] of [
      ['o1.1', 10],
      ['o2.1', 30],
    ] as const) {
      await store.record(write({ txn, arrival: T0 + at, messageId: 'dup@x' }, [rcpt('r@dest.example')]))
      await redis.zadd(`${b}i:mid:dup@x`, T0 + at, txn)
      await redis.zadd(`${b}i:q:${txn}`, T0 + at, txn)
    }
    await redis.zrem(`${b}u:mid`, `dup@x\u0000${T0 + 10}\u0000o1.1`)
    await redis.zrem(`${b}u:q`, `o1.1\u0000${T0 + 10}\u0000o1.1`)
    await store.record(write({ txn: 'n1.1', arrival: T0 + 20, messageId: 'dup@x' }, [rcpt('r@dest.example')]))
    const txns = async (input: TraceQueryInput) =>
      (await store.trace.search(q(input))).messages.map((m) => m.txn)
    assert.deepEqual(await txns({ messageId: 'dup@x' }), ['o2.1', 'n1.1', 'o1.1'], 'merged, each once')
    assert.deepEqual(await txns({ messageId: 'dup@x', limit: '1', cursor: `${T0 + 20}~n1.1` }), ['o1.1'])
    assert.deepEqual(await txns({ queueId: 'o1.1' }), ['o1.1'])
    assert.deepEqual(await txns({ queueId: 'o1.1', messageId: 'dup@x' }), ['o1.1'])
    assert.deepEqual(await txns({ to: 'r@dest.example', messageId: 'dup@x' }), ['o2.1', 'n1.1', 'o1.1'])
  } finally {
    redis.disconnect()
  }
})

test('a connection with more queue ids in one hour than a call examines is paged, newest first, never lost', async () => {
  const { store } = await makeStore()
  // D: a persistent submission connection, 21,000 messages in one hour (more members of the queue id set than one
  // search call may examine); C: 5,001 older messages (more than are read and sorted), found behind D's messages
  // in the set by arrival.
  const N = 21_000
  const M = 5001
  const connection = async (name: string, n: number, from: number) => {
    for (let i = 0; i < n; i += 1000)
      await Promise.all(
        Array.from({ length: Math.min(1000, n - i) }, (_, j) =>
          store.record(
            write({ txn: `${name}.${i + j + 1}`, arrival: from + i + j }, [rcpt('r@dest.example')]),
          ),
        ),
      )
  }
  await connection('C', M, T0)
  await connection('D', N, T0 + M)
  const pages = async (queueId: string, limit: string) => {
    const seen: string[] = []
    let cursor: string | undefined
    let calls = 0
    do {
      const page = await store.trace.search(q({ queueId, limit, ...(cursor ? { cursor } : {}) }))
      seen.push(...page.messages.map((m) => m.txn))
      cursor = page.next ?? undefined
      if (cursor !== undefined) assert.match(cursor, /^[1-9]\d*~[CD]\.\d+$/, 'a cursor at a message examined')
      calls++
    } while (cursor && calls < 50)
    return { seen, calls }
  }
  const first = await store.trace.search(q({ queueId: 'D', limit: '1000' }))
  assert.equal(first.messages.length, 1000)
  assert.equal(first.messages[0]?.txn, `D.${N}`, 'the newest first')
  assert.equal(first.messages.at(-1)?.txn, `D.${N - 999}`)
  const d = await pages('D', '1000')
  assert.equal(d.seen.length, N, 'every message of the connection, each once')
  assert.equal(new Set(d.seen).size, N)
  assert.ok(d.calls <= N / 1000 + 1, `${d.calls} pages`)
  const c = await pages('C', '1000')
  assert.deepEqual(
    c.seen,
    Array.from({ length: M }, (_, i) => `C.${M - i}`),
    "newest first, each once, found behind the other connection's messages",
  )
  assert.ok(c.calls > 6 && c.calls < 10, `${c.calls} pages`)
})

test('show finds a message as far back as a search reaches: one a slow retry schedule kept past the default window', async () => {
  const { store, prefix } = await makeStore()
  const arrival = now - 10 * 86_400_000 // past keptWindow's default queue lifetime, within keptAtMost's
  await store.record(write({ txn: 'slow1.1', arrival }, [rcpt('late@far.example')]))
  const { config } = parseConfig({ redis: { port, prefix } })
  const trace = await openTrace(config)
  try {
    const query = trace.query({ to: 'late@far.example', since: '11d' })
    assert.ok(query.ok)
    assert.deepEqual(
      (await trace.search(query.value)).messages.map((m) => m.txn),
      ['slow1.1'],
    )
    assert.equal((await trace.show('slow1.1'))?.txn, 'slow1.1', 'what a search lists, show finds')
  } finally {
    await trace.close()
  }
})
