// The answer to one TRACK (RFC 3887 §4): which stored records the secret opens, and the message/tracking-status
// parts (RFC 3886) they become. Pure: the clock is a parameter, nothing is read or written.
//
// Decisions:
// - The secret is checked against every record of the envid, SHA-1 computed once and compared in constant time with
//   each stored B as raw 20 octets (SEC-5, AMB-4, AMB-5), and against a dummy when there is no record, so an unknown
//   envid and a wrong secret cost the same hashing work (AMB-13). Only matching records are reported (AMB-37).
// - Expired data is as if it had never been (AMB-12), but a record with a recipient still queued is always visible
//   (MTQP-19, MTRK-10).
// - Stored data is input like any other: a field the writer would refuse is repaired where a correct value follows
//   from the rest of the record, and left out (recipient or whole record) where it does not, with a note for the
//   log. One bad record never costs the client the others (formatTrackingBody fails the whole body on any error).

import { createHash, timingSafeEqual } from 'node:crypto'
import { diagnosticCode } from '../dsn/status'
import { decodeUtf8Addr, encodeUtf8AddrXtext, isUtf8AddrType, UTF8_ADDR_TYPE } from '../esmtp/utf8-addr'
import { decodeXtextOctets, encodeXtext } from '../esmtp/xtext'
import type { StoredMessage, StoredRecipient } from '../model/records'
import { MAX_YEAR, MIN_YEAR } from '../tsn/date'
import { isAtom, isStrictStatusCode, quote } from '../tsn/syntax'
import type { Action, RecipientStatus, TrackingStatus, TypedValue } from '../tsn/types'
import { decodeBase64Strict } from '../util/base64'
import { isDnsName } from '../util/dns-name'

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

/**
 * Longest field value and address type written. Real values are far shorter (an address path is at most 256
 * octets, an ENVID 100, an ORCPT 500), and with these bounds `Original-Recipient: <type>; <value>` fits one
 * 998-octet line, so the writer never has to fold and cannot fail on a word too long to fold (MTQP-5).
 */
