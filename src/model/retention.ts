// How long tracking data is kept (RFC 3885 §3.1): pure arithmetic on seconds and epoch milliseconds.

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
