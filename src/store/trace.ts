// The operator trace in Redis (README "Message trace"). Keys of one message live in the hour bucket of its arrival,
// `<prefix>trace:{YYYYMMDDHH}:`, whose hash tag puts the whole bucket in one Cluster slot: a write is one script on
// one slot, and a search or summary fans out over the buckets of its time range (in parallel, a few at a time).
//   <bucket>m:<txn>     hash: `h` header, `r:<recipient>` recipient with its history (positional JSON, ./codec),
//                       `q:<id>` queue ids
//   <bucket>t           sorted set of the bucket's transactions by arrival (ms)
//   <bucket>c           hash: `messages`, and per action the recipients in it now
//   <bucket>i:<term>    sorted set by arrival of the transactions with this index term (src/model/trace.ts)
//   <bucket>u:q, u:mid  the queue ids' and Message-IDs' index: one sorted set per bucket, members
//                       `<value>\0<arrival, 13 digits>\0<txn>` (score 0, searched by ZRANGEBYLEX), so that no key is
//                       created per message for values (nearly) unique to it. Sets `i:q:<id>`, `i:mid:<id>` of
//                       versions before are still searched until they expire.
// Every key expires with the latest record it holds or points to. No KEYS or SCAN: searches read index sets only,
// in bounded work per call. These keys are never read by MTQP, which answers from `<prefix>envid:` hashes only.

import type { RedisConfig } from '../config/config'
import { type Endpoint, formatEndpoint } from '../config/listen'
import {
  bucketOf,
  bucketsBetween,
  sharedTerm,
  type TracedMessage,
  type TraceHeader,
  term,
} from '../model/trace'
import { connectionPrefix, formatCursor, type TraceQuery } from '../model/trace-query'
import type { Action } from '../tsn/types'
import { isAction } from '../tsn/types'
import { bucketKey } from './batch'
import { decodeTraceHeader, decodeTraceRecipient } from './codec'
import { createRedisClient, type RedisClient } from './redis'
import { type SearchReply, TRACE_SEARCH_COMMAND, TRACE_SEARCH_SCRIPT } from './trace-scripts'

/** Candidates one search call examines at most in a bucket: bounds the time Redis spends per call. */
const BUDGET = 20_000

/** Buckets searched in parallel per round trip. */
const FAN_OUT = 8

/** Hour counts a summary asks for per round trip. */
const SUMMARY_ROUND = 256

/** One page of a search, newest first; `next` continues it (TraceQuery.cursor), null when nothing is left. */
export interface TracePage {
  messages: TracedMessage[]
  next: string | null
}

export interface HourCounts {
  /** ms since the epoch: the start of the UTC hour. */
  start: number
  /** Messages that arrived in this hour. */
  messages: number
  /** Their recipients by current state. */
  recipients: Partial<Record<Action, number>>
}

export interface TraceSummary {
  /** The hours covering the range, oldest first (only hours with messages). */
  hours: HourCounts[]
  total: Omit<HourCounts, 'start'>
}

/**
 * The fields of the message hash of `txn` (HGETALL as a flat list) as a traced message, in either trace format
 * (./codec); null when its header is unreadable.
 */
export function decodeTraced(txn: string, flat: readonly string[]): TracedMessage | null {
  let header: TraceHeader | null = null
  const queueIds: string[] = []
  const recipients = []
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const field = flat[i] as string
    const value = flat[i + 1] as string
    if (field === 'h') header = decodeTraceHeader(txn, value)
    else if (field.startsWith('q:')) queueIds.push(field.slice(2))
    else if (field.startsWith('r:')) {
      const r = decodeTraceRecipient(txn, field.slice(2), value)
      if (r) recipients.push(r)
    }
  }
  if (!header) return null
  queueIds.sort()
  return { ...header, queueIds: [header.txn, ...queueIds.filter((q) => q !== header.txn)], recipients }
}

