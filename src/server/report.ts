// The answer to one TRACK (RFC 3887 §4): which stored records the secret opens, and the message/tracking-status
// parts (RFC 3886) they become. Pure: the clock is a parameter, nothing is read or written.
//
// Decisions:
// - The secret is checked against every record of the envid, SHA-1 computed once and compared in constant time with
//   each stored B as raw 20 octets (SEC-5, AMB-4, AMB-5), and against a dummy when there is no record, so an unknown
//   envid and a wrong secret cost the same hashing work (AMB-13). Only matching records are reported (AMB-37).
// - Expired data is as if it had never been (AMB-12), per recipient: a recipient past its keep time is left out (as
//   `mtrk-trace retention` cuts keep times, RFC 3885 §4.1), one still queued is always in (MTQP-19, MTRK-10), and a
//   record with no recipient left answers as unknown.
// - Stored data is input like any other: a field the writer would refuse is repaired where a correct value follows
//   from the rest of the record, and left out (recipient or whole record) where it does not, with a note for the
//   log. One bad record never costs the client the others (formatTrackingBody fails the whole body on any error).

import { createHash, timingSafeEqual } from 'node:crypto'
import { diagnosticCode } from '../dsn/status'
import type { StoredMessage, StoredRecipient } from '../model/records'
import { recipientVisible } from '../model/retention'
import { isFieldValue, mtaName, originalRecipient, recipientAddress, reportingMta } from '../tsn/address'
import { MAX_YEAR, MIN_YEAR } from '../tsn/date'
import { isStrictStatusCode, quote } from '../tsn/syntax'
import type { Action, RecipientStatus, TrackingStatus } from '../tsn/types'
import { decodeBase64Strict } from '../util/base64'

export interface ReportInput {
  /** The xtext-decoded envid of the TRACK, which the records were looked up by (AMB-7). */
  envid: string
  /** Everything the store holds for that envid. */
  records: readonly StoredMessage[]
  /** The raw octets of the secret A (MTQP-14, SEC-5). */
  secret: Uint8Array
  /** ms since the epoch */
  now: number
}

export interface Report {
  /** One part per record the secret opens that is still visible, in store order (AMB-26, AMB-37). Empty: noinfo. */
  parts: TrackingStatus[]
  /** What was repaired or left out of inconsistent records, for the operator's log. Never holds the secret. */
  notes: string[]
}

/** SHA-1 digests are 20 octets (ERR-3885-1). */
const CERTIFIER_OCTETS = 20
const DUMMY_CERTIFIER = Buffer.alloc(CERTIFIER_OCTETS)

/** ESC-3 and AMB-33: the status reported when the stored one is unusable for the action. */
const DEFAULT_STATUS: Readonly<Record<Action, string>> = {
  delivered: '2.5.0',
  expanded: '2.5.0',
  transferred: '2.4.0',
  relayed: '2.1.9',
  delayed: '4.0.0',
  failed: '5.0.0',
  opaque: '2.0.0',
}

/** Status classes that make sense with each action: success is class 2, queued is 4, failed is 4 or 5. */
const STATUS_CLASSES: Readonly<Record<Action, string>> = {
  delivered: '2',
  expanded: '2',
  transferred: '2',
  relayed: '2',
  delayed: '4',
  failed: '45',
  opaque: '245',
}

export function buildReport({ envid, records, secret, now }: ReportInput): Report {
  const digest = createHash('sha1').update(secret).digest()
  // Decide for every record before looking at any result, so the work does not depend on which one matches.
  const shown = records.map((m) => m.recipients.filter((r) => recipientVisible(m, r, now)))
  const opened = records.map((m, i) => opens(m, digest) && m.envid === envid && shown[i]?.length !== 0)
  if (records.length === 0) timingSafeEqual(digest, DUMMY_CERTIFIER)

  const notes: string[] = []
  const parts: TrackingStatus[] = []
  records.forEach((m, i) => {
    if (!opened[i]) return
    const part = trackingStatus(m, shown[i] ?? [], (note) => notes.push(`record ${quote(m.txn)}: ${note}`))
    if (part !== null) parts.push(part)
  })
  return { parts, notes }
}

/** SEC-5: SHA-1(A) equals the stored B, compared as raw octets in constant time. */
function opens(m: StoredMessage, digest: Buffer): boolean {
  const certifierBytes = decodeBase64Strict(m.certifier, { allowPadding: true })
  const usable = certifierBytes !== null && certifierBytes.length === CERTIFIER_OCTETS
  // An unusable stored certifier opens nothing, but is compared against the dummy to keep the work the same.
  const equal = timingSafeEqual(digest, usable ? certifierBytes : DUMMY_CERTIFIER)
  return equal && usable
}

