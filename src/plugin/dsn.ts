// Delivery status notifications (issue 9, RFC 3461 §5-6, RFC 3464): the relay advertises DSN, so it sends the reports
// RFC 3461 promises, and replaces Haraka's own bounce for every message. The decisions, the statuses and the report
// itself are pure (src/dsn); this file reads what Haraka knows at each outcome and queues the report.
// Mail first: a bounce hook answers within the coalescing window; when our report cannot be queued, Haraka's own
// bounce goes out instead, so the sender is never left without a word. The other hooks always continue.
import { randomBytes } from 'node:crypto'
import * as constants from 'haraka-constants'
import { Coalescer } from '../dsn/coalesce'
import { composeReport, type OriginalMessage } from '../dsn/compose'
import {
  assumedLastReport,
  delayReportDue,
  type ReportAction,
  type ReportContext,
  reportWanted,
} from '../dsn/decision'
import { diagnosticCode } from '../dsn/status'
import type { DsnRecipient } from '../dsn/types'
import { hopOf, previousDeferral, queueReport, readQueuedMessage, retrySchedule } from '../haraka/outbound'
import type {
  BounceError,
  DeferredParams,
  DeliveredParams,
  HarakaAddress,
  HarakaConnection,
  HarakaNotes,
  HMailItem,
  Next,
} from '../haraka/types'
import { forwardedInConfidence, readNote, recipientNote, type TrackingNote } from '../model/note'
import { trackedRecipients } from '../model/tracking'
import { classify, giveUpTime, type RecipientReport, remoteReply } from '../relay/outcome'
import { boundaryFromBytes } from '../tsn/writer'
import { bounceReports, deferredReports, deliveredReports, txnOf } from './relay'
import { type MtrkPlugin, state } from './state'

/** transaction.notes key: the client was allowed to relay (the backscatter policy's `relay_clients`). */
const CLIENT_NOTE = 'mtrk_relay_client'
/** todo.notes key: ms since the epoch of the last delay report for this queue file's recipients. */
const DELAY_NOTE = 'mtrk_delay_report'
/** Headers are read up to this many octets: more is no header block anyone needs back. */
const HEADER_LIMIT = 256 * 1024
/** A bounce hook answers by then whatever happens: Haraka's plugin_timeout (30 s) would drop the bounce (AMB-45). */
const BOUNCE_GUARD_MS = 20_000

/** One recipient's report waiting for the others of its message. */
interface Pending {
  original: OriginalMessage
  recipient: DsnRecipient
  /** Told whether the report was queued (a bounce hook waits for it). */
  done?: (queued: boolean) => void
}

const batches = new WeakMap<MtrkPlugin, Coalescer<Pending>>()

/** The plugin's batches; a reloaded coalesce_ms takes effect for the next ones (those waiting are sent now). */
function batcher(plugin: MtrkPlugin): Coalescer<Pending> {
  const windowMs = state(plugin).config.dsn.coalesceMs
  let c = batches.get(plugin)
  if (c && c.windowMs !== windowMs) {
    c.drain()
    c = undefined
  }
  if (!c) {
    c = new Coalescer<Pending>(
      windowMs,
      (fn, ms) => {
        const t = setTimeout(fn, ms)
        return { cancel: () => clearTimeout(t) }
      },
      (key, items) => void send(plugin, key, items),
    )
    batches.set(plugin, c)
  }
  return c
}

/**
 * Whether this relay keeps RFC 3461's promise now: its report hooks were registered at start and `[dsn] enabled`
 * still says so. Only then are DSN and MTRK advertised and their parameters acted on (AMB-21).
 */
export function dsnInEffect(plugin: MtrkPlugin): boolean {
  const s = state(plugin)
  return s.reports && s.config.dsn.enabled
}

/**
 * Registers the outbound hooks. The data_post and queue_ok parts (noteClient, reportAccepted) run inside the tracking
 * hooks of those events: Haraka's dispatch of a hook costs more per message than what these two do.
 */
export function registerReports(plugin: MtrkPlugin): void {
  state(plugin).reports = true
  plugin.register_hook('delivered', 'dsn_delivered')
  plugin.register_hook('deferred', 'dsn_deferred')
  plugin.register_hook('bounce', 'dsn_bounce')
}

/** Sends what is waiting (shutdown): a timer that never fires must not swallow a report. */
export function drainReports(plugin: MtrkPlugin): void {
  batches.get(plugin)?.drain()
}

