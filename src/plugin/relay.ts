// Relaying through Haraka's outbound queue (issue 4): the parameters each next hop gets (through the outbound seam)
// and the outcome of every delivery attempt, per recipient (delivered/deferred/bounce hooks, HRK-7).
// Mail first: these hooks always continue (CONT) at once, never throw, and write to the store without waiting.

import { findEnhancedStatus } from '../esmtp/reply'
import {
  attemptId,
  explainedReason,
  forgetHop,
  hopOf,
  installOutboundSeam,
  mxName,
  retrySchedule,
  watchConnections,
} from '../haraka/outbound'
import type {
  BounceError,
  DeferredParams,
  DeliveredParams,
  HarakaMx,
  HMailItem,
  Next,
  OutboundRecipient,
} from '../haraka/types'
import { fromExpansion, rcptKey, readNote, recipientNote } from '../model/note'
import { readTraceNote } from '../model/trace'
import { isTracked, type Tracked } from '../model/tracking'
import { mailParams, rcptParams } from '../relay/forwarding'
import { type AttemptResult, giveUpTime, outcomeWrite, type RecipientReport } from '../relay/outcome'
import type { Forwarder, HopRecord } from '../relay/session'
import { traceOutcomeWrite } from '../relay/trace'
import { EARLY, type MtrkPlugin, recordAfter, state, writeContext } from './state'

export function registerRelaying(plugin: MtrkPlugin): void {
  const ok = installOutboundSeam(
    plugin,
    (hmail) => forwarderFor(plugin, hmail),
    (e) => plugin.logerror(`outbound seam: ${e instanceof Error ? e.stack : String(e)}`),
  )
  // register() runs once per process (master and each worker): one warning each.
  if (!ok) {
    plugin.logwarn(
      'this Haraka has no HMailItem.prototype.try_deliver_host_on_socket(mx, host, port, socket): MTRK, ENVID, ' +
        'RET, NOTIFY and ORCPT are NOT passed on to next hops, and relayed recipients are reported "relayed", never ' +
        '"transferred". haraka-plugin-mtrk needs an update for this Haraka version.',
    )
  }
  // Without it, an unreachable next hop is reported with Haraka's bare "Tried all MXs".
  watchConnections(plugin)
  plugin.register_hook('send_email', 'relay_attempt', EARLY)
  plugin.register_hook('delivered', 'record_delivered', EARLY)
  plugin.register_hook('deferred', 'record_deferred', EARLY)
  plugin.register_hook('bounce', 'record_bounce', EARLY)
}

/** What the seam adds to MAIL FROM and RCPT TO for one queued message. */
export function forwarderFor(plugin: MtrkPlugin, hmail: HMailItem): Forwarder | null {
  const note = readNote(hmail.todo.notes)
  if (!note || !state(plugin).config.relay.forward) return null
  // Haraka writes `RCPT TO:${rcpt.format(!smtputf8)}` (hmail.js:880): both spellings map to the recipient.
  const keys = new Map<string, string>()
  for (const r of hmail.todo.rcpt_to) {
    keys.set(r.format(true), rcptKey(r))
    keys.set(r.format(false), rcptKey(r))
  }
  const withhold = hmail.todo.rcpt_to.some((r) => fromExpansion(recipientNote(note, rcptKey(r))))
  return {
    mail: (hop) => mailParams(note, hop, Date.now(), withhold),
    rcpt: (path, hop) => {
      const key = keys.get(path)
      return rcptParams(key === undefined ? undefined : recipientNote(note, key), hop)
    },
  }
}

/** A delivery attempt begins (send_email runs first in every attempt): the previous attempt's hop is stale. */
export function relay_attempt(this: MtrkPlugin, next: Next, hmail: HMailItem): void {
  forgetHop(hmail)
  next()
}

/** The tracked note of a queued message. Haraka's own bounces are new transactions without one (HRK-14). */
function trackedNote(hmail: HMailItem): Tracked | null {
  const note = readNote(hmail.todo?.notes)
  return isTracked(note) ? note : null
}

/** How one attempt ended, and what it said about each recipient it reports. */
export interface Attempted {
  result: AttemptResult
  reports: RecipientReport[]
}

/** The transaction id the acceptance record used: the todo uuid without its per-domain `.N` (HRK-15). */
export const txnOf = (hmail: HMailItem) => hmail.todo.uuid.replace(/\.\d+$/, '')

/**
 * Continues the hook at once, then records one attempt's outcome for the recipients it reports, in the tracking
 * records and in the trace; messages with neither note (Haraka's own bounces among them) are left alone.
 */