/** `shown`: the record's recipients still visible (recipientVisible), at least one (RFC 3886 §3.1 needs one). */
function trackingStatus(
  m: StoredMessage,
  shown: readonly StoredRecipient[],
  note: (text: string) => void,
): TrackingStatus | null {
  // AMB-8: the decoded ENVID; its xtext form, which is printable by construction, when the decoded one is not.
  const envid = [m.envid, m.envidXtext].find(isFieldValue)
  const arrival = writableDate(m.arrival)
  if (envid === undefined || arrival === null) {
    note('left out: envid or arrival time cannot be written')
    return null
  }
  if (envid !== m.envid) note('envid written in its xtext form: the decoded form is not printable')
  return {
    originalEnvelopeId: envid,
    reportingMta: reportingMta(m.reportingMta, note),
    arrivalDate: arrival,
    // AMB-39: every accepted recipient still kept is in the answer; an address is written as well as it can be.
    recipients: shown.map((r) => recipientStatus(r, note)),
  }
}

function recipientStatus(r: StoredRecipient, note: (text: string) => void): RecipientStatus {
  const finalRecipient = recipientAddress(r.address, note) // TSN-10
  const original = r.orcpt === null ? null : originalRecipient(r.orcpt, note)
  if (r.orcpt !== null && original === null) note('unreadable ORCPT replaced by the RCPT address') // AMB-14
  const out: RecipientStatus = {
    // AMB-14: without a (usable) ORCPT, the one RFC 3461 §5.2.1(d) would have added: the RCPT address.
    originalRecipient: original ?? { ...finalRecipient },
    finalRecipient,
    action: r.action,
    status: status(r, note),
  }
  if (r.action === 'opaque') return out // TSN-23: no attempt or queue fields

  const lastAttempt = r.lastAttempt === null ? null : writableDate(r.lastAttempt)
  if (lastAttempt !== null) {
    // TSN-13, AMB-30: Remote-MTA only for an attempt that reached a host.
    const remote = r.remoteMta === null ? null : mtaName(r.remoteMta)
    if (remote !== null) out.remoteMta = remote
    out.lastAttemptDate = lastAttempt // TSN-14
  } else if (r.remoteMta !== null) {
    // A Remote-MTA implies an attempt, whose date is required with it (TSN-14): without the date, drop the host.
    note('Remote-MTA left out: no usable last-attempt time')
  }
  const retryUntil = r.willRetryUntil === null ? null : writableDate(r.willRetryUntil)
  // TSN-15, TSN-22: only while the message is in the queue, which is what `delayed` means.
  if (r.action === 'delayed' && retryUntil !== null) out.willRetryUntil = retryUntil
  const diagnostic = lastDiagnostic(r)
  if (diagnostic !== null) out.extensions = [{ name: 'Diagnostic-Code', value: diagnostic }]
  return out
}

/**
 * AMB-40: why, in the sender's terms: the latest attempt's remote reply (`smtp; 550 5.1.1 ...`) or our own reason,
 * written as delivery status notifications write it (src/dsn/status).
 */
function lastDiagnostic(r: StoredRecipient): string | null {
  const last = r.history.at(-1)
  if (last?.reply === undefined) return null
  const code = last.code === undefined ? Number.NaN : Number(last.code)
  return Number.isInteger(code)
    ? diagnosticCode({ code, text: last.reply }, null)
    : diagnosticCode(null, last.reply)
}

/** TSN-21: 2.1.9 with relayed and only with it; otherwise the stored code if it is well formed and fits the action. */
function status(r: StoredRecipient, note: (text: string) => void): string {
  if (r.action === 'relayed') return DEFAULT_STATUS.relayed
  const s = r.status
  if (isStrictStatusCode(s) && s !== DEFAULT_STATUS.relayed && STATUS_CLASSES[r.action].includes(s[0]!))
    return s
  note(`status ${quote(s)} does not fit action ${r.action}; reporting ${DEFAULT_STATUS[r.action]}`)
  return DEFAULT_STATUS[r.action]
}

/** A date RFC 5322 can carry (years 1900-9999 at +0000, the zone written), or null. */
function writableDate(ms: number): Date | null {
  const date = new Date(ms)
  const year = date.getUTCFullYear()
  return year >= MIN_YEAR && year <= MAX_YEAR ? date : null
}
