// A trace search as typed input: the keys, time range, outcome filter, page size and paging cursor, read from the
// strings an operator (or an HTTP query) gives. Pure. Every bad value is reported by the option that carried it.
import { isIP } from 'node:net'
import { ACTIONS, type Action } from '../tsn/types'
import { err, ok, type Result } from '../util/result'
import { parseDuration } from './retention'
import { TRACE_KEYS, type TraceKey } from './trace'

/** Where paging resumes: after this message, in the newest-first order of results. */
export interface TraceCursor {
  arrival: number
  txn: string
}

export interface TraceQuery {
  /** Keys a message must match, all of them (ASCII letters in addresses, domains and HELO compare caseless). */
  keys: Partial<Record<TraceKey, string>>
  /** ms since the epoch, inclusive: arrival times searched. */
  since: number
  until: number
  /** Only recipients in one of these states (RFC 3464 §2.3.3 actions); null: every state. */
  outcomes: readonly Action[] | null
  /** Messages per page. */
  limit: number
  cursor: TraceCursor | null
}

/** The states a traced recipient can be in: RFC 3464 §2.3.3 actions and RFC 3886's `transferred`. */
export const TRACE_OUTCOMES: readonly Action[] = ACTIONS.filter((a) => a !== 'opaque')

const isOutcome = (w: string): w is Action => (TRACE_OUTCOMES as readonly string[]).includes(w)

export const MAX_LIMIT = 1000
export const DEFAULT_LIMIT = 50

/**
 * For the uuid of a connection, as Haraka logs it at connect and disconnect, the start of its messages' queue ids
 * (`<uuid>.`: transaction ids are `<uuid>.N`, outbound ids `<uuid>.N.M`); null for a queue id, which has a dot.
 */
export function connectionPrefix(queueId: string): string | null {
  return queueId.includes('.') ? null : `${queueId}.`
}

/** The option name of each key, as the command and the HTTP API spell it. */
export const KEY_OPTIONS: Readonly<Record<TraceKey, string>> = {
  from: 'from',
  fromDomain: 'from-domain',
  to: 'to',
  toDomain: 'to-domain',
  messageId: 'message-id',
  envid: 'envid',
  queueId: 'queue-id',
  ip: 'ip',
  helo: 'helo',
}

/**
 * A point in time: `now`, a duration ago (`90s`, `30m`, `2h`, `3d`), or an ISO 8601 date or date-time
 * (`2026-11-30`, `2026-11-30T10:00Z`; without a zone it is UTC). A date alone is its first millisecond, or with
 * `endOfDay` its last (an inclusive end: `--until 2026-11-30` takes in that whole day). ms since the epoch, or null
 * when unreadable.
 */
export function parseTime(s: string, now: number, endOfDay = false): number | null {
  const t = s.trim()
  if (t === 'now') return now
  const ago = /^\d+[smhd]$/.test(t) ? parseDuration(t) : null
  if (ago !== null) return now - ago * 1000
  const iso =
    /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(Z|[+-]\d{2}:?\d{2})?)?$/.exec(
      t,
    )
  if (!iso) return null
  // Date.parse rolls an impossible date over (2026-11-31 is December 1): refused instead.
  const [year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0] = iso
    .slice(1, 7)
    .map((v) => Number(v ?? 0))
  const days = new Date(Date.UTC(year, month, 0)).getUTCDate()
  if (month < 1 || month > 12 || day < 1 || day > days || hour > 23 || minute > 59 || second > 59) return null
  const dateOnly = t.length === 10
  const zoned = dateOnly || iso[7] !== undefined ? t : `${t}Z`
  const ms = Date.parse(zoned.replace(' ', 'T'))
  if (!Number.isFinite(ms)) return null
  return dateOnly && endOfDay ? ms + 86_400_000 - 1 : ms
}

export function formatCursor(c: TraceCursor): string {
  return `${c.arrival}~${c.txn}`
}

export function parseCursor(s: string): TraceCursor | null {
  const m = /^(\d{1,15})~(\S+)$/.exec(s)
  return m ? { arrival: Number(m[1]), txn: m[2] as string } : null
}

/** Every field a search reads: the keys, then the time range, outcome filter, page size and cursor. */
export const QUERY_FIELDS = [...TRACE_KEYS, 'since', 'until', 'outcome', 'limit', 'cursor'] as const

export type QueryField = (typeof QUERY_FIELDS)[number]

/** What a search is given, every value a string as typed; absent or undefined: not given. */
export type TraceQueryInput = Partial<Record<QueryField, string>>

export interface QueryDefaults {
  /** ms since the epoch */
  now: number
  /** ms searched back from `until` when `since` is not given. */
  window: number
  /** ms a record is kept at most after its arrival (keptAtMost of src/trace): no range reaches further back. */
  kept: number
  /**
   * How an error names a field (a TraceKey or since, until, outcome, limit, cursor): the command's option by default
   * (`--to-domain`); the operator page's API names its query keys as they are (`toDomain`).
   */
  name?: (field: string) => string
}

