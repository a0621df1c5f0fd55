// The Haraka adapter: hook methods copied onto Haraka's Plugin instance (Haraka copies a package's enumerable
// exports, HRK-18). Each hook is thin: parse with src/esmtp, build writes with src/model, hand them to the
// store without waiting. Nothing here may delay or refuse mail because of tracking (DSN-2, DSN-4).
import * as constants from 'haraka-constants'
import * as DSN from 'haraka-dsn'
import { decideMail, decideRcpt } from '../esmtp/acceptance'
import { DSN_MTRK_PARAMS, type EsmtpParam, type Rejection, splitCommandParams } from '../esmtp/params'
import { acceptPaddedCertifiers } from '../haraka/inbound'
import type { HarakaAddress, HarakaConnection, HarakaTransaction, Next } from '../haraka/types'
import { ensureNote, rcptKey, readNote } from '../model/note'
import { effectiveRetention } from '../model/retention'
import { envidOf, messageIdOf, readTraceNote, stampTrace, traceAcceptanceWrite } from '../model/trace'
import { type Acceptance, acceptanceWrite, isTracked, trackedRecipients } from '../model/tracking'
import { type Addressed, noteRedirection, redirectionOf } from '../relay/redirect'
import { drainReports, dsnInEffect, noteClient, registerReports, reportAccepted } from './dsn'
import { registerRelaying } from './relay'
import {
  EARLY,
  hostMtqp,
  loadConfig,
  type MtrkPlugin,
  recordAfter,
  state,
  stopMtqp,
  storeOf,
  writeContext,
} from './state'
import { registerWeb } from './web'

/** RFC 3461 §5.4 and RFC 3885 §2(5) ask for ≥ 1036-character RCPT and ≥ 1100-character MAIL lines (AMB-20). */
const MIN_LINE_LENGTH = 1100

function warnIfLinesTooShort(plugin: MtrkPlugin): void {
  const ini = plugin.config.get('connection.ini') as { max?: { line_length?: unknown } } | undefined
  const max = Number(ini?.max?.line_length ?? 512)
  if (max < MIN_LINE_LENGTH) {
    // MTRK-4, DSN-9
    plugin.logwarn(
      `connection.ini [max] line_length=${max} cuts MAIL/RCPT lines carrying ENVID, ORCPT and MTRK; ` +
        `RFC 3461 and RFC 3885 need ${MIN_LINE_LENGTH}: set line_length=${MIN_LINE_LENGTH} or more`,
    )
  }
}

export function register(this: MtrkPlugin): void {
  loadConfig(this)
  warnIfLinesTooShort(this)
  if (!acceptPaddedCertifiers(this))
    this.logwarn('padded MTRK certifiers will be refused: Haraka internals changed')
  this.register_hook('capabilities', 'advertise_mtrk', EARLY)
  this.register_hook('mail', 'check_mail_params', EARLY)
  this.register_hook('rcpt', 'check_rcpt_params', EARLY)
  this.register_hook('rcpt_ok', 'note_redirection', EARLY)
  this.register_hook('data_post', 'stamp_arrival', EARLY)
  this.register_hook('queue_ok', 'record_acceptance', EARLY)
  this.register_hook('reset_transaction', 'record_queue_refusal', EARLY)
  this.register_hook('init_master', 'open_store')
  this.register_hook('init_child', 'open_store')
  // init_master runs once, in the only process or in the cluster master: exactly one listener (HRK-8). Registered
  // even while [mtqp] is off or its listen unreadable: a reload that turns it on or fixes it starts it there.
  this.register_hook('init_master', 'start_mtqp')
  registerRelaying(this)
  // Issue 9: our reports replace Haraka's bounces. Turning this on needs a restart; turning it off takes effect at once.
  if (state(this).config.dsn.enabled) registerReports(this)
  registerWeb(this)
}

/** Connects early in every process (master and cluster workers) so the first message does not wait for it. */
export function open_store(this: MtrkPlugin, next: Next): void {
  storeOf(this)
  next()
}

export async function start_mtqp(this: MtrkPlugin, next: Next): Promise<void> {
  // An init hook must call next (a rejection here would stop Haraka): hostMtqp logs its failures, never rejects.
  await hostMtqp(this)
  next()
}

export async function shutdown(this: MtrkPlugin): Promise<void> {
  const s = this.mtrk
  if (!s) return
  drainReports(this)
  await stopMtqp(this)
  // The closed store stays in place: deliveries finishing during shutdown must not open a new Redis client.
  await s.store?.close()
}

/**
 * MTRK-1, MTRK-2, AMB-21: EHLO advertises MTRK, and DSN whose ENVID/ORCPT MTRK builds on. With [dsn] enabled=false
 * the relay sends no DSNs of its own, so it promises neither: DSN would be a false promise, and MTRK needs DSN.
 */
