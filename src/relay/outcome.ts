// From one delivery attempt's result to store writes, per recipient (TSN-13..15, TSN-18, TSN-21, TSN-22, ESC-3).
// Pure: the clock, the retry schedule and the attempt's identity are passed in.

import { failureStatus, type RemoteReply } from '../dsn/status'
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

/** What the attempt said about a recipient, as far as its status goes. */
export type Said = Pick<RecipientReport, 'code' | 'status' | 'reply'>

/** The next hop's refusal in a report, or null when the report carries Haraka's own reason instead. */
export function remoteReply(r: Said): RemoteReply | null {
  return r.code === null ? null : { code: Number(r.code), text: r.reply ?? r.status ?? '' }
}

/**
 * The Action and Status a recipient gets from an attempt. Failures take their status from the one mapping DSNs use
 * too (src/dsn/status.ts, AMB-40).
 */
export function classify(result: AttemptResult, said: Said): { action: Action; status: string } {
  switch (result.kind) {
    case 'accepted': {
      // TSN-18, TSN-24: transferred only when the hop advertised MTRK and got it; 2.1.9 belongs to relayed (TSN-21).
      const remote = said.status?.startsWith('2.') ? said.status : null
      if (result.mtrkSent)
        return { action: 'transferred', status: remote && remote !== '2.1.9' ? remote : '2.4.0' }
      return result.lmtp ? { action: 'delivered', status: '2.5.0' } : { action: 'relayed', status: '2.1.9' }
    }
    case 'temporary':
    case 'permanent': {
      const temporary = result.kind === 'temporary'
      const reply = remoteReply(said)
      return {
        action: temporary ? 'delayed' : 'failed',
        status: failureStatus({ temporary, reply, reason: reply ? null : said.reply }),
      }
    }
  }
}

function recipientEvent(note: Tracked, result: AttemptResult, r: RecipientReport, ctx: OutcomeContext) {
  const { action, status } = classify(result, r)
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