async function send(plugin: MtrkPlugin, key: string, items: Pending[]): Promise<void> {
  let queued = false
  try {
    const s = state(plugin)
    // Every item is the same message; a complete copy, if any was read, can be returned whole.
    const original = items.find((i) => i.original.complete)?.original ?? items[0]!.original
    const recipients = items.map((i) => i.recipient)
    const text = composeReport(original, recipients, {
      reportingMta: s.reportingMta,
      defaultRet: s.config.dsn.returnWithoutRet,
      maxFull: s.config.dsn.maxReturnSize,
      now: Date.now(),
      messageId: `${randomBytes(12).toString('hex')}.dsn@${s.reportingMta}`,
      boundary: boundaryFromBytes(randomBytes(16)),
      note: (n) => plugin.logwarn(`DSN for ${key}: ${n}`),
    })
    const what = recipients.map((r) => `<${r.finalRecipient}> ${r.action} ${r.status}`).join(', ')
    if (!text.ok) {
      plugin.logerror(`DSN for ${key} not sent, it cannot be written: ${text.error} (${what})`)
    } else {
      const refused = await queueReport(plugin, original.sender, text.value, constants.ok)
      queued = refused === null
      if (queued) plugin.loginfo(`DSN for ${key} queued to <${original.sender}>: ${what}`)
      else plugin.logerror(`DSN for ${key} to <${original.sender}> could not be queued: ${refused} (${what})`)
    }
  } catch (e) {
    plugin.logerror(`DSN for ${key} not sent: ${e instanceof Error ? e.stack : String(e)}`)
  }
  for (const i of items) i.done?.(queued)
}

function contextOf(plugin: MtrkPlugin, sender: HarakaAddress, notes: HarakaNotes | undefined): ReportContext {
  return {
    sender: sender.isNull() ? '' : sender.address,
    policy: state(plugin).config.dsn.successDelayReports,
    fromRelayClient: notes?.[CLIENT_NOTE] === true,
  }
}

const notifyOf = (note: TrackingNote | null, key: string) =>
  note ? (recipientNote(note, key)?.notify ?? null) : null

/** A per-recipient group from what an attempt said (src/relay/outcome's reading of it). */
function dsnRecipient(
  note: TrackingNote | null,
  r: RecipientReport,
  action: ReportAction,
  status: string,
  willRetryUntil: number | null,
): DsnRecipient {
  const reply = remoteReply(r)
  return {
    finalRecipient: r.address,
    originalRecipient: note ? (recipientNote(note, r.key)?.orcpt ?? null) : null,
    action,
    status,
    remoteMta: r.host,
    diagnosticCode: diagnosticCode(reply, reply ? null : r.reply),
    lastAttempt: new Date(),
    willRetryUntil: willRetryUntil === null ? null : new Date(willRetryUntil),
  }
}

/**
 * The recipients the sender may hear about: none a final alias led to (RFC 3461 §5.2.7.4, TSN-25), which are logged
 * instead. Haraka keeps one return path per message, so the original sender is the only one a report could go to.
 */
function disclosable(
  plugin: MtrkPlugin,
  hmail: HMailItem,
  note: TrackingNote | null,
  reports: readonly RecipientReport[],
  action: ReportAction,
): RecipientReport[] {
  if (!note) return [...reports]
  return reports.filter((r) => {
    if (!forwardedInConfidence(note, r.key)) return true
    hmail.loginfo(
      plugin,
      `no ${action} report about <${r.address}>: a final alias led there ([main] final_aliases, RFC 3461 §5.2.7.4)`,
    )
    return false
  })
}

/** The original message of a queue file, read back as far as the report needs it. */
async function queuedOriginal(
  plugin: MtrkPlugin,
  hmail: HMailItem,
  note: TrackingNote | null,
  failure: boolean,
): Promise<OriginalMessage> {
  const dsn = state(plugin).config.dsn
  const ret = note?.ret ?? null
  const full = failure && (ret === null ? dsn.returnWithoutRet === 'full' : ret.toUpperCase() === 'FULL')
  const read = await readQueuedMessage(hmail, full ? dsn.maxReturnSize : HEADER_LIMIT, !full)
  return {
    sender: hmail.todo.mail_from.address,
    envid: note?.envid ?? null,
    ret,
    arrival: note?.arrival ?? hmail.todo.queue_time ?? Date.now(),
    ...read,
  }
}

/**
 * At data_post: remembers whether the client could relay, before the message is queued (the queue file keeps the
 * notes). Nothing when reports are off.
 */
export function noteClient(plugin: MtrkPlugin, connection: HarakaConnection): void {
  const txn = connection.transaction
  if (txn && state(plugin).reports) txn.notes[CLIENT_NOTE] = connection.relaying === true
}

