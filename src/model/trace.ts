// The operator trace (issue 12): what is recorded of every message the relay accepts, with or without MTRK, and the
// index terms an operator searches by. Pure. Trace records live apart from the envid records MTQP answers from
// (src/store/trace.ts), so a message without MTRK is never answerable over MTQP; the body is never part of them.
import { decodeXtext } from '../esmtp/xtext'
import { type EnvelopeAddress, type Notes, rcptKey, type TrackingNote } from './note'
import type { RecipientWrite, StoredRecipient } from './records'
import {
  type Acceptance,
  type AcceptedRecipient,
  acceptanceWrite,
  type Tracked,
  trackedRecipients,
  type WriteContext,
} from './tracking'

/** What the trace keeps of a message besides its recipients: the envelope and the client, never the body. */
export interface TraceHeader {
  /** Haraka's transaction uuid (`<connection uuid>.<n>`): the queue id in Haraka's logs. */
  txn: string
  /** ms since the epoch the message was received (end of DATA); also picks its hour bucket. */
  arrival: number
  /** The envelope sender as received; empty for the null sender `<>`. */
  from: string
  /** The Message-ID header without its angle brackets, or null when the message has none. */
  messageId: string | null
  /** The ENVID, xtext-decoded (RFC 3461 §4.4), or null. */
  envid: string | null
  /** Whether the message asked for tracking with MTRK (RFC 3885); only then is it answerable over MTQP. */
  tracked: boolean
  /** The SMTP client's IP address. */
  clientIp: string | null
  /** The name the client gave in EHLO/HELO. */
  helo: string | null
  /** This relay's name (Reporting-MTA). */
  reportingMta: string
}

/** The part of the header kept in `transaction.notes`, which Haraka persists in the queue file (HRK-10). */
export type TraceNote = Omit<TraceHeader, 'txn' | 'reportingMta'> & { v: 1 }

const NOTE = 'mtrk_trace'

export function stampTrace(notes: Notes, note: Omit<TraceNote, 'v'>): void {
  notes[NOTE] = { v: 1, ...note }
}

const strOrNull = (v: unknown) => v === null || typeof v === 'string'

/** The trace note of a transaction or queued message, or null when it was not traced (or the note is not ours). */
export function readTraceNote(notes: Notes | null | undefined): TraceNote | null {
  const n = notes?.[NOTE]
  if (typeof n !== 'object' || n === null) return null
  const o = n as Record<string, unknown>
  if (
    o.v !== 1 ||
    typeof o.arrival !== 'number' ||
    typeof o.from !== 'string' ||
    typeof o.tracked !== 'boolean'
  )
    return null
  if (!strOrNull(o.messageId) || !strOrNull(o.envid) || !strOrNull(o.clientIp) || !strOrNull(o.helo))
    return null
  return n as TraceNote
}

/** The Message-ID header's value without folding, spaces and angle brackets; null when absent or empty. */
export function messageIdOf(header: string | null | undefined): string | null {
  if (!header) return null
  // Per message on the SMTP path: plain string work where a regular expression is not needed.
  const s = /\s/.test(header) ? header.replace(/\s+/g, '') : header
  const id = s.length > 1 && s.startsWith('<') && s.endsWith('>') ? s.slice(1, -1) : s
  return id === '' ? null : id
}

/** The ENVID note field (xtext) decoded, or null. */
export function envidOf(note: TrackingNote | null): string | null {
  if (note?.track) return note.track.envid
  return note?.envid ? decodeXtext(note.envid) : null
}

/**
 * The trace's recipients: every address in rcpt_to (an operator sees where a list's members went, which a tracking
 * answer never shows, TSN-20), plus each received recipient a redirection expanded.
 */
export function tracedRecipients(
  note: TrackingNote | null,
  rcptTo: readonly EnvelopeAddress[],
): AcceptedRecipient[] {
  const all: AcceptedRecipient[] = rcptTo.map((a) => ({ key: rcptKey(a), address: a.address }))
  return note ? [...all, ...trackedRecipients(note, [])] : all
}

/**
 * The tracking model seen with the trace's retention: its acceptance and outcome writes (src/model/tracking.ts,
 * src/relay/outcome.ts) then give the trace's recipient writes, the same states and history with the trace's keep
 * times. Only the recipient writes are used; the certifier stays empty and is never stored.
 */
export function traceView(note: TrackingNote | null, trace: TraceNote, retention: number): Tracked {
  return {
    v: 1,
    envid: note?.envid ?? null,
    ret: note?.ret ?? null,
    rcpts: note?.rcpts ?? {},
    arrival: trace.arrival,
    track: { certifier: '', timeout: null, envid: trace.envid ?? '', retention },
  }
}

/** One store write of a traced message: its header (written once) and some of its recipients. */
export interface TraceWrite {
  header: TraceHeader
  recipients: RecipientWrite[]
  /** Queue ids to index besides the transaction's: the outbound hmail's `uuid.N` (HRK-15). */
  queueIds: string[]
  /** ms since the epoch until which the message's keys must live: the latest keep time of the recipients written. */
  keepUntil: number
  /** ms since the epoch */
  now: number
}

