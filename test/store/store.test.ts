import assert from 'node:assert/strict'
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import type { Redis } from 'ioredis'
import { parseConfig } from '../../src/config/config'
import type { RecordWrite } from '../../src/model/records'
import { bucketOf, traceWrite } from '../../src/model/trace'
import { OutageJournal } from '../../src/store/journal'
import { createRedisClient } from '../../src/store/redis'
import { type StoreLog, TrackingStore } from '../../src/store/store'
import { sleep, waitFor } from '../helpers/ports'
import { monitorRedis, type RedisServer, sharedRedisPort, startRedis } from '../helpers/redis'
import { message, recipient } from './fixtures'

const logs: string[] = []
const log = { info: (m: string) => logs.push(`info ${m}`), warn: (m: string) => logs.push(`warn ${m}`) }
let port: number
const stores: TrackingStore[] = []
let prefixN = 0

const journalRoot = mkdtempSync(join(tmpdir(), 'mtrk-store-journal-'))

function journal(dir: string, maxBytes = 1024 * 1024, pauseMs = 1, to: StoreLog = log): OutageJournal {
  return new OutageJournal({ dir, maxBytes, fsyncMs: 50, batch: 2, pauseMs, log: to })
}

/** Less common settings: ms between reminders and between replay batches, and a log of the store's own. */
interface Tuning {
  remindMs?: number
  pauseMs?: number
  log?: StoreLog
}

function makeStore(
  p = port,
  historyLimit = 3,
  dir = join(journalRoot, String(prefixN)),
  tuning: Tuning = {},
) {
  const { config } = parseConfig({ redis: { port: p } })
  const to = tuning.log ?? log
  const store = new TrackingStore(
    createRedisClient({ ...config.redis, commandTimeout: 300 }, 'mtrk-test'),
    {
      prefix: `t${process.pid}-${prefixN++}:`,
      historyLimit,
      journal: journal(dir, undefined, tuning.pauseMs, to),
      remindMs: tuning.remindMs,
    },
    to,
  )
  stores.push(store)
  return store
}

async function ready(store: TrackingStore) {
  await waitFor(() => store.available, 5000, 'store ready')
  return store
}

before(async () => {
  port = await sharedRedisPort()
})
after(async () => {
  for (const s of stores) await s.close()
  rmSync(journalRoot, { recursive: true, force: true })
})

const now = Date.now()

test('record then lookup returns the message and recipients, with a TTL up to keepUntil', async () => {
  const store = await ready(makeStore())
  const keep = now + 3600_000
  await store.record({
    message: message({ arrival: now }),
    recipients: [
      { key: 'a@x.test', base: recipient({ address: 'a@x.test', keepUntil: keep }) },
      {
        key: 'b@x.test',
        base: recipient({ address: 'B@x.test', orcpt: 'rfc822;B@x.test', keepUntil: keep }),
      },
    ],
    now,
  })
  const [m, ...rest] = await store.lookup('1@h.example.com')
  assert.equal(rest.length, 0)
  assert.equal(m?.txn, 'AAAA-BBBB.1')
  assert.deepEqual(m?.recipients.map((r) => r.address).sort(), ['B@x.test', 'a@x.test'])
  const redis = await startProbe()
  const ttl = await redis.pttl(store.key('1@h.example.com'))
  assert.ok(ttl > 3590_000 && ttl <= 3600_000, `ttl ${ttl}`)
  redis.disconnect()
})

async function startProbe() {
  const { Redis } = await import('ioredis')
  const c = new Redis({ port })
  c.on('error', () => {})
  return c
}

test('the base never overwrites; an event applies once; an older event does not undo a newer one', async () => {
  const store = await ready(makeStore())
  const base = recipient()
  const write = (event?: RecordWrite['recipients'][0]['event']): RecordWrite => ({
    message: message(),
    recipients: [{ key: 'u@example.net', base, event }],
    now,
  })
  const t0 = base.updated
  const delivered = {
    at: t0 + 2000,
    patch: { action: 'delivered' as const, status: '2.5.0', lastAttempt: t0 + 2000 },
    attempt: {
      id: 'e2',
      at: t0 + 2000,
      action: 'delivered' as const,
      status: '2.5.0',
      host: 'mx.example.net',
    },
  }
  const deferred = {
    at: t0 + 1500,
    patch: { action: 'delayed' as const, status: '4.2.1' },
    attempt: {
      id: 'e1',
      at: t0 + 1500,
      action: 'delayed' as const,
      status: '4.2.1',
      code: '450',
      reply: 'busy',
    },
  }
  await store.record(write())
  await store.record(write(delivered))
  await store.record(write(delivered)) // replay: no-op
  await store.record(write(deferred)) // late and older: history only
  await store.record(write()) // base again: no overwrite
  const [m] = await store.lookup('1@h.example.com')
  const r = m?.recipients[0]
  assert.equal(r?.action, 'delivered')
  assert.equal(r?.status, '2.5.0')
  assert.equal(r?.lastAttempt, t0 + 2000)
  assert.deepEqual(
    r?.history.map((a) => a.id),
    ['e2', 'e1'],
  )
  assert.equal(r?.history[1]?.reply, 'busy')
})