export class TraceStore {
  constructor(
    private readonly client: RedisClient,
    private readonly opts: { prefix: string },
  ) {
    // ioredis sends EVALSHA, and the script itself on a connection that does not know it yet (NOSCRIPT).
    client.defineCommand(TRACE_SEARCH_COMMAND, { lua: TRACE_SEARCH_SCRIPT })
  }

  /** `<prefix>trace:{YYYYMMDDHH}:`: the common start of every key of one hour bucket. */
  bucketKey(bucket: string): string {
    return bucketKey(this.opts.prefix, bucket)
  }

  /** One page of messages matching every key of the query, newest first; rejects when Redis fails. */
  async search(q: TraceQuery): Promise<TracePage> {
    const terms = Object.entries(q.keys).map(([k, v]) => term(k as keyof TraceQuery['keys'], v as string))
    const until = q.cursor ? Math.min(q.until, q.cursor.arrival) : q.until
    const buckets = bucketsBetween(q.since, until)
    const messages: TracedMessage[] = []
    for (let i = 0; i < buckets.length; i += FAN_OUT) {
      const replies = await Promise.all(
        buckets.slice(i, i + FAN_OUT).map(({ bucket }) => this.searchBucket(bucket, terms, q, until)),
      )
      for (const [status, lastArrival, lastTxn, matches] of replies) {
        for (const [txn, , fields] of matches) {
          const m = decodeTraced(txn, fields)
          if (m) messages.push(m)
          if (messages.length >= q.limit) return { messages, next: formatCursor(last(messages)) }
        }
        // Out of budget in this bucket: what was examined is answered, the rest is the next page's. A position the
        // script did not reach would restart the search from the top (or end it): never a cursor then.
        if (status === 'budget') {
          if (lastTxn === '')
            throw new Error('trace search: a bucket ran out of budget before its first candidate')
          return { messages, next: formatCursor({ arrival: Number(lastArrival), txn: lastTxn }) }
        }
      }
    }
    return { messages, next: null }
  }

  private searchBucket(bucket: string, terms: string[], q: TraceQuery, until: number): Promise<SearchReply> {
    const base = this.bucketKey(bucket)
    const keys: string[] = []
    const kinds: string[] = []
    for (const t of terms) {
      const kv = sharedTerm(t)
      const connection = kv?.[0] === 'q' ? connectionPrefix(kv[1]) : null
      if (connection !== null) keys.push(`${base}u:q`, `${base}t`)
      else if (kv) keys.push(`${base}u:${kv[0]}`, `${base}i:${t}`)
      else keys.push(`${base}i:${t}`)
      kinds.push(connection !== null ? `p${connection}` : kv ? `u${kv[1]}` : 's')
    }
    if (!terms.length) {
      keys.push(`${base}t`)
      kinds.push('s')
    }
    const cursorHere = q.cursor !== null && bucketOf(q.cursor.arrival) === bucket
    const to = q.keys.to === undefined ? '' : term('to', q.keys.to).slice(2)
    const toDomain = q.keys.toDomain === undefined ? '' : term('toDomain', q.keys.toDomain).slice(3)
    return this.client[TRACE_SEARCH_COMMAND](
      keys.length,
      ...keys,
      `${base}m:`,
      String(q.since),
      String(until),
      cursorHere ? (q.cursor?.txn ?? '') : '',
      String(q.limit),
      String(BUDGET),
      q.outcomes?.join(',') ?? '',
      to,
      toDomain,
      ...kinds,
    ) as Promise<SearchReply>
  }

  /**
   * The message a queue id names: Haraka's transaction uuid, or an outbound `uuid.N` (found by its index entry,
   * or through its transaction before any delivery attempt recorded it). Null when none is kept, and for a
   * connection's uuid, which names no one message (a search by it finds each of them).
   */
  async find(queueId: string, since: number, until: number): Promise<TracedMessage | null> {
    if (connectionPrefix(queueId) !== null) return null
    const ids = /\.\d+\.\d+$/.test(queueId) ? [queueId, queueId.replace(/\.\d+$/, '')] : [queueId]
    for (const id of ids) {
      const page = await this.search({
        keys: { queueId: id },
        since,
        until,
        outcomes: null,
        limit: 1,
        cursor: null,
      })
      if (page.messages[0]) return page.messages[0]
    }
    return null
  }

