// Writes RFC 3464 delivery status notifications: the message/delivery-status body, and the whole multipart/report
// message sent with MAIL FROM:<> (RFC 3461 §6, DSN-13, DSN-14). Pure: dates, the boundary and the message id come
// from the caller. Fields share RFC 3886's grammar and are written by src/tsn's field writer.
import { decodeXtext } from '../esmtp/xtext'
import { formatDateTime } from '../tsn/date'
import { mapAll } from '../tsn/results'
import { CRLF } from '../tsn/syntax'
import type { TypedValue } from '../tsn/types'
import { date, emitBlock, type Field, text, typed } from '../tsn/writer'
import { err, ok, type Result } from '../util/result'
import { humanReadable, subjectOf } from './human'
import type { DeliveryReport, DsnRecipient, ReturnedContent } from './types'

/** Dates in reports are written in UTC: the relay's zone is nobody's business (AMB-32). */
const UTC = 0

/**
 * An address as an RFC 3464 typed value: `rfc822` for printable US-ASCII, else RFC 6533's `utf-8` type with every
 * other character written `\x{HEX}` (AMB-39), so the field stays 7-bit.
 */
export function addressValue(address: string): TypedValue {
  if (/^[\x21-\x7e]+$/.test(address)) return { type: 'rfc822', value: address }
  const value = Array.from(address, (c) =>
    /[\x21-\x5b\x5d-\x7e]/.test(c) ? c : `\\x{${c.codePointAt(0)!.toString(16).toUpperCase()}}`,
  ).join('')
  return { type: 'utf-8', value }
}

/** ORCPT `addr-type;xtext` as Original-Recipient: decoded (RFC 3461 §4.2), or as received when it does not decode. */
function originalRecipient(orcpt: string): TypedValue {
  const semi = orcpt.indexOf(';')
  const type = semi > 0 ? orcpt.slice(0, semi) : 'rfc822'
  const raw = semi > 0 ? orcpt.slice(semi + 1) : orcpt
  const decoded = decodeXtext(raw)
  const value = decoded !== null && /^[\x21-\x7e]+$/.test(decoded) ? decoded : raw
  return { type, value }
}

function recipientBlock(r: DsnRecipient): Result<string> {
  const fields: Result<Field>[] = []
  if (r.originalRecipient !== null) {
    fields.push(typed('Original-Recipient', originalRecipient(r.originalRecipient), false))
  }
  fields.push(typed('Final-Recipient', addressValue(r.finalRecipient), false))
  fields.push(ok(['Action', r.action]))
  fields.push(
    /^[245]\.\d{1,3}\.\d{1,3}$/.test(r.status) ? ok(['Status', r.status]) : err(`Status: ${r.status}`),
  )
  if (r.remoteMta !== null) fields.push(typed('Remote-MTA', { type: 'dns', value: r.remoteMta }, true))
  if (r.diagnosticCode !== null) fields.push(text('Diagnostic-Code', r.diagnosticCode, true))
  if (r.lastAttempt !== null) fields.push(date('Last-Attempt-Date', r.lastAttempt, UTC))
  if (r.action === 'delayed' && r.willRetryUntil !== null) {
    fields.push(date('Will-Retry-Until', r.willRetryUntil, UTC))
  }
  const checked = mapAll(fields, (f) => f)
  return checked.ok ? emitBlock(checked.value) : checked
}

/**
 * The message/delivery-status body (RFC 3464 §2.1): per-message fields, then a blank line before each recipient's
 * group. Original-Envelope-Id only when ENVID was received, xtext-decoded (DSN-13). Lines end in CRLF.
 */
export function formatDeliveryStatus(report: DeliveryReport): Result<string> {
  if (report.recipients.length === 0) return err('a report needs at least one recipient (RFC 3464 §2.1)')
  const fields: Result<Field>[] = []
  if (report.envid !== null) {
    const decoded = decodeXtext(report.envid)
    fields.push(
      decoded === null
        ? err('Original-Envelope-Id: ENVID is not xtext')
        : text('Original-Envelope-Id', decoded, true),
    )
  }
  fields.push(typed('Reporting-MTA', { type: 'dns', value: report.reportingMta }, true))
  fields.push(date('Arrival-Date', report.arrival, UTC))
  const head = mapAll(fields, (f) => f)
  if (!head.ok) return head
  const message = emitBlock(head.value)
  if (!message.ok) return message
  const groups = mapAll(report.recipients, recipientBlock, (i) => `recipient ${i + 1}`)
  if (!groups.ok) return groups
  return ok([message.value, ...groups.value].join(CRLF))
}