test('history stays within the configured limit, newest kept; an attempt it dropped, replayed, stays out', async () => {
  const store = await ready(makeStore(port, 3))
  // 1 to 5, then 1 again: the journal replaying a write whose attempt the history has already dropped.
  for (const i of [1, 2, 3, 4, 5, 1]) {
    await store.record({
      message: message(),
      recipients: [
        {
          key: 'u@example.net',
          base: recipient(),
          event: {
            at: now + i,
            patch: { status: `4.0.${i}` },
            attempt: { id: `a${i}`, at: now + i, action: 'delayed', status: `4.0.${i}` },
          },
        },
      ],
      now,
    })
  }
  const [m] = await store.lookup('1@h.example.com')
  assert.deepEqual(
    m?.recipients[0]?.history.map((a) => a.id),
    ['a3', 'a4', 'a5'],
  )
  assert.equal(m?.recipients[0]?.status, '4.0.5')
})

test('AMB-37: two messages with one envid are both returned; the key TTL only grows', async () => {
  const store = await ready(makeStore())
  const probe = await startProbe()
  await store.record({
    message: message({ txn: 'T1.1' }),
    recipients: [{ key: 'a', base: recipient({ keepUntil: now + 7200_000 }) }],
    now,
  })
  await store.record({
    message: message({ txn: 'T2.1', arrival: 1 }),
    recipients: [{ key: 'b', base: recipient({ keepUntil: now + 60_000 }) }],
    now,
  })
  const all = await store.lookup('1@h.example.com')
  assert.deepEqual(
    all.map((m) => m.txn),
    ['T2.1', 'T1.1'],
  )
  assert.ok((await probe.pttl(store.key('1@h.example.com'))) > 7000_000)
  probe.disconnect()
})

test('a record whose data is already past its keep time still gets a TTL (the key never lives forever)', async () => {
  const store = await ready(makeStore())
  const probe = await startProbe()
  await store.record({
    message: message(),
    recipients: [{ key: 'a', base: recipient({ keepUntil: now - 1000 }) }],
    now,
  })
  const ttl = await probe.pttl(store.key('1@h.example.com'))
  assert.ok(ttl > 0 && ttl <= 1000, `ttl ${ttl}`)
  probe.disconnect()
})

test('garbage in Redis is skipped, not thrown: a whole value, or the one recipient or attempt that is unreadable', async () => {
  const store = await ready(makeStore())
  const probe = await startProbe()
  const key = store.key('junk@h.example')
  const rcpt = (k: string, history: unknown) => [
    k,
    0,
    null,
    null,
    'delayed',
    '4.0.0',
    null,
    null,
    null,
    now + 60_000,
    now,
    history,
  ]
  const good = [2, 0, 'VheLhqV/rCKJmplkGFwsyW59pYk', now, 'mx.example.net', null, 86400, null]
  await probe.hset(
    key,
    'T.1',
    '{not json',
    'T.2',
    JSON.stringify([
      ...good,
      [rcpt('u@h.test', {}), rcpt('v@h.test', [['a', 'x', 'delayed', '4.0.0', null, null, null]]), ['bad']],
    ]),
    'T.3',
    JSON.stringify([1, ...good.slice(1), []]),
    'm:T.4',
    JSON.stringify(message({ txn: 'T.4', envid: 'junk@h.example' })),
  )
  const found = await store.lookup('junk@h.example')
  assert.deepEqual(
    found.map((m) => [m.txn, m.envidXtext, m.recipients.map((r) => [r.address, r.history.length])]),
    [
      [
        'T.2',
        'junk@h.example',
        [
          ['u@h.test', 0],
          ['v@h.test', 0],
        ],
      ],
    ],
  )
  probe.disconnect()
})

