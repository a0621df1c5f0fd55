// The operator trace as a library (`haraka-plugin-mtrk/trace`): find any message the relay accepted by sender,
// recipient, Message-ID, ENVID, queue id, client or time, see every recipient's attempts, count outcomes per hour.
// The `mtrk-trace` command (./cli) and an HTTP API call this. It reads the plugin's own config/mtrk.ini to reach
// the same Redis.
//
//   const trace = await openTrace(readMtrkIni('/etc/haraka/config/mtrk.ini').config)
//   const q = trace.query({ to: 'bob@example.com', since: '1d', outcome: 'failed' })
//   if (q.ok) for (const m of (await trace.search(q.value)).messages) console.log(m.txn, m.from)
//   await trace.close()
import { readFileSync } from 'node:fs'
import { load as loadIni } from 'haraka-config/lib/readers/ini'
import { applyRedisUrl, type IniSections, type MtrkConfig, parseConfig } from '../config/config'
import type { TracedMessage } from '../model/trace'
import {
  CLOCK_AHEAD,
  keptRange,
  parseTraceQuery,
  type TraceQuery,
  type TraceQueryInput,
} from '../model/trace-query'
import { openTraceStore, type TracePage, type TraceSummary, TraceUnavailable } from '../store/trace'
import type { Result } from '../util/result'

export type { TracedMessage, TraceHeader, TraceKey } from '../model/trace'
export { TRACE_KEYS } from '../model/trace'
export type { TraceCursor, TraceQuery, TraceQueryInput } from '../model/trace-query'
export {
  DEFAULT_LIMIT,
  formatCursor,
  KEY_OPTIONS,
  MAX_LIMIT,
  parseCursor,
  parseTime,
} from '../model/trace-query'
export type { HourCounts, TracePage, TraceSummary } from '../store/trace'
export { TraceUnavailable } from '../store/trace'

/**
 * Seconds a queued message may stay in Haraka's outbound queue with its default retry schedule (2^6 .. 2^17 s):
 * its trace record is kept that much longer at most.
 */
const DEFAULT_QUEUE_LIFETIME = 262_080

/** config/mtrk.ini could not be read, or MTRK_REDIS_URL is malformed. */
export class TraceConfigError extends Error {}

/**
 * Reads config/mtrk.ini with Haraka's own ini reader (haraka-config), so the file means here what it means to the
 * plugin; MTRK_REDIS_URL overrides the endpoint as it does for the plugin. `errors` names each ignored value by
 * `[section] key`. Throws TraceConfigError when the file cannot be read, and when MTRK_REDIS_URL is set but
 * malformed: a reader must not fall back to mtrk.ini's Redis then, which may be another one than meant.
 */
export function readMtrkIni(
  path: string,
  env: NodeJS.ProcessEnv = process.env,
): { config: MtrkConfig; errors: string[] } {
  let ini: IniSections
  try {
    readFileSync(path) // a missing or unreadable file is an error here, not an empty configuration
    ini = loadIni(path, {}) as IniSections
  } catch (e) {
    throw new TraceConfigError(`${path}: ${e instanceof Error ? e.message : String(e)}`)
  }
  const { config, errors } = parseConfig(ini)
  const fromEnv = applyRedisUrl(config.redis, env.MTRK_REDIS_URL)
  if (fromEnv.error !== undefined) throw new TraceConfigError(fromEnv.error)
  config.redis = fromEnv.redis
  return { config, errors }
}

export interface Trace {
  /**
   * Reads a search from strings as typed (`since`/`until`: now, 30m, 2h, 3d or ISO 8601; `outcome`: actions,
   * comma separated; `limit`; `cursor` from a previous page). Without `since`, everything still kept is searched;
   * a range reaching further back (or more than an hour ahead) is cut to what can still be kept (keptRange).
   * The error names the option (`--since`), or what `name` makes of the field (the operator page: `since`).
   */
  query(input: TraceQueryInput, now?: number, name?: (field: string) => string): Result<TraceQuery>
  /**
   * One page of messages matching every key, newest first, in the range cut to what can still be kept;
   * rejects with TraceUnavailable when Redis fails.
   */
  search(query: TraceQuery): Promise<TracePage>
  /**
   * The message with this queue id (Haraka's transaction uuid or an outbound `uuid.N`), with every attempt; null
   * when none is kept, and for a connection's uuid (`search` with it as `queueId` finds each of its messages).
   */
  show(queueId: string, now?: number): Promise<TracedMessage | null>
  /**
   * Messages per arrival hour and their recipients per current state, over the hours covering the range (ms), cut
   * to what can still be kept: at most keptAtMost's hours are read, however far back `since` is.
   */
  summary(since: number, until: number): Promise<TraceSummary>
  close(): Promise<void>
}

/**
 * Seconds a message is assumed to stay queued at most when cutting a time range: Haraka's default schedule gives up
 * after about 3 days, RFC 5321 §4.5.4.1 suggests 4-5; an outbound.ini retrying longer is allowed for up to 30.
 */
const LONGEST_QUEUE_LIFETIME = 30 * 86_400

/**
 * ms searched back from now by default: the longest a trace record is kept with Haraka's default retry schedule.
 * A record lives `[trace] retention` from arrival, or, while a recipient is still queued, until the queue gives up
 * plus `[main] queued_grace`.
 */
export function keptWindow(config: MtrkConfig): number {
  return (config.trace.retention + config.main.queuedGrace + DEFAULT_QUEUE_LIFETIME) * 1000
}

/**
 * ms back from now that any search or summary reads at most, however far back it is asked to: keptWindow with
 * LONGEST_QUEUE_LIFETIME for the queue's, so that a record kept longer by a slower retry schedule is still found
 * when asked for. Bounds the hour buckets a range reads (keptRange).
 */
export function keptAtMost(config: MtrkConfig): number {
  return (config.trace.retention + config.main.queuedGrace + LONGEST_QUEUE_LIFETIME) * 1000
}

/** Connects to the Redis of `config` ([redis]); rejects with TraceUnavailable when it does not answer. */
export async function openTrace(config: MtrkConfig, connectionName = 'mtrk-trace'): Promise<Trace> {
  const store = await openTraceStore(config.redis, connectionName)
  const window = keptWindow(config)
  const most = keptAtMost(config)
  const kept = (since: number, until: number) => keptRange(since, until, Date.now(), most)
  return {
    query: (input, now = Date.now(), name) => parseTraceQuery(input, { now, window, kept: most, name }),
    // A query not made by `query` (or made long ago) is cut here too: no range reads more than keptAtMost.
    search: (q) => unavailableOnFailure(() => store.search({ ...q, ...kept(q.since, q.until) })),
    // As far as a search can reach: a message a search lists is one `show` finds.
    show: (id, now = Date.now()) => unavailableOnFailure(() => store.find(id, now - most, now + CLOCK_AHEAD)),
    summary: (since, until) => {
      const r = kept(since, until)
      return unavailableOnFailure(() => store.summary(r.since, r.until))
    },
    close: () => store.close(),
  }
}

async function unavailableOnFailure<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read()
  } catch (e) {
    throw new TraceUnavailable(`Redis failed: ${e instanceof Error ? e.message : String(e)}`)
  }
}
