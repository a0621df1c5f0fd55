// Tracked messages as the plugin writes them, built with the same model functions the hooks use: the acceptance
// write, then one delivery attempt per outcome. Shared by the MTQP, memory and flat-cost benchmarks.
import { createHash, randomUUID } from 'node:crypto'
import type { Redis } from 'ioredis'
import type { MessageHeader, RecordWrite } from '../src/model/records'
import { acceptanceWrite, type Tracked, type WriteContext } from '../src/model/tracking'
import { type AttemptResult, outcomeWrite, type RecipientReport } from '../src/relay/outcome'
import { openStore } from '../test/helpers/store'

export interface TrackedMessage {
  header: MessageHeader
  /** In the order the plugin sends them. */
  writes: RecordWrite[]
  /** The secret A (unpadded base64) that opens the message. */
  secret: string
}

const SECRET = Buffer.from('bench-secret-A16')
const CERTIFIER = createHash('sha1').update(SECRET).digest('base64').replace(/=+$/, '')
const DAY = 86400
const QUEUE_LIFETIME = 4 * DAY // close to Haraka's default retry schedule

/**
 * A message to `recipients` recipients with NOTIFY and ORCPT, accepted into the outbound queue, then `failures`
 * temporary failures and one attempt that hands it to a next hop advertising MTRK (transferred).
 */
export function trackedMessage(
  recipients: number,
  failures = 0,
  envid = `${randomUUID()}@client.example.org`,
) {
  const txn = `${randomUUID().toUpperCase()}.1`
  const arrival = Date.now()
  const keys = Array.from({ length: recipients }, (_, i) => `user${i}@example.org`)
  const note: Tracked = {
    v: 1,
    envid,
    ret: 'HDRS',
    track: { certifier: CERTIFIER, timeout: DAY, retention: DAY, envid },
    arrival,
    rcpts: Object.fromEntries(keys.map((k) => [k, { orcpt: `rfc822;${k}`, notify: 'SUCCESS,FAILURE' }])),
  }
  const ctx = (now: number): WriteContext => ({
    txn,
    reportingMta: 'mx1.relay.example.net',
    now,
    queueLifetime: QUEUE_LIFETIME,
    queuedGrace: DAY,
  })
  const accepted = keys.map((key) => ({ key, address: key }))
  const writes = [acceptanceWrite(note, accepted, { kind: 'queued' }, ctx(arrival))]
  const attempt = (n: number, result: AttemptResult, code: string, reply: string) => {
    const now = arrival + 1000 + n * 600_000
    const reports: RecipientReport[] = accepted.map((r) => ({
      ...r,
      host: 'mx2.example.org',
      code,
      reply,
      status: reply.split(' ')[0] ?? null,
    }))
    const id = `${txn.replace(/\.1$/, '')}.1:${randomUUID().slice(0, 8)}:${n}:${result.kind}`
    writes.push(
      outcomeWrite(note, result, reports, {
        ...ctx(now),
        attemptId: id,
        giveUp: arrival + QUEUE_LIFETIME * 1000,
      }),
    )
  }
  for (let n = 0; n < failures; n++)
    attempt(n, { kind: 'temporary' }, '451', '4.3.0 Temporary lookup failure, try again later')
  attempt(
    failures,
    { kind: 'accepted', lmtp: false, mtrkSent: true },
    '250',
    '2.0.0 Ok: queued as 4Fz9Xq1abcZ',
  )
  const header = writes[0]!.message
  return { header, writes, secret: SECRET.toString('base64').replace(/=+$/, '') } satisfies TrackedMessage
}

/** Writes `m` as the plugin would, through a TrackingStore on `prefix`; resolves with its envid key. */
export async function storeMessage(redisPort: number, prefix: string, m: TrackedMessage): Promise<string> {
  const store = await openStore(redisPort, prefix)
  for (const w of m.writes) await store.record(w)
  await store.close()
  return store.key(m.header.envid)
}

/** Redis's used_memory, in bytes. */
export async function usedMemory(client: Redis): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await client.info('memory'))?.[1])
}