export function traceWrite(
  header: TraceHeader,
  recipients: RecipientWrite[],
  queueIds: string[],
  now: number,
): TraceWrite {
  const keeps = recipients.map((r) => r.event?.patch.keepUntil ?? r.base.keepUntil)
  return { header, recipients, queueIds, keepUntil: Math.max(now, ...keeps), now }
}

export function traceHeader(trace: TraceNote, txn: string, reportingMta: string): TraceHeader {
  // Field by field, not `{ v, ...rest }`: the header is built per message, and an object rest copies slowly.
  const { arrival, from, messageId, envid, tracked, clientIp, helo } = trace
  return { arrival, from, messageId, envid, tracked, clientIp, helo, txn, reportingMta }
}

/** The trace write recording a message's acceptance (or the queue's refusal of it), every recipient at once. */
export function traceAcceptanceWrite(
  note: TrackingNote | null,
  trace: TraceNote,
  rcptTo: readonly EnvelopeAddress[],
  acceptance: Acceptance,
  ctx: WriteContext & { retention: number },
): TraceWrite {
  const w = acceptanceWrite(
    traceView(note, trace, ctx.retention),
    tracedRecipients(note, rcptTo),
    acceptance,
    ctx,
  )
  return traceWrite(traceHeader(trace, ctx.txn, ctx.reportingMta), w.recipients, [], ctx.now)
}

/** A trace record as read back: the header and every recipient with its attempt history. */
export interface TracedMessage extends TraceHeader {
  /** Every queue id indexed for it: the transaction's, then the hmails' `uuid.N`. */
  queueIds: string[]
  recipients: StoredRecipient[]
}

// ---------------------------------------------------------------------------------------------------------------
// Index terms. A term names one index set within an hour bucket; searching normalises its input the same way.

/** ASCII letters lowered, the rest as received: Redis' Lua string.lower does the same, so both sides agree. */
export const asciiLower = (s: string) => (/[A-Z]/.test(s) ? s.replace(/[A-Z]+/g, (c) => c.toLowerCase()) : s)

const domainOf = (address: string) => {
  const at = address.lastIndexOf('@')
  return at < 0 ? '' : address.slice(at + 1)
}

/** The search keys, each naming one kind of index term. */
export const TRACE_KEYS = [
  'from',
  'fromDomain',
  'to',
  'toDomain',
  'messageId',
  'envid',
  'queueId',
  'ip',
  'helo',
] as const
export type TraceKey = (typeof TRACE_KEYS)[number]

const TERM_PREFIX: Record<TraceKey, string> = {
  from: 'f',
  fromDomain: 'fd',
  to: 'r',
  toDomain: 'rd',
  messageId: 'mid',
  envid: 'env',
  queueId: 'q',
  ip: 'ip',
  helo: 'helo',
}

/** The index term of one key and value: addresses, domains and HELO case-insensitive (ASCII), ids exact. */
export function term(key: TraceKey, value: string): string {
  const caseless = key === 'messageId' || key === 'envid' || key === 'queueId' ? value : asciiLower(value)
  return `${TERM_PREFIX[key]}:${caseless}`
}

/**
 * The kind and value of a term whose values are (nearly) unique to one message, the queue ids and the Message-ID,
 * or null for the other terms. A set per value would be a key created per message for these; instead each bucket
 * has one set per kind (`<bucket>u:<kind>`, src/store/trace.ts) whose members carry the value.
 */
export function sharedTerm(t: string): [kind: 'q' | 'mid', value: string] | null {
  if (t.startsWith('q:')) return ['q', t.slice(2)]
  if (t.startsWith('mid:')) return ['mid', t.slice(4)]
  return null
}

/** Every index term of one write: the header's once, every recipient's and every queue id's. */
export function writeTerms(w: TraceWrite): string[] {
  const h = w.header
  const terms = [term('from', h.from), term('fromDomain', domainOf(h.from)), term('queueId', h.txn)]
  if (h.messageId !== null) terms.push(term('messageId', h.messageId))
  if (h.envid !== null) terms.push(term('envid', h.envid))
  if (h.clientIp !== null) terms.push(term('ip', h.clientIp))
  if (h.helo !== null) terms.push(term('helo', h.helo))
  for (const r of w.recipients)
    terms.push(term('to', r.base.address), term('toDomain', domainOf(r.base.address)))
  for (const id of w.queueIds) terms.push(term('queueId', id))
  return [...new Set(terms)]
}

let lastBucket = { hour: Number.NaN, name: '' }

/** An hour bucket: the UTC hour a message arrived in, `YYYYMMDDHH`. Every key of one message lives in its bucket. */
export function bucketOf(ms: number): string {
  const hour = Math.floor(ms / 3_600_000)
  // Asked per message, nearly always for the hour asked last: formatted once per hour.
  if (hour !== lastBucket.hour)
    lastBucket = { hour, name: new Date(hour * 3_600_000).toISOString().replace(/[-T]/g, '').slice(0, 10) }
  return lastBucket.name
}

/** The buckets from `since` to `until` (ms, inclusive), newest first. */
export function bucketsBetween(since: number, until: number): Array<{ bucket: string; start: number }> {
  const out: Array<{ bucket: string; start: number }> = []
  for (let h = Math.floor(until / 3_600_000); h >= Math.floor(since / 3_600_000); h--) {
    const start = h * 3_600_000
    out.push({ bucket: bucketOf(start), start })
  }
  return out
}