export function advertise_mtrk(this: MtrkPlugin, next: Next, connection: HarakaConnection): void {
  if (!dsnInEffect(this)) return next()
  for (const keyword of ['MTRK', 'DSN']) {
    if (!connection.capabilities.includes(keyword)) connection.capabilities.push(keyword)
  }
  next()
}

/**
 * The parameters as sent, duplicates included (HRK-2). Haraka's parse decides which parameters there are: when the
 * raw line disagrees (or is unavailable), its de-duplicated object is used, so the plugin never judges a token Haraka
 * took for the path (AMB-38).
 *
 * With [dsn] enabled=false EHLO advertises neither DSN nor MTRK, and their parameters are left out: accepted as
 * Haraka alone accepts them (AMB-38; a client may have read EHLO before the reload that turned DSN off), never judged,
 * recorded or passed on. The other parameters are judged as always.
 */
function paramsOf(
  plugin: MtrkPlugin,
  connection: HarakaConnection,
  parsed: Record<string, string | null> | undefined,
): EsmtpParam[] {
  const params = sentParams(connection, parsed)
  return dsnInEffect(plugin) ? params : params.filter((p) => !DSN_MTRK_PARAMS.has(p.keyword))
}

function sentParams(
  connection: HarakaConnection,
  parsed: Record<string, string | null> | undefined,
): EsmtpParam[] {
  const fromHaraka = Object.entries(parsed ?? {}).map(([keyword, value]) => ({
    keyword: keyword.toUpperCase(),
    value,
  }))
  const fromLine = splitCommandParams(connection.current_line ?? '')
  const keywords = (ps: EsmtpParam[]) => [...new Set(ps.map((p) => p.keyword))].sort().join(' ')
  return fromLine && keywords(fromLine) === keywords(fromHaraka) ? fromLine : fromHaraka
}

function refuse(next: Next, r: Rejection): void {
  next(constants.deny, DSN.create(r.code, r.message, 5, 4))
}

export function check_mail_params(
  this: MtrkPlugin,
  next: Next,
  connection: HarakaConnection,
  params: [HarakaAddress, Record<string, string | null>],
): void {
  const s = state(this)
  const txn = connection.transaction
  const r = decideMail(paramsOf(this, connection, params[1]), s.policy)
  if (!r.accept) return refuse(next, r.rejection)
  const { envid, ret, mtrk, mtrkIgnored } = r.params
  if (mtrkIgnored) connection.loginfo(this, `MTRK ignored: ${mtrkIgnored} (mtrk_without_envid=ignore)`)
  if (txn && (envid || ret || mtrk)) {
    const note = ensureNote(txn.notes)
    note.envid = envid?.xtext ?? null
    note.ret = ret ?? null
    if (mtrk && envid) {
      note.track = {
        certifier: mtrk.certifier,
        timeout: mtrk.timeout,
        retention: effectiveRetention(mtrk.timeout, s.config.main),
        envid: envid.decoded,
      }
    }
  }
  next()
}

/** The recipient of the RCPT command being processed: its index in rcpt_to, and its own ORCPT and NOTIFY. */
const receiving = new WeakMap<
  HarakaTransaction,
  Addressed & { index: number; orcpt: string | null; notify: string | null }
>()

export function check_rcpt_params(
  this: MtrkPlugin,
  next: Next,
  connection: HarakaConnection,
  params: [HarakaAddress, Record<string, string | null>],
): void {
  const [rcpt, parsed] = params
  const r = decideRcpt(paramsOf(this, connection, parsed), state(this).policy)
  if (!r.accept) return refuse(next, r.rejection)
  const { notify, orcpt } = r.params
  const txn = connection.transaction
  // Core pushed the recipient before the rcpt hooks; later hooks (aliases) may replace it, or refuse it: the note
  // changes only once it is accepted (note_redirection).
  if (txn) {
    const index = txn.rcpt_to.length - 1
    const own = { orcpt: orcpt?.raw ?? null, notify: notify?.raw ?? null }
    receiving.set(txn, { key: rcptKey(rcpt), address: rcpt.address, index, ...own })
  }
  next()
}

/**
 * Once every rcpt hook accepted a recipient: its own ORCPT and NOTIFY, and what it became (MTRK-18..20, MTRK-22).
 * Whatever replaced it in rcpt_to, from its index on, came out of it. `[main] final_aliases` is read per recipient,
 * so a reload applies at once. A refused RCPT never gets here, so it changes nothing.
 */