test('a stored message is one hash field, format 2 (README "Redis keys"), read back as written', async () => {
  const store = await ready(makeStore())
  const probe = await startProbe()
  const base = recipient({
    address: 'U@x.test',
    orcpt: 'rfc822;U@x.test',
    notify: 'SUCCESS',
    keepUntil: now + 60_000,
  })
  const other = recipient({ address: 'v@x.test', orcpt: 'utf-8;v@x.test', keepUntil: now + 60_000 })
  const attempt = { id: 'TX.1.1:u1:0:accepted', at: now, action: 'transferred' as const, status: '2.0.0' }
  await store.record({
    message: message({ txn: 'TX.1', envid: 'fmt@h.test', envidXtext: 'fmt@h.test' }),
    recipients: [
      {
        key: 'U@x.test',
        base,
        event: { at: now, patch: { action: 'transferred', status: '2.0.0' }, attempt },
      },
      {
        key: 'v@x.test',
        base: other,
        event: { at: now, patch: {}, attempt: { ...attempt, id: 'elsewhere' } },
      },
    ],
    now,
  })
  const raw = await probe.hgetall(store.key('fmt@h.test'))
  assert.deepEqual(Object.keys(raw), ['TX.1'])
  const value = JSON.parse(raw['TX.1'] ?? '')
  assert.equal(value[0], 2)
  assert.equal(value[1], 0, 'envid xtext equal to the envid is not repeated')
  assert.deepEqual(value[8][0].slice(0, 3), ['U@x.test', 0, 1], 'address = key, ORCPT = rfc822;address')
  assert.equal(
    value[8][0][11][0][0],
    '~.1:u1:0:accepted',
    'the transaction id is not repeated in an attempt id',
  )
  const [m] = await store.lookup('fmt@h.test')
  assert.deepEqual(m?.recipients[0], {
    ...base,
    action: 'transferred',
    status: '2.0.0',
    updated: now,
    history: [attempt],
  })
  assert.deepEqual(m?.recipients[1]?.orcpt, 'utf-8;v@x.test')
  assert.deepEqual(m?.recipients[1]?.history[0]?.id, 'elsewhere')
  probe.disconnect()
})

test('after SCRIPT FLUSH the write script reaches Redis again (NOSCRIPT is answered by ioredis)', async () => {
  const own: RedisServer = await startRedis()
  try {
    const store = await ready(makeStore(own.port))
    const write = (txn: string): RecordWrite => ({ message: message({ txn }), recipients: [], now })
    await store.record(write('T.1'))
    await own.client().script('FLUSH')
    await store.record(write('T.2'))
    const found = await store.lookup('1@h.example.com')
    assert.deepEqual(found.map((m) => m.txn).sort(), ['T.1', 'T.2'])
  } finally {
    await own.close()
  }
})

test('a write Redis refuses with an error reply is logged and dropped, not held for replay; its batch is applied', async () => {
  const dir = join(journalRoot, 'refused')
  const store = await ready(makeStore(port, 3, dir))
  const probe = await startProbe()
  await probe.set(store.key('1@h.example.com'), 'not a hash')
  // One batch, one script call: the script skips the refused write and applies the writes around it.
  const others = ['before@h.example.com', 'after@h.example.com']
  const other = (envid: string) => ({ message: message({ envid, envidXtext: envid }), recipients: [], now })
  store.submit(other('before@h.example.com'))
  store.submit({ message: message(), recipients: [], now })
  store.submit(other('after@h.example.com'))
  await waitFor(
    () => logs.some((l) => l.startsWith('warn Redis refused a tracking write for AAAA-BBBB.1: WRONGTYPE')),
    5000,
    'refusal logged',
  )
  for (const envid of others) assert.equal((await store.lookup(envid)).length, 1, envid)
  assert.equal(logs.filter((l) => l.includes('Redis refused')).length, 1, 'only the refused write is logged')
  assert.equal(store.available, true, 'an error reply is no outage')
  assert.equal(journaledBytes(dir), 0, 'nothing journaled for replay')
  probe.disconnect()
})

function journaledBytes(dir: string): number {
  return existsSync(dir)
    ? readdirSync(dir)
        .filter((f) => f.endsWith('.jnl'))
        .reduce((n, f) => n + statSync(join(dir, f)).size, 0)
    : 0
}

/** A trace write of a message that arrived at `arrival`, to one recipient not yet delivered. */
function traced(txn: string, arrival: number) {
  return traceWrite(
    {
      txn,
      arrival,
      from: 'a@sender.example',
      messageId: null,
      envid: null,
      tracked: false,
      clientIp: null,
      helo: null,
      reportingMta: 'mx.test',
    },
    [
      {
        key: 'b@d.example',
        base: recipient({ address: 'b@d.example', keepUntil: now + 600_000, updated: arrival }),
      },
    ],
    [],
    now,
  )
}

