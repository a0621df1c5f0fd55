// RFC 3885 §4.1 (MTRK-11): the retention of envid records already stored, lowered retroactively (`mtrk-trace
// retention`). Walks `<prefix>envid:*` with SCAN on every master, a page of keys at a time, and rewrites each key in
// one Lua call that applies only if the key is still as it was read (else it is read again): the plugin may write to
// it meanwhile. What to write is decided by the pure lowerStoredRetention (./codec, model/retention.ts).
import { Cluster, type Result } from 'ioredis'
import type { RetentionCut } from '../model/retention'
import { envidKey } from './batch'
import { lowerStoredRetention } from './codec'
import type { RedisClient } from './redis'

const LOWER_COMMAND = 'mtrkLowerRetention'

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** LOWER_SCRIPT: the key, then its ARGV. */
    mtrkLowerRetention(
      key: string,
      ...args: string[]
    ): Result<'changed' | 'removed' | 'shortened' | 'kept', Context>
  }
}

/**
 * Rewrites one envid hash if it is exactly as read: KEYS[1] the key; ARGV[1] ms it must live from now (0 or less: it
 * is removed), ARGV[2] a TTL above which it is lowered to ARGV[1] (ms), ARGV[3] n, then n triples of a field, its value
 * as read and its new value ('' unchanged). Returns `changed` (nothing done: a field was added, removed or rewritten
 * since it was read), `removed`, `shortened` (its TTL lowered) or `kept` (never lengthened).
 */
const LOWER_SCRIPT = `
local k, ms, above, n = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
if redis.call('HLEN', k) ~= n then return 'changed' end
for i = 1, n do
  if redis.call('HGET', k, ARGV[1 + 3 * i]) ~= ARGV[2 + 3 * i] then return 'changed' end
end
if ms <= 0 then
  redis.call('DEL', k)
  return 'removed'
end
for i = 1, n do
  if ARGV[3 + 3 * i] ~= '' then redis.call('HSET', k, ARGV[1 + 3 * i], ARGV[3 + 3 * i]) end
end
local ttl = redis.call('PTTL', k)
if ttl == -1 or ttl > above then
  redis.call('PEXPIRE', k, ms)
  return 'shortened'
end
return 'kept'
`

/** What a run did (or, dry, would do). */
export interface RetentionReport {
  /** envid keys examined */
  keys: number
  /** keys whose TTL was lowered */
  keysShortened: number
  /** keys removed: nothing in them is kept any longer */
  keysRemoved: number
  /** keys left as they were: a value that is not a format-2 message, or one that kept changing during the run */
  keysSkipped: number
  /** messages examined */
  records: number
  /** messages now answering TRACK for less time than before */
  recordsShortened: number
  /** recipients still queued kept past arrival + the new maximum (MTRK-10) */
  recipientsQueued: number
}

export interface RetentionRun extends RetentionCut {
  prefix: string
  /** Report what would change, change nothing. */
  dryRun: boolean
  /** Keys asked for per SCAN call (its COUNT). */
  batch: number
}

/**
 * ms a key may outlive its latest keep time and still count as not longer than needed: the plugin's writes set a TTL
 * from their own clock, a few ms before Redis applies it.
 */
const SLACK_MS = 1000

/** Times one key is read again when the plugin changed it between the read and the rewrite. */
const ATTEMPTS = 5

/**
 * Lowers the retention of every envid record to `run.maxRetention` (MTRK-11), never below what a recipient still
 * queued needs (MTRK-10), and each key's TTL to its new latest keep time (never longer). SCAN, never KEYS; on Cluster
 * every master is scanned. Rejects when Redis fails; a key Redis refuses (not a hash) is skipped.
 */
export async function runRetention(client: RedisClient, run: RetentionRun): Promise<RetentionReport> {
  client.defineCommand(LOWER_COMMAND, { lua: LOWER_SCRIPT, numberOfKeys: 1 })
  const report: RetentionReport = {
    keys: 0,
    keysShortened: 0,
    keysRemoved: 0,
    keysSkipped: 0,
    records: 0,
    recordsShortened: 0,
    recipientsQueued: 0,
  }
  const start = envidKey(run.prefix, '')
  const match = `${start.replace(/[*?[\]\\]/g, '\\$&')}*`
  const nodes = client instanceof Cluster ? client.nodes('master') : [client]
  for (const node of nodes) {
    let cursor = '0'
    do {
      const [next, keys] = await node.scan(cursor, 'MATCH', match, 'COUNT', run.batch)
      cursor = next
      // A key SCAN returns twice (the table grew during the walk) is lowered twice: harmless, never lengthened.
      await Promise.all(keys.map((k) => lowerKey(client, k, k.slice(start.length), run, report)))
    } while (cursor !== '0')
  }
  return report
}

async function lowerKey(
  client: RedisClient,
  key: string,
  envid: string,
  run: RetentionRun,
  report: RetentionReport,
): Promise<void> {
  report.keys++
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    let fields: Record<string, string>
    let ttl: number
    try {
      ;[fields, ttl] = await Promise.all([client.hgetall(key), client.pttl(key)])
    } catch (e) {
      if (isWrongType(e)) return void report.keysSkipped++
      throw e
    }
    const entries = Object.entries(fields)
    if (entries.length === 0) return // expired since SCAN saw it
    const records = entries.map(([txn, json]) => lowerStoredRetention(txn, envid, json, run))
    if (records.some((r) => r === null)) return void report.keysSkipped++
    const lowered = records.filter((r) => r !== null)
    const ms = Math.max(...lowered.map((r) => r.lowered.until)) - run.now
    const rewrites = lowered.some((r) => r.json !== null)
    const planned = ms <= 0 ? 'removed' : ttl === -1 || ttl > ms + SLACK_MS ? 'shortened' : 'kept'
    const outcome =
      run.dryRun || (!rewrites && planned === 'kept')
        ? planned
        : await client[LOWER_COMMAND](
            key,
            String(ms),
            String(ms + SLACK_MS),
            String(entries.length),
            ...entries.flatMap(([txn, json], i) => [txn, json, lowered[i]?.json ?? '']),
          )
    if (outcome === 'changed') continue
    report.records += lowered.length
    report.recordsShortened += lowered.filter((r) => r.lowered.until < r.lowered.before).length
    report.recipientsQueued += lowered.reduce((n, r) => n + r.lowered.held, 0)
    if (outcome === 'shortened') report.keysShortened++
    if (outcome === 'removed') report.keysRemoved++
    return
  }
  report.keysSkipped++
}

const isWrongType = (e: unknown) => e instanceof Error && e.message.startsWith('WRONGTYPE')