/**
 * At queue_ok, before the hook continues (the transaction ends then): `delivered` when a local queue plugin took the
 * message (RFC 3461 §5.2.3: also at a final relay of an MTRK chain), `relayed` when a queue plugin passed it on
 * without NOTIFY, `expanded` for lists and multi-address aliases (§5.2.7) and `delivered` for final aliases
 * (§5.2.7.4, `[main] final_aliases`) whatever the queue; messages queued for relaying get their reports from the
 * outbound hooks. Never throws.
 */
export function reportAccepted(plugin: MtrkPlugin, connection: HarakaConnection): void {
  if (!dsnInEffect(plugin)) return
  try {
    acceptedReports(plugin, connection)
  } catch (e) {
    connection.logerror(plugin, `DSN: ${e instanceof Error ? e.stack : String(e)}`)
  }
}

function acceptedReports(plugin: MtrkPlugin, connection: HarakaConnection): void {
  const txn = connection.transaction
  const note = readNote(txn?.notes)
  if (!txn || !note || !txn.mail_from) return
  const outbound = txn.results.get('outbound') as { pass?: unknown[] } | undefined
  const queued = Array.isArray(outbound?.pass) && outbound.pass.includes('queued')
  const ctx = contextOf(plugin, txn.mail_from, txn.notes)
  // The headers are joined only for a report due now: most messages are queued, and report later or never.
  let original: OriginalMessage | null = null
  const originalMessage = (): OriginalMessage => {
    const content = txn.header?.lines().join('') ?? ''
    original ??= {
      sender: ctx.sender,
      envid: note.envid,
      ret: note.ret,
      arrival: note.arrival ?? Date.now(),
      content,
      complete: false,
      size: content.length,
    }
    return original
  }
  for (const r of trackedRecipients(note, txn.rcpt_to)) {
    const [action, status]: [ReportAction | null, string] = r.redirected
      ? [r.redirected, '2.5.0'] // ESC-3
      : queued
        ? [null, '']
        : connection.relaying
          ? ['relayed', '2.1.9']
          : ['delivered', '2.5.0']
    if (action === null || !reportWanted(notifyOf(note, r.key), action, ctx)) continue
    batcher(plugin).add(txn.uuid, {
      original: originalMessage(),
      recipient: {
        finalRecipient: r.address,
        originalRecipient: recipientNote(note, r.key)?.orcpt ?? null,
        action,
        status,
        remoteMta: null,
        diagnosticCode: null,
        lastAttempt: new Date(),
        willRetryUntil: null,
      },
    })
  }
}

/**
 * Accepted by a next hop: `delivered` for LMTP, `relayed` when the hop did not take NOTIFY (DSN-11); a hop that took it
 * reports itself. Reads the headers before continuing: Haraka deletes the queue file once the hook answered.
 */
export async function dsn_delivered(
  this: MtrkPlugin,
  next: Next,
  hmail: HMailItem,
  params: DeliveredParams,
): Promise<void> {
  try {
    const s = state(this)
    const ctx = contextOf(this, hmail.todo.mail_from, hmail.todo.notes)
    const note = readNote(hmail.todo.notes)
    const hop = hopOf(hmail)
    // DSN-10: NOTIFY went on exactly when forwarding is on and the hop advertised DSN.
    const notifyPassed = s.config.relay.forward && hop?.hop.dsn === true
    const { result, reports } = deliveredReports(hmail, params)
    const lmtp = result.kind === 'accepted' && result.lmtp
    const action: ReportAction = lmtp ? 'delivered' : 'relayed'
    const wanted = s.config.dsn.enabled && !notifyPassed
    const due = wanted ? reports.filter((r) => reportWanted(notifyOf(note, r.key), action, ctx)) : []
    if (due.length > 0) {
      const original = await queuedOriginal(this, hmail, note, false)
      for (const r of due) {
        const status = lmtp ? '2.5.0' : '2.1.9'
        batcher(this).add(txnOf(hmail), { original, recipient: dsnRecipient(note, r, action, status, null) })
      }
    }
  } catch (e) {
    hmail.logerror(this, `DSN: ${e instanceof Error ? e.stack : String(e)}`)
  }
  next()
}

/**
 * Deferred: a `delayed` report once the message has waited `delay_report_after`, then at most once per
 * `delay_report_interval` (RFC 3461 §5.2.5), never per retry. Always continues (CONT): anything else deletes the mail.
 */