test('a refused write between two trace writes of one call: both traced messages are listed and counted', async () => {
  const dir = join(journalRoot, 'refused-trace')
  const store = await ready(makeStore(port, 3, dir))
  const probe = await startProbe()
  await probe.set(store.key('refused@h.example.com'), 'not a hash')
  const arrival = now - 1000
  const refusals = logs.filter((l) => l.includes('Redis refused')).length
  // One batch, one script call: trace, refused envid record, trace.
  store.submit(traced('TA.1', arrival))
  store.submit({ message: message({ envid: 'refused@h.example.com', txn: 'RB.1' }), recipients: [], now })
  store.submit(traced('TC.1', arrival))
  await waitFor(
    () => logs.some((l) => l.startsWith('warn Redis refused a tracking write for RB.1: WRONGTYPE')),
    5000,
    'refusal logged',
  )
  const bucket = store.trace.bucketKey(bucketOf(arrival))
  for (const txn of ['TA.1', 'TC.1']) {
    assert.equal(await probe.zscore(`${bucket}t`, txn), String(arrival), `${txn} in the time set`)
    assert.ok((await probe.pttl(`${bucket}m:${txn}`)) > 0, `${txn} expires`)
  }
  const counts = await probe.hgetall(`${bucket}c`)
  assert.equal(counts.messages, '2')
  assert.equal(counts.delayed, '2')
  assert.equal(
    logs.filter((l) => l.includes('Redis refused')).length,
    refusals + 1,
    'only the refused write logged',
  )
  assert.equal(journaledBytes(dir), 0, 'nothing journaled for replay')
  probe.disconnect()
})

test('a trace record left out of its time set, or with an unreadable recipient, is mended by its next write', async () => {
  const store = await ready(makeStore())
  const probe = await startProbe()
  const arrival = now - 2000
  const bucket = store.trace.bucketKey(bucketOf(arrival))
  // What a call that failed after the header left behind (Redis keeps what a script wrote): a header, no time-set
  // entry; and a recipient whose action is not a string (written by hand).
  await probe.hset(`${bucket}m:TR.1`, 'h', '[2,1,"a@sender.example",null,null,0,null,null,"mx.test"]')
  await probe.hset(`${bucket}m:TR.1`, 'r:b@d.example', '[0,null,null,null]')
  const refusals = logs.filter((l) => l.includes('Redis refused')).length
  store.submit(traced('TR.1', arrival))
  await waitFor(
    async () => (await probe.zscore(`${bucket}t`, 'TR.1')) === String(arrival),
    5000,
    'in the time set',
  )
  assert.equal((await probe.hgetall(`${bucket}c`)).delayed, '1', 'the recipient counted under its new action')
  assert.equal(logs.filter((l) => l.includes('Redis refused')).length, refusals, 'nothing refused')
  probe.disconnect()
})

test('many writes of one large message in one call leave exactly the record that one call per write leaves', async () => {
  const [batched, single] = [await ready(makeStore()), await ready(makeStore())]
  const keep = now + 3600_000
  const rcpts = Array.from({ length: 300 }, (_, i) => {
    const address = `user${i}@domain${i % 7}.example`
    return { key: address, base: recipient({ address, keepUntil: keep, updated: now }) }
  })
  const event = (i: number, n: number, at: number) => ({
    at,
    patch: {
      action: n === 2 ? ('delivered' as const) : ('delayed' as const),
      status: `${n === 2 ? 2 : 4}.0.0`,
    },
    attempt: {
      id: `AAAA-BBBB.1.${i}.${n}`,
      at,
      action: 'delayed' as const,
      status: '4.0.0',
      host: `mx${n}.example`,
    },
  })
  const writes: RecordWrite[] = [{ message: message(), recipients: rcpts, now }]
  // Per recipient: two events in order, the first again (a replay: a no-op), an older one after the newer (history
  // only), and five more than the history holds for some.
  for (const n of [0, 1, 0, 2]) {
    for (const [i, r] of rcpts.entries()) {
      if (n !== 2 || i % 3 === 0)
        writes.push({
          message: message(),
          recipients: [{ ...r, event: event(i, n, now + (n === 2 ? 1 : 10 * (n + 1))) }],
          now,
        })
    }
  }
  for (let k = 3; k < 9; k++)
    writes.push({
      message: message(),
      recipients: [{ ...rcpts[5]!, event: event(5, k, now + 100 + k) }],
      now,
    })
  for (const w of writes) await single.record(w)
  for (const w of writes) batched.submit(w)
  const probe = await startProbe()
  const expected = await probe.hget(single.key('1@h.example.com'), 'AAAA-BBBB.1')
  assert.ok(expected && expected.length > 50_000, 'a large record')
  await waitFor(
    async () => (await probe.hget(batched.key('1@h.example.com'), 'AAAA-BBBB.1')) === expected,
    10000,
    'the batched record equal to the one written a call per write',
  )
  const ttl = await probe.pttl(batched.key('1@h.example.com'))
  assert.ok(ttl > 3590_000 && ttl <= 3600_000, `ttl ${ttl}`)
  probe.disconnect()
})

test('an unknown envid is an empty list', async () => {
  const store = await ready(makeStore())
  assert.deepEqual(await store.lookup('nobody@nowhere.example'), [])
})

