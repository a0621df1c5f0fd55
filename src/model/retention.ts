// How long tracking data is kept (RFC 3885 §3.1): pure arithmetic on seconds and epoch milliseconds.
import type { StoredRecipient } from './records'

/** The retention in effect: the requested timeout capped at the maximum (MTRK-8), or the default (MTRK-9). */
export function effectiveRetention(
  requested: number | null,
  limits: { defaultRetention: number; maxRetention: number },
) {
  return requested === null ? limits.defaultRetention : Math.min(requested, limits.maxRetention)
}

export interface KeepInput {
  /** ms since the epoch */
  arrival: number
  /** seconds */
  retention: number
  /** Whether the recipient is still in this MTA's queue. */
  queued: boolean
  /** ms since the epoch when the queue gives up on the recipient; null when unknown. */
  giveUp: number | null
  /** ms since the epoch */
  now: number
  /** seconds kept beyond the give-up time */
  queuedGrace: number
}

/**
 * ms since the epoch until which a recipient's data is kept: the retention counted from arrival (MTRK-7), but never
 * less than the queue's give-up time plus a grace while the message is still queued (MTRK-10).
 */
export function keepUntil({ arrival, retention, queued, giveUp, now, queuedGrace }: KeepInput): number {
  const retained = arrival + retention * 1000
  if (!queued) return retained
  return Math.max(retained, Math.max(giveUp ?? now, now) + queuedGrace * 1000)
}

/** A recipient still in this MTA's queue: delayed with a give-up time. A 4xx refusal is delayed without one: not ours. */
export function queuedHere(r: Pick<StoredRecipient, 'action' | 'willRetryUntil'>): boolean {
  return r.action === 'delayed' && r.willRetryUntil !== null
}

/**
 * Whether a recipient is in a TRACK answer at `now` (ms since the epoch): until both the record's retention and its
 * own keep time have passed (AMB-12), and always while still queued here (MTRK-10). One recipient's longer keep time
 * (a queued one) does not keep the others' expired data.
 */
export function recipientVisible(
  m: { arrival: number; retention: number },
  r: Pick<StoredRecipient, 'action' | 'willRetryUntil' | 'keepUntil'>,
  now: number,
): boolean {
  return queuedHere(r) || now < Math.max(m.arrival + m.retention * 1000, r.keepUntil)
}

/**
 * ms since the epoch until which a record answers TRACK (AMB-12): both its retention and every recipient's keep time
 * have passed then (the last recipientVisible); a recipient still queued keeps it visible longer (MTRK-10).
 */
export function visibleUntil(m: {
  arrival: number
  retention: number
  recipients: ReadonlyArray<Pick<StoredRecipient, 'keepUntil'>>
}): number {
  return Math.max(m.arrival + m.retention * 1000, ...m.recipients.map((r) => r.keepUntil))
}

/** The lower maximum and the clock a retroactive cut works with (MTRK-11). */
export interface RetentionCut {
  /** seconds from arrival: the new maximum retention */
  maxRetention: number
  /** seconds kept beyond the give-up time while queued (MTRK-10) */
  queuedGrace: number
  /** ms since the epoch */
  now: number
}

export interface LoweredRetention {
  /** seconds from arrival: the record's retention, at most the new maximum */
  retention: number
  /** ms since the epoch: each recipient's keep time, in the record's order */
  keeps: number[]
  /** ms since the epoch until which the record is visible: its retention and every keep time (AMB-12), after */
  until: number
  /** the same before the cut */
  before: number
  /** recipients still queued whose keep time stays past arrival + the new maximum (MTRK-10) */
  held: number
  /** whether any value of the record changed */
  changed: boolean
}

/**
 * RFC 3885 §4.1 (MTRK-11): a record's retention lowered retroactively to `cut.maxRetention`. Each keep time is cut to
 * arrival + the maximum, but a recipient still queued keeps its give-up time plus the grace (MTRK-10, as keepUntil
 * computes it); no value ever grows.
 */
export function lowerRetention(
  m: {
    arrival: number
    retention: number
    recipients: ReadonlyArray<Pick<StoredRecipient, 'action' | 'willRetryUntil' | 'keepUntil'>>
  },
  cut: RetentionCut,
): LoweredRetention {
  const retention = Math.min(m.retention, cut.maxRetention)
  const limit = m.arrival + cut.maxRetention * 1000
  let held = 0
  const keeps = m.recipients.map((r) => {
    const queued = queuedHere(r)
    const keep = Math.min(
      r.keepUntil,
      keepUntil({
        arrival: m.arrival,
        retention: cut.maxRetention,
        queued,
        giveUp: r.willRetryUntil,
        now: cut.now,
        queuedGrace: cut.queuedGrace,
      }),
    )
    if (queued && keep > limit) held++
    return keep
  })
  return {
    retention,
    keeps,
    until: visibleUntil({ arrival: m.arrival, retention, recipients: keeps.map((k) => ({ keepUntil: k })) }),
    before: visibleUntil(m),
    held,
    changed: retention !== m.retention || keeps.some((k, i) => k !== m.recipients[i]?.keepUntil),
  }
}

/** A length of time as typed: seconds, or a number with s, m, h or d (`90s`, `30m`, `2h`, `3d`); null if not. */
export function parseDuration(s: string): number | null {
  const d = /^(\d{1,9})([smhd]?)$/.exec(s.trim())
  if (!d) return null
  return Number(d[1]) * { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[d[2] as '' | 's' | 'm' | 'h' | 'd']
}