/**
 * ms a writer's clock may be ahead of a reader's: arrivals later than the reader's now by more are not searched.
 * Haraka stamps the arrival; an operator may search from another host.
 */
export const CLOCK_AHEAD = 3_600_000

/**
 * The part of [since, until] (ms since the epoch, inclusive) where a record can still be: from `now - kept` (older
 * records have expired) to `now + CLOCK_AHEAD`. A range given as far back as one likes (`--since 2000-01-01`) thus
 * costs no more than the kept window: the hour buckets a search or summary reads are those of this part only. A
 * range wholly before it shrinks to its end, where nothing is kept.
 */
export function keptRange(
  since: number,
  until: number,
  now: number,
  kept: number,
): { since: number; until: number } {
  const end = Math.min(until, now + CLOCK_AHEAD)
  return { since: Math.min(Math.max(since, now - kept), end), until: end }
}

/** The command's option for a field: `--to-domain` for toDomain, `--since` for since. */
export const optionName = (field: string): string => `--${KEY_OPTIONS[field as TraceKey] ?? field}`

function keyValue(key: TraceKey, raw: string, name: (field: string) => string): Result<string> {
  const v = raw.trim()
  const n = name(key)
  // The null sender is searched as `<>`.
  if (key === 'from' && v === '<>') return ok('')
  if (v === '') return err(key === 'from' ? `${n}: empty (the null sender is written <>)` : `${n}: empty`)
  if (/[\s\0]/.test(v)) return err(`${n}: "${raw}" contains white space`)
  if ((key === 'from' || key === 'to') && !v.includes('@') && !/^postmaster$/i.test(v))
    return err(`${n}: "${raw}" is not an address (local@domain)`)
  if ((key === 'fromDomain' || key === 'toDomain') && v.includes('@'))
    return err(`${n}: "${raw}" is an address, not a domain (use ${name(key === 'toDomain' ? 'to' : 'from')})`)
  if (key === 'ip' && isIP(v) === 0) return err(`${n}: "${raw}" is not an IP address`)
  return ok(key === 'messageId' ? v.replace(/^<(.*)>$/, '$1') : v)
}

/** Reads a search; the error names the option and what it accepts. */
export function parseTraceQuery(input: TraceQueryInput, d: QueryDefaults): Result<TraceQuery> {
  const name = d.name ?? optionName
  const keys: Partial<Record<TraceKey, string>> = {}
  for (const key of TRACE_KEYS) {
    const raw = input[key]
    if (raw === undefined) continue
    const v = keyValue(key, raw, name)
    if (!v.ok) return v
    keys[key] = v.value
  }
  const time = (field: 'since' | 'until', fallback: number): Result<number> => {
    const raw = input[field]
    if (raw === undefined) return ok(fallback)
    const t = parseTime(raw, d.now, field === 'until')
    if (t === null)
      return err(
        `${name(field)}: "${raw}" is not a time (now, a duration ago like 30m, 2h, 3d, or ISO 8601 like 2026-11-30T10:00Z)`,
      )
    // A duration reaching past the epoch (999999999d) is a typo, not a wish for everything kept.
    return t < 0 ? err(`${name(field)}: "${raw}" is before 1970`) : ok(t)
  }
  const until = time('until', d.now)
  if (!until.ok) return until
  const since = time('since', until.value - d.window)
  if (!since.ok) return since
  if (since.value > until.value)
    return err(
      `${name('since')}: ${new Date(since.value).toISOString()} is ${input.until === undefined ? 'in the future' : `after ${name('until')}`}`,
    )
  if (since.value > d.now + CLOCK_AHEAD)
    return err(`${name('since')}: ${new Date(since.value).toISOString()} is in the future`)
  const range = keptRange(since.value, until.value, d.now, d.kept)

  let outcomes: Action[] | null = null
  if (input.outcome !== undefined) {
    const words = input.outcome.split(',').map((w) => w.trim().toLowerCase())
    const bad = words.find((w) => !isOutcome(w))
    if (bad !== undefined)
      return err(`${name('outcome')}: "${bad}" is not one of ${TRACE_OUTCOMES.join(', ')}`)
    outcomes = words.filter(isOutcome)
  }
  let limit = DEFAULT_LIMIT
  if (input.limit !== undefined) {
    limit = Number(input.limit)
    if (!/^\d+$/.test(input.limit.trim()) || limit < 1 || limit > MAX_LIMIT)
      return err(`${name('limit')}: "${input.limit}" is not a number from 1 to ${MAX_LIMIT}`)
  }
  let cursor: TraceCursor | null = null
  if (input.cursor !== undefined) {
    cursor = parseCursor(input.cursor.trim())
    if (!cursor) return err(`${name('cursor')}: "${input.cursor}" is not a cursor a previous page gave`)
  }
  return ok({ keys, ...range, outcomes, limit, cursor })
}