test('submit while Redis is down journals the writes and replays them, in paced batches, when Redis is back', async () => {
  const own: RedisServer = await startRedis()
  try {
    const store = await ready(makeStore(own.port))
    await own.stop()
    await waitFor(() => !store.available, 5000, 'store down')
    const txns = ['D1.1', 'D2.1', 'D3.1', 'D4.1', 'D5.1']
    for (const txn of txns) {
      store.submit({
        message: message({ txn, envid: 'down@h.example' }),
        recipients: [{ key: 'a', base: recipient({ keepUntil: now + 60_000 }) }],
        now,
      })
    }
    await assert.rejects(store.lookup('down@h.example'))
    await own.start()
    const found = await waitFor(
      async () => {
        const f = await store.lookup('down@h.example').catch(() => [])
        return f.length === txns.length ? f : undefined
      },
      10000,
      'replayed writes',
    )
    assert.deepEqual(found.map((m) => m.txn).sort(), txns, 'nothing lost')
    // The outage line says where the writes go: into the journal, to be replayed (not "untracked").
    const dir = join(journalRoot, String(prefixN - 1))
    assert.ok(
      logs.includes(
        `warn Redis unavailable (connection closed): mail flows on; tracking writes are journaled in ${dir} and replayed when it is back`,
      ),
      logs.join('\n'),
    )
    await waitFor(
      () => logs.some((l) => /tracking journal replayed: \d+ writes/.test(l)),
      5000,
      'replay logged',
    )
    assert.ok(!logs.some((l) => /lost/.test(l)), 'no loss logged')
  } finally {
    await own.close()
  }
})

test('a Redis that cannot take writes for now (out of memory) is an outage: writes are journaled, then replayed', async () => {
  const own: RedisServer = await startRedis()
  const dir = join(journalRoot, 'oom')
  try {
    const store = await ready(makeStore(own.port, 3, dir))
    const admin = own.client()
    // noeviction: every write is refused with -OOM while used_memory is above the limit; reads still work.
    await admin.config('SET', 'maxmemory-policy', 'noeviction')
    await admin.config('SET', 'maxmemory', '1')
    // A call of trace writes alone: Redis refuses the first write inside the script's pcall for the write.
    const arrival = now - 1000
    store.submit(traced('MT.1', arrival))
    await waitFor(() => logs.some((l) => l.startsWith('warn Redis unavailable (OOM')), 5000, 'outage logged')
    await waitFor(() => !store.available, 5000, 'store down')
    store.submit({
      message: message({ txn: 'M1.1', envid: 'oom@h.example' }),
      recipients: [{ key: 'a', base: recipient({ keepUntil: now + 60_000 }) }],
      now,
    })
    assert.ok(!logs.some((l) => /refused a (tracking|trace) write for M/.test(l)), 'not dropped as refused')
    await admin.config('SET', 'maxmemory', '0')
    const found = await waitFor(
      async () => {
        const f = await store.lookup('oom@h.example').catch(() => [])
        return f.length === 1 ? f : undefined
      },
      10000,
      'the write replayed once Redis takes writes again',
    )
    assert.equal(found[0]?.txn, 'M1.1')
    const bucket = store.trace.bucketKey(bucketOf(arrival))
    await waitFor(
      async () => (await admin.zscore(`${bucket}t`, 'MT.1')) === String(arrival),
      10000,
      'the trace write replayed too',
    )
  } finally {
    await own.close()
  }
})

/** Calls of a command a private Redis has run since it started (INFO commandstats). */
async function commandCalls(admin: Redis, command: string): Promise<number> {
  const stats = await admin.info('commandstats')
  return Number(new RegExp(`cmdstat_${command}:calls=(\\d+)`).exec(stats)?.[1] ?? 0)
}

/** The journal lines in `dir`, every file. */
function journalLines(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => readFileSync(join(dir, f), 'utf8').split('\n').filter(Boolean))
}

/** Redis refuses every write (noeviction, maxmemory far below used_memory) until `full(false)`; reads still work. */
async function outOfMemory(own: RedisServer) {
  const admin = own.client()
  await admin.config('SET', 'maxmemory-policy', 'noeviction')
  return {
    admin,
    full: (on: boolean) => admin.config('SET', 'maxmemory', on ? '1' : '0'),
  }
}

/** Samples the store's status every 10 ms: how often it changed, and whether it was ever up. */
function watchStatus(store: TrackingStore) {
  let last = store.available
  const seen = { changes: 0, up: false }
  const timer = setInterval(() => {
    if (store.available !== last) seen.changes++
    last = store.available
    seen.up ||= last
  }, 10)
  return { seen, stop: () => clearInterval(timer) }
}