const MAX_VALUE_OCTETS = 900
const MAX_TYPE_OCTETS = 64

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
  const opened = records.map((m) => opens(m, digest) && m.envid === envid && visible(m, now))
  if (records.length === 0) timingSafeEqual(digest, DUMMY_CERTIFIER)

  const notes: string[] = []
  const parts: TrackingStatus[] = []
  records.forEach((m, i) => {
    if (!opened[i]) return
    const part = trackingStatus(m, (note) => notes.push(`record ${quote(m.txn)}: ${note}`))
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

/** AMB-12: visible until both the retention and every recipient's keep time have passed; queued always (MTQP-19). */
function visible(m: StoredMessage, now: number): boolean {
  // Queued here (delayed with a give-up time): always known (MTRK-10). A 4xx refusal is delayed but not ours to keep.
  if (m.recipients.some((r) => r.action === 'delayed' && r.willRetryUntil !== null)) return true
  const until = Math.max(m.arrival + m.retention * 1000, ...m.recipients.map((r) => r.keepUntil))
  return now < until
}

function trackingStatus(m: StoredMessage, note: (text: string) => void): TrackingStatus | null {
  // AMB-8: the decoded ENVID; its xtext form, which is printable by construction, when the decoded one is not.
  const envid = [m.envid, m.envidXtext].find(isFieldValue)
  const arrival = writableDate(m.arrival)
  if (envid === undefined || arrival === null) {
    note('left out: envid or arrival time cannot be written')
    return null
  }
  if (envid !== m.envid) note('envid written in its xtext form: the decoded form is not printable')
  // AMB-39: every accepted recipient is in the answer; an address is written as well as it can be, never dropped.
  const recipients = m.recipients.map((r) => recipientStatus(r, note))
  if (recipients.length === 0) {
    // RFC 3886 §3.1 needs at least one recipient group.
    note('left out: no recipient stored')
    return null
  }
  return {
    originalEnvelopeId: envid,
    reportingMta: reportingMta(m.reportingMta, note),
    arrivalDate: arrival,
    recipients,
  }
}

function recipientStatus(r: StoredRecipient, note: (text: string) => void): RecipientStatus {
  const finalRecipient = recipientAddress(r.address, note) // TSN-10
  const original = r.orcpt === null ? null : originalRecipient(r.orcpt, note)
  if (r.orcpt !== null && original === null) note('unreadable ORCPT replaced by the RCPT address (AMB-14)')
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

/**
 * An address as accepted, in a 7-bit field (TSN-2): `rfc822; addr` when it is printable US-ASCII, otherwise RFC 6533's
 * `utf-8; <utf-8-addr-xtext>` (AMB-39), e.g. `utf-8; j\x{F6}rg@example.org`, which the client reads back.
 */
function recipientAddress(address: string, note: (text: string) => void): TypedValue {
  if (isFieldValue(address)) return { type: 'rfc822', value: address }
  if (address === '') {
    note('empty address written as x-unknown; unknown')
    return { type: 'x-unknown', value: 'unknown' }
  }
  return { type: UTF8_ADDR_TYPE, value: bounded(encodeUtf8AddrXtext(address), note) }
}

/** A value longer than one line can hold is cut, with a note: written as well as it can be (AMB-39). */
function bounded(value: string, note: (text: string) => void): string {
  if (value.length <= MAX_VALUE_OCTETS) return value
  note(`address of ${value.length} characters cut to ${MAX_VALUE_OCTETS}`)
  return value.slice(0, MAX_VALUE_OCTETS)
}

/**
 * `addr-type ";" address` as received (RFC 3461 §4.2), shown decoded (AMB-14): a `utf-8` address, or an rfc822 one
 * whose octets are UTF-8, in RFC 6533's 7-bit form (AMB-39); other octets that cannot be shown in their xtext form.
 * Null when the ORCPT is not usable at all (no ";", a type that is not an atom, malformed xtext).
 */
function originalRecipient(orcpt: string, note: (text: string) => void): TypedValue | null {
  const semi = orcpt.indexOf(';')
  if (semi === -1) return null
  const type = orcpt.slice(0, semi)
  if (!isAtom(type) || type.length > MAX_TYPE_OCTETS) return null
  const coded = orcpt.slice(semi + 1)
  // The common case, read without decoding: xtext without "+" that is printable US-ASCII stands for itself.
  if (!coded.includes('+') && isFieldValue(coded) && !isUtf8AddrType(type)) return { type, value: coded }
  if (isUtf8AddrType(type)) {
    const address = decodeUtf8Addr(coded)
    return address === null ? null : recipientAddress(address, note)
  }
  const octets = decodeXtextOctets(coded)
  if (octets === null) return null
  const text = Buffer.from(octets).toString('latin1')
  if (isFieldValue(text)) return { type, value: text }
  const utf8 = strictUtf8(octets)
  if (utf8 !== null && type.toLowerCase() === 'rfc822') return recipientAddress(utf8, note)
  if (text.length === 0) return null
  note('ORCPT octets are neither printable nor UTF-8: written in xtext')
  return { type, value: bounded(encodeXtext(text), note) }
}

function strictUtf8(octets: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(octets)
  } catch {
    return null
  }
}

/** Reporting-MTA (TSN-6): `dns;` for a host name; for a stored name that cannot be written, a placeholder. */
function reportingMta(name: string, note: (text: string) => void): TypedValue {
  const typed = mtaName(name)
  if (typed !== null) return typed
  note('Reporting-MTA name cannot be written; reporting x-local-hostname; unknown')
  return { type: 'x-local-hostname', value: 'unknown' }
}

/**
 * An MTA name as written in Reporting-MTA and Remote-MTA: `dns; <name>` for a DNS name (AMB-30); a name that is not
 * one (e.g. an address literal or a single label) as `x-local-hostname`, which TSN-6 suggests when no FQDN is known.
 * Parentheses would read as a comment and whitespace would not survive, so such names are refused.
 */
function mtaName(name: string): TypedValue | null {
  if (isDnsName(name, { allowSingleLabel: false })) return { type: 'dns', value: name }
  if (isFieldValue(name) && !/[\s()]/.test(name)) return { type: 'x-local-hostname', value: name }
  return null
}

/** A value the writer accepts on one line: printable US-ASCII (TSN-2), not empty, no surrounding whitespace. */
function isFieldValue(s: string): boolean {
  return s.length > 0 && s.length <= MAX_VALUE_OCTETS && /^[\x20-\x7e]+$/.test(s) && s.trim() === s
}

/** A date RFC 5322 can carry (years 1900-9999 at +0000, the zone written), or null. */
function writableDate(ms: number): Date | null {
  const year = new Date(ms).getUTCFullYear()
  return year >= MIN_YEAR && year <= MAX_YEAR ? new Date(ms) : null
}
