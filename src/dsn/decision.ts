// When a delivery status notification is sent (RFC 3461 §5.2-§5.3, §6.1): per recipient from its NOTIFY, per message
// from its return path, and for delays from the time in queue. Pure: the clock is a parameter.
import { parseNotify } from '../esmtp/params'

/** The RFC 3464 actions a relay reports by DSN (`transferred` and `opaque` belong to tracking only, RFC 3886). */
export type ReportAction = 'failed' | 'delayed' | 'delivered' | 'relayed' | 'expanded'

/**
 * Which reports of success and delay go to senders (backscatter policy). `all`: as RFC 3461 asks, for every message.
 * `relay_clients`: only for messages from clients allowed to relay (authenticated users, relay ACLs), whose return
 * paths are not forged; failure reports are sent either way.
 */
export type SuccessDelayPolicy = 'all' | 'relay_clients'

/**
 * Whether NOTIFY asks for a report of this action. NOTIFY as received, or null when absent or unreadable (a queue
 * file is input too): absent means FAILURE,DELAY (DSN-5's reading), never a success report (§5.2.3(c)).
 */
export function notifyAsks(notify: string | null, action: ReportAction): boolean {
  const parsed = notify === null ? null : parseNotify(notify)
  const n = parsed?.ok ? parsed.value : null
  switch (action) {
    case 'failed':
      return n === null || n.failure // §5.2.6
    case 'delayed':
      return n === null || n.delay // §5.2.5
    default:
      return n?.success === true // §5.2.2, §5.2.3, §5.2.7
  }
}

export interface ReportContext {
  /** The message's return path (MAIL FROM) without angle brackets; empty for `<>`. */
  sender: string
  policy: SuccessDelayPolicy
  /** The message came from a client Haraka let relay. */
  fromRelayClient: boolean
}

/**
 * Whether a report of `action` is sent for one recipient: never about a report (`MAIL FROM:<>`, RFC 3461 §6.1 and
 * RFC 5321 §4.5.5: no loops) nor to nobody; success and delay reports as the backscatter policy allows; then NOTIFY.
 */
export function reportWanted(notify: string | null, action: ReportAction, ctx: ReportContext): boolean {
  if (ctx.sender.trim() === '') return false
  if (action !== 'failed' && ctx.policy === 'relay_clients' && !ctx.fromRelayClient) return false
  return notifyAsks(notify, action)
}

export interface DelayClock {
  /** ms since the epoch the message entered the queue. */
  queuedAt: number
  /** ms since the epoch of the last delay report for these recipients, or null when none was sent. */
  lastReport: number | null
  now: number
  /** Seconds in the queue before the first delay report. */
  firstAfter: number
  /** Seconds at least between two delay reports. */
  interval: number
}

/** A delay report is due: first after `firstAfter` in the queue, then at most once per `interval`, never per retry. */
export function delayReportDue(c: DelayClock): boolean {
  if (c.now - c.queuedAt < c.firstAfter * 1000) return false
  return c.lastReport === null || c.now - c.lastReport >= c.interval * 1000
}
