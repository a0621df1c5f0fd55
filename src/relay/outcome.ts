// From one delivery attempt's result to store writes, per recipient (TSN-13..15, TSN-18, TSN-21, TSN-22, ESC-3).
// Pure: the clock, the retry schedule and the attempt's identity are passed in.

import type { Attempt, RecipientEvent, RecordWrite } from '../model/records'
import { keepUntil } from '../model/retention'
import {
  type AcceptedRecipient,
  baseRecipient,
  messageHeader,
  type Tracked,
  type WriteContext,
} from '../model/tracking'
import type { Action } from '../tsn/types'

/** How an attempt ended for the recipients it reports. */
export type AttemptResult =
  /** The next hop accepted them. */
  | { kind: 'accepted'; lmtp: boolean; mtrkSent: boolean }
  /** Temporary failure: they stay queued. */
  | { kind: 'temporary' }
  /** Permanent failure, or retries exhausted. */
  | { kind: 'permanent' }

/** What the attempt told about one recipient. */
export interface RecipientReport extends AcceptedRecipient {
  /** Remote-MTA host name, when the attempt reached a next hop. */
  host: string | null
  /** The next hop's reply code and text (after the code), when it answered. */
  code: string | null
  reply: string | null
  /** The enhanced status code the next hop gave, if any. */
  status: string | null
}

export interface OutcomeContext extends WriteContext {
  /** The same for a replayed hook, different for another attempt: the history entry's idempotency key. */
  attemptId: string
  /** ms since the epoch the queue gives up on these recipients (Will-Retry-Until of a temporary failure). */
  giveUp: number
}

/**
 * ms since the epoch when the outbound queue gives up: the retry schedule counted from queueing, or from now when
 * the attempts so far took longer than their intervals (the rest of the schedule is still to come).
 * @param failures temporary failures so far, this one included
 */
export function giveUpTime(
  queueTime: number,
  intervals: readonly number[],
  failures: number,
  now: number,
): number {
  const ms = (xs: readonly number[]) => xs.reduce((sum, s) => sum + s, 0) * 1000
  return Math.max(queueTime + ms(intervals), now + ms(intervals.slice(Math.max(0, failures - 1))))
}

/** The status when it is of this class, else null. */
const ofClass = (status: string | null, cls: '2' | '4' | '5') =>
  status?.startsWith(`${cls}.`) ? status : null

/** The Action and Status a recipient gets from an attempt. */
export function classify(result: AttemptResult, status: string | null): { action: Action; status: string } {
  switch (result.kind) {
    case 'accepted': {
      // TSN-18, TSN-24: transferred only when the hop advertised MTRK and got it; 2.1.9 belongs to relayed (TSN-21).
      const remote = ofClass(status, '2')
      if (result.mtrkSent)
        return { action: 'transferred', status: remote && remote !== '2.1.9' ? remote : '2.4.0' }
      return result.lmtp ? { action: 'delivered', status: '2.5.0' } : { action: 'relayed', status: '2.1.9' }
    }
    case 'temporary':
      return { action: 'delayed', status: ofClass(status, '4') ?? '4.0.0' }
    case 'permanent':
      // Retries exhausted on a 4.x.y reply: failed 5.x.y, as Haraka's own bounce reports it (hmail.js:1331-1339).
      return {
        action: 'failed',
        status: ofClass(status, '5') ?? ofClass(status, '4')?.replace(/^4/, '5') ?? '5.0.0',
      }
  }
}

function recipientEvent(note: Tracked, result: AttemptResult, r: RecipientReport, ctx: OutcomeContext) {
  const { action, status } = classify(result, r.status)
  const queued = action === 'delayed'
  const attempt: Attempt = { id: ctx.attemptId, at: ctx.now, action, status }
  if (r.host !== null) attempt.host = r.host
  if (r.code !== null) attempt.code = r.code
  if (r.reply !== null) attempt.reply = r.reply
  const event: RecipientEvent = {
    at: ctx.now,
    patch: {
      action,
      status,
      // TSN-13: an attempt that reached no host leaves the last host that was reached.
      ...(r.host !== null ? { remoteMta: r.host } : {}),
      lastAttempt: ctx.now,
      // TSN-15, TSN-22: only while the message is in our queue.
      willRetryUntil: queued ? ctx.giveUp : null,
      // MTRK-10: never expire while queued.
      keepUntil: keepUntil({
        arrival: note.arrival ?? ctx.now,
        retention: note.track.retention,
        queued,
        giveUp: queued ? ctx.giveUp : null,
        now: ctx.now,
        queuedGrace: ctx.queuedGrace,
      }),
    },
    attempt,
  }
  return event
}

/** The store write for one attempt's outcome; creates the records if the acceptance write has not landed yet. */
export function outcomeWrite(
  note: Tracked,
  result: AttemptResult,
  reports: readonly RecipientReport[],
  ctx: OutcomeContext,
): RecordWrite {
  return {
    message: messageHeader(note, ctx),
    recipients: reports.map((r) => ({
      key: r.key,
      base: baseRecipient(note, r, ctx),
      event: recipientEvent(note, result, r, ctx),
    })),
    now: ctx.now,
  }
}