/** RET and the actions decide what comes back (RFC 3461 §4.3, §6.2). */
export interface ReturnChoice {
  /** RET as received (FULL or HDRS in any case), or null. */
  ret: string | null
  /** What RET=FULL returns when RET is absent too: the documented default (`[dsn] return_without_ret`). */
  defaultRet: 'headers' | 'full'
  /** The report tells of a failure. */
  failure: boolean
  /** The message's size in octets, and the most a report returns whole. */
  size: number
  maxFull: number
}

/**
 * `full` only for a failure report whose RET (or the default when RET is absent) asks for it and whose message fits
 * max; `headers` otherwise. Success and delay reports return headers only (§4.3).
 */
export function returnKind(c: ReturnChoice): 'headers' | 'full' {
  const wanted = c.ret === null ? c.defaultRet : c.ret.toUpperCase() === 'FULL' ? 'full' : 'headers'
  return wanted === 'full' && c.failure && c.size <= c.maxFull ? 'full' : 'headers'
}

/**
 * The header block of a message (up to the first empty line), CRLF line endings, dot-stuffing of a queue file
 * undone by the caller.
 */
export function headerBlock(message: string): string {
  const end = message.search(/\r?\n\r?\n/)
  const head = end === -1 ? message : message.slice(0, end)
  return `${toCrlf(head).replace(/\r\n$/, '')}\r\n`
}

export function toCrlf(s: string): string {
  return s.replace(/\r?\n/g, CRLF)
}

export interface ReportMessage {
  report: DeliveryReport
  /** The report's recipient: the original message's return path. */
  to: string
  /** Header From: address, e.g. MAILER-DAEMON@<reporting MTA>. */
  from: string
  date: Date
  /** Without angle brackets. */
  messageId: string
  /** An RFC 2046 boundary absent from the returned content (boundaryFromBytes in src/tsn/writer). */
  boundary: string
  returned: ReturnedContent
  /** The original Subject:, unfolded, for the human-readable part; null when it had none. */
  originalSubject: string | null
}

const is8bit = (s: string) => /[^\x00-\x7f]/.test(s)

/** Header fields whose values come from the network: one printable line, at most 900 characters. */
function safe(value: string): string {
  return value
    .replace(/[\x00-\x1f\x7f]+/g, ' ')
    .trim()
    .slice(0, 900)
}

/**
 * The whole report message (RFC 3461 §6.2, RFC 3462): multipart/report; report-type=delivery-status with the
 * human-readable text, the message/delivery-status, and the returned headers (text/rfc822-headers) or message
 * (message/rfc822). Auto-Submitted: auto-replied (RFC 3834 §5) so that auto-responders stay quiet.
 */
export function formatReportMessage(m: ReportMessage): Result<string> {
  const status = formatDeliveryStatus(m.report)
  if (!status.ok) return status
  const when = formatDateTime(m.date, UTC)
  if (!when.ok) return when
  const human = humanReadable(m.report, m.originalSubject)
  const delimiter = `--${m.boundary}`
  const returnedText = toCrlf(m.returned.text)
  if (
    [human, status.value, returnedText].some((body) => body.split(CRLF).some((l) => l.startsWith(delimiter)))
  ) {
    return err('the boundary occurs in a part')
  }
  const to = safe(m.to)
  const lines = [
    `From: Mail Delivery System <${safe(m.from)}>`,
    `To: <${to}>`,
    `Subject: ${subjectOf(m.report)}`,
    `Date: ${when.value}`,
    `Message-ID: <${safe(m.messageId)}>`,
    'Auto-Submitted: auto-replied',
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type=delivery-status;${CRLF} boundary="${m.boundary}"`,
    '',
    'This is a MIME-encapsulated delivery status notification.',
    '',
    delimiter,
    `Content-Type: text/plain; charset=${is8bit(human) ? 'utf-8' : 'us-ascii'}`,
    ...(is8bit(human) ? ['Content-Transfer-Encoding: 8bit'] : []),
    'Content-Description: Notification',
    '',
    human,
    delimiter,
    'Content-Type: message/delivery-status',
    'Content-Description: Delivery report',
    '',
    status.value,
  ]
  const whole = m.returned.kind === 'message'
  lines.push(
    delimiter,
    `Content-Type: ${whole ? 'message/rfc822' : 'text/rfc822-headers'}`,
    ...(is8bit(returnedText) ? ['Content-Transfer-Encoding: 8bit'] : []),
    `Content-Description: ${whole ? 'Undelivered message' : 'Message headers'}`,
    '',
    // Its own last line ending kept: the CRLF before the closing delimiter belongs to the delimiter (RFC 2046 §5.1.1).
    returnedText,
    `${delimiter}--`,
    '',
  )
  return ok(lines.join(CRLF))
}