export function note_redirection(this: MtrkPlugin, next: Next, connection: HarakaConnection): void {
  const txn = connection.transaction
  const received = txn ? receiving.get(txn) : undefined
  if (!txn || !received) return next()
  receiving.delete(txn)
  let note = readNote(txn.notes)
  if (received.orcpt !== null || received.notify !== null) {
    note = ensureNote(txn.notes)
    note.rcpts[received.key] = { orcpt: received.orcpt, notify: received.notify }
  } else if (note?.rcpts[received.key]?.memberOf !== undefined) {
    // Named by the sender after an alias or a list led to it: the sender's own recipient from now on.
    delete note.rcpts[received.key]
  }
  const finalAliases = state(this).config.main.finalAliases
  if (note || finalAliases) {
    const products = txn.rcpt_to.slice(received.index).map((a) => ({ key: rcptKey(a), address: a.address }))
    const redirection = redirectionOf(received, products, finalAliases)
    // Noted even on a message without DSN parameters: our failure reports must not name where it leads either.
    if (!note && redirection === 'final') note = ensureNote(txn.notes)
    // The recipients before it, only for a final alias or a list: per RCPT it would grow with the recipients.
    const earlier =
      redirection === 'final' || redirection === 'expansion'
        ? new Set(txn.rcpt_to.slice(0, received.index).map(rcptKey))
        : undefined
    if (note && redirection !== 'none') noteRedirection(note, received, products, finalAliases, earlier)
  }
  next()
}

/**
 * Arrival-Date and the start of the MTRK timeout: the end of DATA, before the message is queued (MTRK-7). With the
 * operator trace on, what it keeps of the message goes into the notes here, so the queue file carries it to every
 * delivery attempt (HRK-10). With reports on, also whether the client could relay (./dsn).
 */
export function stamp_arrival(this: MtrkPlugin, next: Next, connection: HarakaConnection): void {
  noteClient(this, connection)
  const txn = connection.transaction
  const note = readNote(txn?.notes)
  const now = Date.now()
  if (note) note.arrival = now
  if (txn && state(this).config.trace.enabled) {
    stampTrace(txn.notes, {
      arrival: now,
      from: txn.mail_from && !txn.mail_from.isNull() ? txn.mail_from.address : '',
      messageId: messageIdOf(txn.header?.get('Message-ID')),
      envid: envidOf(note),
      tracked: isTracked(note),
      clientIp: connection.remote?.ip ?? null,
      helo: connection.hello?.host ?? null,
    })
  }
  next()
}

function resultList(txn: HarakaTransaction, name: string, list: 'pass' | 'fail'): unknown[] {
  const r = txn.results.get(name) as Record<string, unknown> | undefined
  const v = r?.[list]
  return Array.isArray(v) ? v : []
}

/** The writes recording what became of a message at the queue: its tracking records, and its trace record. */
function recordAccepted(
  plugin: MtrkPlugin,
  next: Next,
  connection: HarakaConnection,
  acceptance: (txn: HarakaTransaction) => Acceptance,
): void {
  const txn = connection.transaction
  const note = readNote(txn?.notes)
  const trace = state(plugin).config.trace.enabled ? readTraceNote(txn?.notes) : null
  if (!txn || (!isTracked(note) && !trace)) return next()
  recordAfter(
    plugin,
    next,
    (m) => connection.logerror(plugin, m),
    () => {
      const a = acceptance(txn)
      const ctx = writeContext(plugin, txn.uuid)
      return [
        isTracked(note) ? acceptanceWrite(note, trackedRecipients(note, txn.rcpt_to), a, ctx) : null,
        trace
          ? traceAcceptanceWrite(note, trace, txn.rcpt_to, a, {
              ...ctx,
              retention: state(plugin).config.trace.retention,
            })
          : null,
      ]
    },
  )
}

/**
 * Records a message as accepted: queued for relaying, or delivered by a local queue plugin; and sends the reports due
 * at acceptance (./dsn).
 */
export function record_acceptance(this: MtrkPlugin, next: Next, connection: HarakaConnection): void {
  const reported = () => {
    reportAccepted(this, connection)
    next()
  }
  recordAccepted(this, reported, connection, (txn) => {
    if (resultList(txn, 'outbound', 'pass').includes('queued')) return { kind: 'queued' }
    return connection.relaying ? { kind: 'relayed' } : { kind: 'delivered' }
  })
}

/** A queue plugin that refused a message: the client got 5xx or 4xx, recorded as failed or delayed. */
export function record_queue_refusal(this: MtrkPlugin, next: Next, connection: HarakaConnection): void {
  const txn = connection.transaction
  const refused = txn?.msg_status === 'rejected' || txn?.msg_status === 'deferred'
  const reply = txn ? resultList(txn, 'queue', 'fail').at(-1) : undefined
  if (!refused || reply === undefined) return next()
  recordAccepted(this, next, connection, (t) => {
    const temporary = t.msg_status === 'deferred'
    return { kind: 'refused', temporary, code: temporary ? 450 : 550, reply: String(reply) }
  })
}
