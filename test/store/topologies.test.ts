// The store on the other Redis topologies README promises: Redis Cluster (three masters) and Sentinel.
import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after, test } from 'node:test'
import { type RedisProcess, redisServer } from '../../scripts/lib/redis-server'
import { parseConfig, type RedisConfig } from '../../src/config/config'
import { traceWrite } from '../../src/model/trace'
import { parseCursor } from '../../src/model/trace-query'
import { createRedisClient } from '../../src/store/redis'
import { TrackingStore } from '../../src/store/store'
import { freePort, waitFor } from '../helpers/ports'
import { startRedisCluster } from '../helpers/redis'
import { message, recipient } from './fixtures'

const started: RedisProcess[] = []
const dirs: string[] = []
after(async () => {
  for (const p of started) await p.stop('SIGKILL')
  for (const d of dirs) rmSync(d, { recursive: true, force: true })
})

async function server(args: string[], conf?: (port: number, dir: string) => string): Promise<RedisProcess> {
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-topology-'))
  dirs.push(dir)
  const port = await freePort()
  const p = await redisServer({ dir, port, persist: false, args, conf: conf?.(port, dir) })
  started.push(p)
  await p.start()
  return p
}

function store(redis: Partial<RedisConfig>): TrackingStore {
  const { config } = parseConfig({})
  const log = { info: () => {}, warn: () => {} }
  return new TrackingStore(
    createRedisClient({ ...config.redis, ...redis }, 'mtrk-topology-test'),
    { prefix: 'topo:', historyLimit: 5, journal: null },
    log,
  )
}

/** Records messages under many envids (so, many hash slots) and reads every one back, events applied. */
async function roundTrip(s: TrackingStore): Promise<void> {
  await waitFor(() => s.available, 15000, 'store ready')
  const now = Date.now()
  const envids = Array.from({ length: 20 }, (_, i) => `m${i}@topology.example`)
  for (const envid of envids) {
    s.submit({
      message: message({ envid, envidXtext: envid, txn: `${envid}.1` }),
      recipients: [
        {
          key: 'u@example.net',
          base: recipient({ keepUntil: now + 60_000 }),
          event: {
            at: now + 1,
            patch: { action: 'delivered', status: '2.5.0', lastAttempt: now + 1 },
            attempt: { id: 'a', at: now + 1, action: 'delivered', status: '2.5.0' },
          },
        },
      ],
      now,
    })
  }
  for (const envid of envids) {
    const [m] = await waitFor(
      async () => {
        const found = await s.lookup(envid)
        return found.length ? found : undefined
      },
      10000,
      envid,
    )
    assert.equal(m?.recipients[0]?.action, 'delivered', envid)
  }
  await traceRoundTrip(s, now)
}

/**
 * The operator trace: messages in six hour buckets (so several slots), submitted together and written by one script
 * per bucket's slot (Cluster refuses a script whose keys span slots), then found by a search fanned out over the buckets, paged,
 * and counted by the summary.
 */
async function traceRoundTrip(s: TrackingStore, now: number): Promise<void> {
  const to = `u${now}@topology.example`
  for (let h = 0; h < 6; h++) {
    const header = {
      txn: `topo${now}-${h}.1`,
      arrival: now - h * 3_600_000,
      from: 's@topology.example',
      messageId: `${h}@topology.example`,
      envid: null,
      tracked: false,
      clientIp: '192.0.2.1',
      helo: 'client.topology.example',
      reportingMta: 'mx.topology.example',
    }
    const r = { key: to, base: recipient({ address: to, keepUntil: now + 60_000 }) }
    // Submitted in one tick: one batch whose groups are the buckets' slots.
    s.submit(traceWrite(header, [r], [`${header.txn}.1`], now))
  }
  const query = { keys: { to }, since: now - 6 * 3_600_000, until: now, outcomes: null, limit: 4 }
  await waitFor(
    async () => (await s.trace.summary(now - 6 * 3_600_000, now)).total.messages === 6,
    10000,
    'trace',
  )
  const first = await s.trace.search({ ...query, cursor: null })
  const cursor = parseCursor(first.next ?? '')
  const second = await s.trace.search({ ...query, cursor })
  assert.deepEqual(
    [...first.messages, ...second.messages].map((m) => m.messageId),
    ['0', '1', '2', '3', '4', '5'].map((h) => `${h}@topology.example`),
  )
  assert.equal(second.next, null)
  assert.equal(
    (await s.trace.find(`topo${now}-3.1.1`, now - 86_400_000, now))?.messageId,
    '3@topology.example',
  )
  const summary = await s.trace.summary(now - 6 * 3_600_000, now)
  assert.equal(summary.total.messages, 6)
}

test('Redis Cluster: every envid key lands on its slot; writes and lookups are single-key; trace buckets fan out', async () => {
  const cluster = await startRedisCluster()
  const s = store({ cluster: cluster.ports.map((port) => ({ host: '127.0.0.1', port })) })
  try {
    await roundTrip(s)
  } finally {
    await s.close()
    await cluster.close()
  }
})

test('Redis Sentinel: the client finds the master through a sentinel', async () => {
  const master = await server([])
  const sentinel = await server(['--sentinel'], (port, dir) => {
    const conf = join(dir, 'sentinel.conf')
    writeFileSync(conf, `port ${port}\nsentinel monitor mymaster 127.0.0.1 ${master.port} 1\n`)
    return conf
  })
  const s = store({ sentinels: [{ host: '127.0.0.1', port: sentinel.port }], sentinelName: 'mymaster' })
  try {
    await roundTrip(s)
  } finally {
    await s.close()
  }
})
