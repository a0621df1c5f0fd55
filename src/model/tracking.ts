// From what Haraka knows about an accepted message to store writes. Pure: the clock and the queue schedule are
// passed in, so every rule (TSN-13..15, AMB-33, MTRK-10) is unit-tested without Haraka.
import { failureStatus } from '../dsn/status'
import { type EnvelopeAddress, fromExpansion, rcptKey, recipientNote, type TrackingNote } from './note'
import type { MessageHeader, RecipientEvent, RecordWrite, StoredRecipient } from './records'
import { keepUntil } from './retention'

export interface WriteContext {
  txn: string
  reportingMta: string
  /** ms since the epoch */
  now: number
  /** Seconds from arrival until the outbound queue gives up (sum of its retry intervals). */
  queueLifetime: number
  /** Seconds data outlives the give-up time while queued (MTRK-10). */
  queuedGrace: number
}

/** What became of a message when it was accepted. */
export type Acceptance =
  /** In Haraka's outbound queue: relaying outcomes come later. */
  | { kind: 'queued' }
  /** A local queue plugin took it, or a final alias (MTRK-22) led elsewhere: final delivery here. */
  | { kind: 'delivered' }
  /** A queue plugin handed it to a next hop itself, without passing MTRK: the tracking path ends here (TSN-18). */
  | { kind: 'relayed' }
  /** A redirection here sent it on to several addresses, which are not trackable (TSN-19, AMB-34). */
  | { kind: 'expanded' }
  /** The queue refused it and the client got this reply. */
  | { kind: 'refused'; temporary: boolean; code: number; reply: string }

export interface AcceptedRecipient {
  key: string
  /** As accepted (Final-Recipient). */
  address: string
  /**
   * A redirection here ended its tracking path, whatever became of the message: expanded into several addresses
   * (TSN-19, TSN-20), or a final alias (MTRK-22, TSN-25). The addresses it led to are not tracked.
   */
  redirected?: 'expanded' | 'delivered'
}

export type Tracked = TrackingNote & { track: NonNullable<TrackingNote['track']> }

/**
 * The recipients a tracked message has records for: the transaction's, less the addresses an expansion or a final
 * alias produced, plus the received recipients that were expanded or final aliases (TSN-19, TSN-20: a list is
 * reported, its members never; MTRK-22: nor where a final alias leads).
 */
export function trackedRecipients(
  note: TrackingNote,
  rcptTo: readonly EnvelopeAddress[],
): AcceptedRecipient[] {
  const out: AcceptedRecipient[] = []
  for (const a of rcptTo) {
    const key = rcptKey(a)
    if (!fromExpansion(recipientNote(note, key))) out.push({ key, address: a.address })
  }
  for (const key of Object.keys(note.rcpts)) {
    const r = recipientNote(note, key)
    if (r?.expanded !== undefined) out.push({ key, address: r.expanded, redirected: 'expanded' })
    else if (r?.delivered !== undefined) out.push({ key, address: r.delivered, redirected: 'delivered' })
  }
  return out
}

export function isTracked(note: TrackingNote | null): note is Tracked {
  return note?.track != null
}

export function messageHeader(note: Tracked, ctx: WriteContext): MessageHeader {
  return {
    txn: ctx.txn,
    envidXtext: note.envid ?? note.track.envid,
    envid: note.track.envid,
    certifier: note.track.certifier,
    arrival: note.arrival ?? ctx.now,
    reportingMta: ctx.reportingMta,
    requestedTimeout: note.track.timeout,
    retention: note.track.retention,
    ret: note.ret,
  }
}

/** A recipient as first recorded: queued and not attempted, `delayed` 4.0.0 with Will-Retry-Until (AMB-33). */
export function baseRecipient(note: Tracked, rcpt: AcceptedRecipient, ctx: WriteContext): StoredRecipient {
  const arrival = note.arrival ?? ctx.now
  const giveUp = arrival + ctx.queueLifetime * 1000
  const r = recipientNote(note, rcpt.key)
  return {
    address: rcpt.address,
    orcpt: r?.orcpt ?? null,
    notify: r?.notify ?? null,
    action: 'delayed',
    status: '4.0.0',
    remoteMta: null,
    lastAttempt: null,
    willRetryUntil: giveUp,
    keepUntil: keepUntil({
      arrival,
      retention: note.track.retention,
      queued: true,
      giveUp,
      now: ctx.now,
      queuedGrace: ctx.queuedGrace,
    }),
    updated: arrival,
    history: [],
  }
}

/** A queue's refusal, read by the mapping DSNs use too (AMB-40). */
function refusalStatus(r: Extract<Acceptance, { kind: 'refused' }>): string {
  return failureStatus({ temporary: r.temporary, reply: { code: r.code, text: r.reply }, reason: null })
}

/** The event of a final or queue-side outcome decided at acceptance time; null when the message is just queued. */
function acceptanceEvent(note: Tracked, acceptance: Acceptance, ctx: WriteContext): RecipientEvent | null {
  if (acceptance.kind === 'queued') return null
  const [action, status] =
    acceptance.kind === 'delivered'
      ? (['delivered', '2.5.0'] as const)
      : acceptance.kind === 'expanded'
        ? (['expanded', '2.5.0'] as const) // ESC-3
        : acceptance.kind === 'relayed'
          ? (['relayed', '2.1.9'] as const) // TSN-21
          : acceptance.temporary
            ? (['delayed', refusalStatus(acceptance)] as const)
            : (['failed', refusalStatus(acceptance)] as const)
  const attempt = { id: `${ctx.txn}:accept`, at: ctx.now, action, status }
  return {
    at: ctx.now,
    patch: {
      action,
      status,
      lastAttempt: ctx.now,
      // Not in our queue: a refused message is the client's to retry, so no Will-Retry-Until (TSN-15).
      willRetryUntil: null,
      keepUntil: keepUntil({
        arrival: note.arrival ?? ctx.now,
        retention: note.track.retention,
        queued: false,
        giveUp: null,
        now: ctx.now,
        queuedGrace: ctx.queuedGrace,
      }),
    },
    attempt:
      acceptance.kind === 'refused'
        ? { ...attempt, code: String(acceptance.code), reply: acceptance.reply }
        : attempt,
  }
}

/** The store write recording a tracked message's acceptance, one round trip for all recipients. */
export function acceptanceWrite(
  note: Tracked,
  recipients: AcceptedRecipient[],
  acceptance: Acceptance,
  ctx: WriteContext,
): RecordWrite {
  const event = acceptanceEvent(note, acceptance, ctx)
  // A redirection is final here, unless the queue refused the whole message.
  const redirected = (kind: 'expanded' | 'delivered') =>
    acceptance.kind === 'refused' ? event : acceptanceEvent(note, { kind }, ctx)
  return {
    message: messageHeader(note, ctx),
    recipients: recipients.map((r) => {
      const e = r.redirected ? redirected(r.redirected) : event
      return { key: r.key, base: baseRecipient(note, r, ctx), ...(e ? { event: e } : {}) }
    }),
    now: ctx.now,
  }
}