test('Redis out of memory for seconds: the store stays down, probes back off, one log line; all replayed in order once it takes writes', async () => {
  const own: RedisServer = await startRedis()
  const dir = join(journalRoot, 'oom-long')
  const monitor = await monitorRedis(own.client())
  const sent: string[] = []
  monitor.on('monitor', (_time: string, args: string[]) => {
    // The script calls, not the commands the script runs (MONITOR shows those too).
    if (/^eval/i.test(args[0] ?? '')) for (const a of args) if (/^OL\d+\.1$/.test(a)) sent.push(a)
  })
  const write = (i: number) => ({
    message: message({ txn: `OL${i}.1`, envid: 'oom-long@h.example' }),
    recipients: [{ key: 'a', base: recipient({ keepUntil: now + 60_000 }) }],
    now,
  })
  try {
    const store = await ready(makeStore(own.port, 3, dir))
    const { admin, full } = await outOfMemory(own)
    const from = logs.length
    await full(true)
    store.submit(write(0))
    await waitFor(() => !store.available, 5000, 'store down')
    const pingsBefore = await commandCalls(admin, 'ping')
    const status = watchStatus(store)
    // 6 s out of memory, mail flowing: a write every half second.
    const txns = ['OL0.1']
    for (let i = 1; i <= 12; i++) {
      await new Promise((r) => setTimeout(r, 500))
      store.submit(write(i))
      txns.push(`OL${i}.1`)
    }
    status.stop()
    const pings = (await commandCalls(admin, 'ping')) - pingsBefore
    const during = logs.slice(from)
    assert.equal(status.seen.up, false, 'never up while Redis refuses writes')
    assert.equal(status.seen.changes, 0)
    assert.ok(pings >= 1 && pings <= 3, `probes back off from 1 s (6 s: 2 probes, not 6): ${pings}`)
    assert.equal(during.length, 1, `one line, no line per probe: ${during.join(' | ')}`)
    assert.match(
      during[0] as string,
      /^warn Redis unavailable \(OOM command not allowed when used memory > 'maxmemory'/,
    )
    const journaled = journalLines(dir)
    assert.deepEqual(
      txns.map((t) => journaled.filter((l) => l.includes(`"txn":"${t}"`)).length),
      txns.map(() => 1),
      'every write journaled once',
    )
    assert.deepEqual(await store.lookup('oom-long@h.example'), [], 'nothing applied')

    await full(false)
    await waitFor(() => store.available, 10000, 'up within one probe interval (the next is 4 s away)')
    const found = await waitFor(
      async () => {
        const f = await store.lookup('oom-long@h.example')
        return f.length === txns.length ? f : undefined
      },
      10000,
      'every journaled write applied',
    )
    assert.deepEqual(found.map((m) => m.txn).sort(), [...txns].sort(), 'nothing lost')
    assert.deepEqual(sent.slice(-txns.length), txns, 'the last pass sent the journal in order')
    await waitFor(
      () => logs.slice(from).some((l) => l.startsWith('info tracking journal replayed')),
      5000,
      'the replay logged',
    )
    assert.deepEqual(readdirSync(dir), [], 'the journal emptied')
    const after = logs.slice(from + 1)
    assert.equal(after.length, 2, after.join(' | '))
    assert.match(
      after[0] as string,
      /^info Redis ready: replaying \d+ bytes of journaled tracking writes \(unavailable for \d+ s, 13 tracking writes journaled\)$/,
    )
    assert.equal(after[1], 'info tracking journal replayed: 13 writes')
  } finally {
    monitor.disconnect()
    await own.close()
  }
})

test('Redis out of memory: a reminder at most once per interval, with how long and how many writes are journaled', async () => {
  const own: RedisServer = await startRedis()
  try {
    const store = await ready(makeStore(own.port, 3, join(journalRoot, 'oom-remind'), { remindMs: 1500 }))
    const { full } = await outOfMemory(own)
    const from = logs.length
    await full(true)
    const start = Date.now()
    for (let i = 0; i < 8; i++) {
      store.submit({
        message: message({ txn: `OR${i}.1`, envid: 'oom-remind@h.example' }),
        recipients: [],
        now,
      })
      await new Promise((r) => setTimeout(r, 500))
    }
    await full(false)
    await waitFor(() => store.available, 10000, 'store up again')
    const outage = Date.now() - start
    const lines = logs.slice(from).filter((l) => !l.startsWith('info tracking journal replayed'))
    const reminders = lines.filter((l) => l.includes('still unavailable'))
    // Out of memory for 4 s, then until the next probe: a reminder every 1.5 s of that, none per probe or write.
    assert.ok(
      reminders.length >= 2 && reminders.length <= outage / 1500,
      `${outage} ms: ${lines.join(' | ')}`,
    )
    for (const r of reminders) {
      assert.match(
        r,
        /^warn Redis still unavailable after \d+ s \(OOM command not allowed when used memory > 'maxmemory'.*\): [1-8] tracking writes journaled$/,
      )
    }
    assert.equal(lines.length, reminders.length + 2, 'else only the outage and the recovery')
    assert.match(lines.at(-1) as string, /\(unavailable for \d+ s, 8 tracking writes journaled\)$/)
  } finally {
    await own.close()
  }
})

test('Redis full again soon after it took writes (memory hovering at maxmemory): the probes keep backing off', async () => {
  const own: RedisServer = await startRedis()
  const write = (txn: string) => ({
    message: message({ txn, envid: 'hover@h.example' }),
    recipients: [{ key: 'a', base: recipient({ keepUntil: now + 60_000 }) }],
    now,
  })
  try {
    const store = await ready(makeStore(own.port, 3, join(journalRoot, 'oom-hover')))
    const { admin, full } = await outOfMemory(own)
    await full(true)
    store.submit(write('H1.1'))
    await waitFor(() => !store.available, 5000, 'store down')
    // Probes 1 s and then 2 s later: the first fails, the second finds Redis taking writes again.
    await new Promise((r) => setTimeout(r, 1500))
    await full(false)
    await waitFor(() => store.available, 5000, 'store up')
    await full(true)
    store.submit(write('H2.1'))
    await waitFor(() => !store.available, 5000, 'store down again')
    const pingsBefore = await commandCalls(admin, 'ping')
    await new Promise((r) => setTimeout(r, 3000))
    const pings = (await commandCalls(admin, 'ping')) - pingsBefore
    assert.equal(pings, 0, 'the next probe 4 s away, not 1 s as after a long spell up')
    await full(false)
    await waitFor(() => store.available, 5000, 'store up at that probe')
    const found = await waitFor(
      async () => {
        const f = await store.lookup('hover@h.example')
        return f.length === 2 ? f : undefined
      },
      5000,
      'both writes applied',
    )
    assert.deepEqual(found.map((m) => m.txn).sort(), ['H1.1', 'H2.1'])
  } finally {
    await own.close()
  }
})

/** A write of message `<tag><i>.1` to `envid`, one recipient. */
function numbered(envid: string, tag: string) {
  return (i: number) => ({
    message: message({ txn: `${tag}${i}.1`, envid }),
    recipients: [{ key: 'a', base: recipient({ keepUntil: now + 60_000 }) }],
    now,
  })
}

/** Waits until `store` has `count` messages with `envid`. */
function allApplied(store: TrackingStore, envid: string, count: number) {
  return waitFor(
    async () => (await store.lookup(envid).catch(() => [])).length === count,
    20000,
    `${count} messages of ${envid}`,
  )
}

test('a live write refused while the journal replays: the next batch Redis takes brings the store up, mail flowing', async () => {
  const own: RedisServer = await startRedis()
  const write = numbered('blip@h.example', 'B')
  try {
    // 2 writes every 100 ms: the 60 journaled below take 3 s to replay.
    const store = await ready(makeStore(own.port, 3, join(journalRoot, 'blip'), { pauseMs: 100 }))
    const { full } = await outOfMemory(own)
    await full(true)
    store.submit(write(0))
    await waitFor(() => !store.available, 5000, 'store down')
    for (let i = 1; i < 60; i++) store.submit(write(i))
    await full(false)
    await waitFor(() => store.available, 5000, 'store up, the journal replaying')
    // One blip (memory at maxmemory for a moment): a single live write refused.
    await full(true)
    store.submit(write(60))
    await waitFor(() => !store.available, 5000, 'store down on the blip')
    await full(false)
    // A write every 40 ms: the replay keeps finding new journal files, so its end does not come soon.
    let n = 61
    await waitFor(
      async () => {
        store.submit(write(n++))
        await sleep(40)
        return store.available
      },
      10000,
      'store up again while the replay runs',
    )
    await allApplied(store, 'blip@h.example', n)
  } finally {
    await own.close()
  }
})

test('close() while the journal replays: the replay stops, the closed store logs nothing more, the next store replays the rest', async () => {
  const own: RedisServer = await startRedis()
  const dir = join(journalRoot, 'close-replaying')
  const write = numbered('closing@h.example', 'C')
  try {
    // Its own log: stores of earlier tests, on Redis servers stopped since, still remind.
    const storeLogs: string[] = []
    const storeLog = {
      info: (m: string) => storeLogs.push(`info ${m}`),
      warn: (m: string) => storeLogs.push(`warn ${m}`),
    }
    const store = await ready(makeStore(own.port, 3, dir, { remindMs: 200, pauseMs: 100, log: storeLog }))
    const { full } = await outOfMemory(own)
    await full(true)
    for (let i = 0; i < 60; i++) store.submit(write(i))
    await waitFor(() => !store.available, 5000, 'store down')
    await full(false)
    await waitFor(() => store.available, 5000, 'store up, the journal replaying')
    await store.close()
    const from = storeLogs.length
    assert.equal(readdirSync(dir).length, 1, 'the journal file left for the next store')
    // Five reminder intervals, ten replay pauses: a replay still running would fail on the closed connection.
    await sleep(1000)
    assert.deepEqual(storeLogs.slice(from), [], 'nothing from a closed store')
    const next = makeStore(own.port, 3, dir, { log: storeLog })
    await allApplied(next, 'closing@h.example', 60)
    await waitFor(() => readdirSync(dir).length === 0, 5000, 'the replayed file removed')
    const replaying = storeLogs.slice(from).filter((l) => l.includes('journal: replaying'))
    assert.equal(replaying.length, 1, storeLogs.join('\n'))
    assert.match(replaying[0] ?? '', /written earlier by this process$/)
    assert.ok(!storeLogs.slice(from).some((l) => l.startsWith('warn')), storeLogs.join('\n'))
  } finally {
    await own.close()
  }
})

test('a slow Redis (commands time out on an open connection) pauses tracking until it answers again', async () => {
  const own: RedisServer = await startRedis()
  try {
    const store = await ready(makeStore(own.port))
    own.freeze(true)
    store.submit({
      message: message({ txn: 'S1.1', envid: 'slow@h.example' }),
      recipients: [{ key: 'a', base: recipient({ keepUntil: now + 60_000 }) }],
      now,
    })
    await waitFor(() => !store.available, 5000, 'store down after a timeout')
    store.submit({
      message: message({ txn: 'S2.1', envid: 'slow@h.example' }),
      recipients: [{ key: 'a', base: recipient({ keepUntil: now + 60_000 }) }],
      now,
    })
    own.freeze(false)
    await waitFor(() => store.available, 10000, 'store up again (no reconnect happens: the probe sees it)')
    const found = await waitFor(
      async () => {
        const f = await store.lookup('slow@h.example').catch(() => [])
        return f.length === 2 ? f : undefined
      },
      10000,
      'both writes',
    )
    assert.deepEqual(found.map((m) => m.txn).sort(), ['S1.1', 'S2.1'])
  } finally {
    own.freeze(false)
    await own.close()
  }
})

test('close() journals what it holds; a store on the same journal directory (a reload, a restart) replays it', async () => {
  const own: RedisServer = await startRedis()
  const dir = join(journalRoot, 'handover')
  try {
    const first = await ready(makeStore(own.port, 3, dir))
    await own.stop()
    await waitFor(() => !first.available, 5000, 'store down')
    const write = {
      message: message({ txn: 'H.1', envid: 'handover@h.example' }),
      recipients: [{ key: 'a', base: recipient({ keepUntil: now + 60_000 }) }],
      now,
    }
    first.submit(write)
    await first.close()
    assert.equal(readdirSync(dir).length, 1, 'one journal file left behind')
    await own.start()
    const second = makeStore(own.port, 3, dir)
    const [m] = await waitFor(
      async () => {
        const f = await second.lookup('handover@h.example').catch(() => [])
        return f.length === 1 ? f : undefined
      },
      10000,
      "the first store's write, replayed by the second",
    )
    assert.equal(m?.txn, 'H.1')
    await waitFor(() => readdirSync(dir).length === 0, 5000, 'the replayed file removed')
    // The file is this process's own: not "left by" a process that is gone.
    const replaying = logs.filter((l) => l.includes(`journal: replaying ${process.pid}-`))
    assert.equal(replaying.length, 1, logs.join('\n'))
    assert.match(replaying[0] ?? '', /\(\d+ bytes\), written earlier by this process$/)
  } finally {
    await own.close()
  }
})

test('without a journal, the outage line says tracking writes are lost, and they are counted', async () => {
  const own: RedisServer = await startRedis()
  try {
    const { config } = parseConfig({ redis: { port: own.port } })
    const store = new TrackingStore(
      createRedisClient({ ...config.redis, commandTimeout: 300 }, 'mtrk-test'),
      { prefix: `t${process.pid}-${prefixN++}:`, historyLimit: 3, journal: null, remindMs: 100 },
      log,
    )
    stores.push(store)
    await ready(store)
    await own.stop()
    await waitFor(() => !store.available, 5000, 'store down')
    assert.ok(
      logs.includes(
        'warn Redis unavailable (connection closed): mail flows on; tracking writes are lost (counted in the log) until it is back: there is no journal',
      ),
      logs.join('\n'),
    )
    store.submit({
      message: message({ txn: 'N.1', envid: 'nojournal@h.example' }),
      recipients: [{ key: 'a', base: recipient({ keepUntil: now + 60_000 }) }],
      now,
    })
    await waitFor(
      () => logs.includes('warn 1 tracking writes lost (see README "Failure modes")'),
      5000,
      'the loss',
    )
  } finally {
    await own.close()
  }
})