  /** Closes a reader's own client (openTraceStore); a TrackingStore closes the client it shares. */
  async close(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect())
  }

  /** Counts per arrival hour over the hours covering [since, until]; rejects when Redis fails. */
  async summary(since: number, until: number): Promise<TraceSummary> {
    const buckets = bucketsBetween(since, until).reverse()
    // A few hundred at a time: a long range (the kept window is up to a year and more) queues no more replies.
    const counts: Array<Record<string, string>> = []
    for (let i = 0; i < buckets.length; i += SUMMARY_ROUND)
      counts.push(
        ...(await Promise.all(
          buckets
            .slice(i, i + SUMMARY_ROUND)
            .map(({ bucket }) => this.client.hgetall(`${this.bucketKey(bucket)}c`)),
        )),
      )
    const hours: HourCounts[] = []
    const total: Omit<HourCounts, 'start'> = { messages: 0, recipients: {} }
    buckets.forEach(({ start }, i) => {
      const c = counts[i] ?? {}
      const messages = Number(c.messages ?? 0)
      if (!messages) return
      const recipients: Partial<Record<Action, number>> = {}
      for (const [field, n] of Object.entries(c)) {
        if (!isAction(field) || Number(n) <= 0) continue
        recipients[field] = Number(n)
        total.recipients[field] = (total.recipients[field] ?? 0) + Number(n)
      }
      total.messages += messages
      hours.push({ start, messages, recipients })
    })
    return { hours, total }
  }
}

/** Redis could not be reached, or stopped answering: what a reader reports instead of a stack trace. */
export class TraceUnavailable extends Error {}

/** A TraceStore on a client of its own (connectReader), for readers: the `mtrk-trace` command, an HTTP API. */
export async function openTraceStore(cfg: RedisConfig, connectionName: string): Promise<TraceStore> {
  return new TraceStore(await connectReader(cfg, connectionName), { prefix: cfg.prefix })
}

/**
 * A client of its own for an operator tool, once Redis answers. Rejects with TraceUnavailable, naming the endpoint
 * and the last error, when it does not within the connect timeout.
 */
export async function connectReader(cfg: RedisConfig, connectionName: string): Promise<RedisClient> {
  const client = createRedisClient(cfg, connectionName)
  let lastError = 'no answer'
  // ioredis's parser meeting a reply that is not RESP (a web server's, say) asks for a bug report; the server
  // may close the connection after it, so that error need not be the last.
  let notRedis = false
  client.on('error', (e: Error) => {
    lastError = e.message
    notRedis ||= e.message.startsWith('Unknown RESP type')
  })
  const ready = await new Promise<boolean>((resolve) => {
    const timer = setTimeout(() => resolve(false), cfg.connectTimeout + 1000)
    client.once('ready', () => {
      clearTimeout(timer)
      resolve(true)
    })
  })
  if (!ready) {
    client.disconnect()
    if (notRedis) throw new TraceUnavailable(`what answers at ${describeEndpoint(cfg)} is not a Redis server`)
    throw new TraceUnavailable(`Redis at ${describeEndpoint(cfg)} is unreachable: ${lastError}`)
  }
  return client
}

export function describeEndpoint(cfg: RedisConfig): string {
  const list = (es: ReadonlyArray<Endpoint>) => es.map(formatEndpoint).join(',')
  if (cfg.cluster) return `cluster ${list(cfg.cluster)}`
  if (cfg.sentinels) return `sentinels ${list(cfg.sentinels)} (${cfg.sentinelName})`
  return cfg.socket ?? `${cfg.host}:${cfg.port}`
}

const last = (ms: TracedMessage[]) => {
  const m = ms[ms.length - 1] as TracedMessage
  return { arrival: m.arrival, txn: m.txn }
}