export async function dsn_deferred(
  this: MtrkPlugin,
  next: Next,
  hmail: HMailItem,
  params: DeferredParams,
): Promise<void> {
  try {
    const s = state(this)
    const now = Date.now()
    const notes = hmail.todo.notes
    const note = readNote(notes)
    const last = notes[DELAY_NOTE]
    const queuedAt = hmail.todo.queue_time ?? note?.arrival ?? now
    const schedule = retrySchedule(this)
    const firstAfter = s.config.dsn.delayReportAfter
    const due =
      s.config.dsn.enabled &&
      delayReportDue({
        queuedAt,
        lastReport:
          typeof last === 'number'
            ? last
            : assumedLastReport(queuedAt, previousDeferral(hmail, schedule), firstAfter),
        now,
        firstAfter,
        interval: s.config.dsn.delayReportInterval,
      })
    const ctx = contextOf(this, hmail.todo.mail_from, notes)
    const { result, reports } = deferredReports(hmail, params)
    const wanted = due
      ? disclosable(this, hmail, note, reports, 'delayed').filter((r) =>
          reportWanted(notifyOf(note, r.key), 'delayed', ctx),
        )
      : []
    if (wanted.length > 0) {
      // Kept on the queue file's in-memory todo, which every retry reuses (and a split copies); a restart loses it,
      // and assumedLastReport stands in (AMB-44).
      notes[DELAY_NOTE] = now
      const giveUp = giveUpTime(queuedAt, schedule, hmail.num_failures, now)
      const original = await queuedOriginal(this, hmail, note, false)
      for (const r of wanted) {
        const recipient = dsnRecipient(note, r, 'delayed', classify(result, r).status, giveUp)
        batcher(this).add(txnOf(hmail), { original, recipient })
      }
    }
  } catch (e) {
    hmail.logerror(this, `DSN: ${e instanceof Error ? e.stack : String(e)}`)
  }
  next()
}

/**
 * Failed: our `failed` report replaces Haraka's bounce (OK suppresses it) for the recipients whose NOTIFY allows it;
 * none at all when NOTIFY excludes FAILURE (§5.2.6(b)), nor about where a final alias led (§5.2.7.4). When our
 * report cannot be written or queued, Haraka's own bounce goes out (CONT, AMB-45). About a bounce (MAIL FROM:<>)
 * nothing is sent: Haraka logs its double bounce.
 */
export async function dsn_bounce(
  this: MtrkPlugin,
  next: Next,
  hmail: HMailItem,
  err: BounceError,
): Promise<void> {
  let answered = false
  let guard: ReturnType<typeof setTimeout> | undefined
  const answer = (code?: number) => {
    clearTimeout(guard)
    if (answered) return
    answered = true
    // Called from a timer or a report's callback too: what Haraka's callback throws must not become an unhandled
    // rejection, which would stop Haraka (HRK-11).
    try {
      next(code)
    } catch (e) {
      hmail.logerror(this, `DSN: Haraka's bounce callback threw: ${e instanceof Error ? e.stack : String(e)}`)
    }
  }
  try {
    const s = state(this)
    const ctx = contextOf(this, hmail.todo.mail_from, hmail.todo.notes)
    if (!s.config.dsn.enabled || ctx.sender === '') return answer()
    const note = readNote(hmail.todo.notes)
    const { result, reports } = bounceReports(hmail, err)
    const told = disclosable(this, hmail, note, reports, 'failed')
    const wanted = told.filter((r) => reportWanted(notifyOf(note, r.key), 'failed', ctx))
    if (wanted.length === 0) {
      if (told.length > 0) {
        hmail.loginfo(
          this,
          'no failure report: NOTIFY excludes FAILURE for every failed recipient (RFC 3461 §5.2.6)',
        )
      }
      return answer(constants.ok)
    }
    // Armed before the queue file is read: a read that never ends must not hold the bounce past Haraka's timeout.
    guard = setTimeout(() => {
      hmail.logwarn(this, 'DSN not queued in time: Haraka sends its own bounce')
      answer()
    }, BOUNCE_GUARD_MS)
    const original = await queuedOriginal(this, hmail, note, true)
    let left = wanted.length
    let allQueued = true
    const done = (queued: boolean) => {
      allQueued &&= queued
      if (--left > 0) return
      answer(allQueued ? constants.ok : undefined)
    }
    for (const r of wanted) {
      const recipient = dsnRecipient(note, r, 'failed', classify(result, r).status, null)
      batcher(this).add(txnOf(hmail), { original, recipient, done })
    }
  } catch (e) {
    hmail.logerror(
      this,
      `DSN not sent, Haraka sends its own bounce: ${e instanceof Error ? e.stack : String(e)}`,
    )
    answer()
  }
}
