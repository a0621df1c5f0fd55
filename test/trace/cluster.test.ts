// The operator trace on Redis Cluster, end to end: a Haraka in cluster mode (a worker records) writes each message's
// trace into its hour bucket's slot, and `mtrk-trace`, reading the same mtrk.ini, finds it, shows its attempts and
// counts it, the search and the summary fanned out over the buckets.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { join } from 'node:path'
import { after, before, test } from 'node:test'
import { promisify } from 'node:util'
import type { TracedMessage, TracePage, TraceSummary } from '../../src/trace/index'
import { type HarakaInstance, REPO, startHaraka } from '../helpers/haraka'
import { type Peer, startPeer } from '../helpers/peer'
import { waitFor } from '../helpers/ports'
import { type RedisCluster, startRedisCluster } from '../helpers/redis'
import { pySendmail } from '../helpers/smtp'

const run = promisify(execFile)
let cluster: RedisCluster
let peer: Peer
let haraka: HarakaInstance

async function trace<T>(...args: string[]): Promise<T> {
  const r = await run(process.execPath, [
    join(REPO, 'bin', 'mtrk-trace.js'),
    '-c',
    haraka.dir,
    ...args,
    '--json',
  ])
  return JSON.parse(r.stdout) as T
}

before(async () => {
  cluster = await startRedisCluster()
  peer = await startPeer([{ name: 'plain', ehlo: ['ENHANCEDSTATUSCODES'] }])
  haraka = await startHaraka({
    redisPort: cluster.ports[0] as number,
    nodes: 1,
    plugins: ['test_rcpt', 'mtrk', 'test_queue', 'test_mx'],
    mtrk: { redis: { cluster: cluster.ports.map((p) => `127.0.0.1:${p}`).join(',') } },
    files: {
      'test_mx.json': JSON.stringify({
        'plain.relay.test': { port: peer.ports.plain, name: 'mx.plain.test' },
      }),
      'outbound.ini': 'local_mx_ok=true\n',
    },
  })
  for (const to of ['local@local.test', 'far@plain.relay.test']) {
    const sent = await pySendmail({ port: haraka.smtpPort, from: 'ops@cluster.example', to: [to] })
    assert.ok(sent.ok, JSON.stringify(sent))
  }
})

after(async () => {
  await haraka?.stop()
  await peer?.stop()
  await cluster?.close()
})

test('Cluster: every message found by sender and recipient, its outbound id shown with the attempt, counted', async () => {
  const page = await waitFor(
    async () => {
      const p = await trace<TracePage>('--from', 'ops@cluster.example', '--since', '1h')
      return p.messages.length === 2 && p.messages.every((m) => m.recipients[0]?.action !== 'delayed')
        ? p
        : undefined
    },
    20000,
    'both messages traced and done',
  )
  const far = page.messages.find((m) => m.recipients[0]?.address === 'far@plain.relay.test') as TracedMessage
  assert.equal(far.recipients[0]?.action, 'relayed')
  const [byRecipient] = (await trace<TracePage>('--to', 'far@plain.relay.test')).messages
  assert.equal(byRecipient?.txn, far.txn)
  const shown = await trace<TracedMessage>('show', `${far.txn}.1`)
  assert.deepEqual(
    shown.recipients[0]?.history.map((h) => [h.action, h.host, h.code]),
    [['relayed', 'mx.plain.test', '250']],
  )
  const summary = await trace<TraceSummary>('summary', '--since', '1h')
  assert.deepEqual(summary.total, { messages: 2, recipients: { delivered: 1, relayed: 1 } })
})