function recordOutcome(
  plugin: MtrkPlugin,
  next: Next,
  hmail: HMailItem,
  name: string,
  attempt: () => Attempted,
): void {
  recordAfter(
    plugin,
    next,
    (m) => hmail.logerror(plugin, m),
    () => {
      const note = trackedNote(hmail)
      const { enabled, retention } = state(plugin).config.trace
      const trace = enabled ? readTraceNote(hmail.todo?.notes) : null
      if (!note && !trace) return null
      const { result, reports } = attempt()
      const ctx = writeContext(plugin, txnOf(hmail))
      const giveUp = giveUpTime(
        hmail.todo.queue_time ?? note?.arrival ?? trace?.arrival ?? ctx.now,
        retrySchedule(plugin),
        hmail.num_failures,
        ctx.now,
      )
      const outcome = { ...ctx, attemptId: attemptId(hmail, name), giveUp }
      // Addresses an expansion produced are not tracked (TSN-20); the expanded recipient's record is final already.
      const tracked = note ? reports.filter((r) => !fromExpansion(recipientNote(note, r.key))) : []
      return [
        note && tracked.length > 0 ? outcomeWrite(note, result, tracked, outcome) : null,
        trace
          ? traceOutcomeWrite(readNote(hmail.todo.notes), trace, result, reports, {
              ...outcome,
              retention,
              queueId: hmail.todo.uuid,
            })
          : null,
      ]
    },
  )
}

/** What the reply that refused one recipient said (hmail.js sets dsn_smtp_* from it). */
function refusedReport(r: OutboundRecipient, mx: HarakaMx | undefined): RecipientReport {
  return {
    key: rcptKey(r),
    address: r.address,
    host: mxName(mx),
    code: r.dsn_smtp_code ?? null,
    status: r.dsn_smtp_extc ?? null,
    reply:
      r.dsn_smtp_response === undefined
        ? null
        : `${r.dsn_smtp_extc ? `${r.dsn_smtp_extc} ` : ''}${r.dsn_smtp_response}`,
  }
}

/**
 * A failure of the whole attempt (no per-recipient reply): the last reply of this attempt's next hop when it refused,
 * else the error Haraka gives (a lookup or connection failure, where no host may have been reached).
 */
function attemptReport(r: OutboundRecipient, hop: HopRecord | undefined, err: string): RecipientReport {
  const refused = hop?.lastReply && hop.lastReply.code >= 400 ? hop.lastReply : null
  return {
    key: rcptKey(r),
    address: r.address,
    host: hop?.host ?? null,
    code: refused ? String(refused.code) : null,
    status: refused ? findEnhancedStatus(refused.text) : null,
    reply: refused ? refused.text : err,
  }
}

/** What an attempt that ended in `delivered` tells: the recipients the next hop accepted, with its reply to the data. */
export function deliveredReports(hmail: HMailItem, params: DeliveredParams): Attempted {
  const [host, , response, , , mode, okRecips] = params
  const hop = hopOf(hmail)
  const reply = hop?.dataReply
  return {
    result: { kind: 'accepted', lmtp: mode === 'LMTP', mtrkSent: hop?.mtrkSent ?? false },
    reports: okRecips.map((r) => ({
      key: rcptKey(r),
      address: r.address,
      host,
      code: reply ? String(reply.code) : null,
      status: reply ? findEnhancedStatus(reply.text) : null,
      reply: reply?.text ?? response,
    })),
  }
}

/** What a `deferred` attempt tells: the recipients refused with 4xx, or all of them when the attempt failed. */
export function deferredReports(hmail: HMailItem, params: DeferredParams): Attempted {
  return {
    result: { kind: 'temporary' },
    reports: params.fail_recips
      ? params.fail_recips.map((r) => refusedReport(r, params.mx))
      : hmail.todo.rcpt_to.map((r) =>
          attemptReport(r, hopOf(hmail), explainedReason(hmail, String(params.err))),
        ),
  }
}

/** What a `bounce` tells: recipients refused with 5xx, out of retries, or all of them when the attempt failed. */
export function bounceReports(hmail: HMailItem, err: BounceError): Attempted {
  // bounced_rcpt: refused at RCPT; deferred_rcpt: a split queue file's recipients, out of retries.
  const refused = err.bounced_rcpt ?? err.deferred_rcpt
  return {
    result: { kind: 'permanent' },
    reports: refused
      ? refused.map((r) => refusedReport(r, err.mx))
      : hmail.todo.rcpt_to.map((r) => attemptReport(r, hopOf(hmail), explainedReason(hmail, err.message))),
  }
}

/** Accepted by the next hop: transferred, relayed or delivered (TSN-18, TSN-24). */
export function record_delivered(
  this: MtrkPlugin,
  next: Next,
  hmail: HMailItem,
  params: DeliveredParams,
): void {
  recordOutcome(this, next, hmail, 'accepted', () => deliveredReports(hmail, params))
}

/** Temporarily failed: delayed, with Will-Retry-Until. Must continue (CONT): anything else deletes the mail. */
export function record_deferred(
  this: MtrkPlugin,
  next: Next,
  hmail: HMailItem,
  params: DeferredParams,
): void {
  recordOutcome(this, next, hmail, 'deferred', () => deferredReports(hmail, params))
}

/** Permanently failed, or out of retries: failed with the remote's reply kept for the record. */
export function record_bounce(this: MtrkPlugin, next: Next, hmail: HMailItem, err: BounceError): void {
  recordOutcome(this, next, hmail, 'failed', () => bounceReports(hmail, err))
}
