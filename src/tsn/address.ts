// Addresses and MTA names in the 7-bit fields that message/tracking-status (RFC 3886 §3) and message/delivery-status
// (RFC 3464 §2.2-2.3) share: Final-Recipient from the RCPT address, Original-Recipient from the ORCPT as received,
// Reporting-MTA and Remote-MTA from host names. One reading for the tracking answer and the delivery status
// notification alike, so both write them the same way.
// Pure.
import { decodeUtf8Addr, encodeUtf8AddrXtext, isUtf8AddrType, UTF8_ADDR_TYPE } from '../esmtp/utf8-addr'
import { decodeXtextOctets, encodeXtext } from '../esmtp/xtext'
import { isDnsName } from '../util/dns-name'
import { isAtom } from './syntax'
import type { TypedValue } from './types'

/** Told what was repaired or cut, for the operator's log. */
export type Note = (text: string) => void

/**
 * Longest field value and address type written. Real values are far shorter (an address path is at most 256
 * octets, an ENVID 100, an ORCPT 500), and with these bounds `Original-Recipient: <type>; <value>` fits one
 * 998-octet line, so the writer never has to fold and cannot fail on a word too long to fold (MTQP-5).
 */
export const MAX_VALUE_OCTETS = 900
const MAX_TYPE_OCTETS = 64

/** A value the field writer accepts on one line: printable US-ASCII (TSN-2), not empty, no surrounding whitespace. */
export function isFieldValue(s: string): boolean {
  return s.length > 0 && s.length <= MAX_VALUE_OCTETS && /^[\x20-\x7e]+$/.test(s) && s.trim() === s
}

/**
 * An address as accepted, in a 7-bit field (TSN-2, RFC 3461 §6.3(e)): `rfc822; addr` when it is printable US-ASCII,
 * otherwise RFC 6533's `utf-8; <utf-8-addr-xtext>` (AMB-39), e.g. `utf-8; j\x{F6}rg@example.org`, which readers
 * turn back into Unicode. Never fails: an empty address is `x-unknown; unknown`, an overlong one is cut (noted).
 */
export function recipientAddress(address: string, note: Note): TypedValue {
  if (isFieldValue(address)) return { type: 'rfc822', value: address }
  if (address === '') {
    note('empty address written as x-unknown; unknown')
    return { type: 'x-unknown', value: 'unknown' }
  }
  return { type: UTF8_ADDR_TYPE, value: bounded(encodeUtf8AddrXtext(address), note) }
}

/** A value longer than one line can hold is cut, with a note: written as well as it can be (AMB-39). */
function bounded(value: string, note: Note): string {
  if (value.length <= MAX_VALUE_OCTETS) return value
  note(`address of ${value.length} characters cut to ${MAX_VALUE_OCTETS}`)
  return value.slice(0, MAX_VALUE_OCTETS)
}

/**
 * An ORCPT `addr-type ";" xtext` as received (RFC 3461 §4.2), shown decoded (AMB-14, RFC 3461 §6.3(d)): a `utf-8`
 * address in any form a sender writes, or an rfc822 one whose octets are UTF-8, in RFC 6533's 7-bit form (AMB-39);
 * other octets that cannot be shown in their xtext form. The address type keeps its letter case. Null when the ORCPT
 * is not usable at all (no ";", a type that is not an atom, malformed xtext).
 */
export function originalRecipient(orcpt: string, note: Note): TypedValue | null {
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

/** Reporting-MTA (TSN-6): `dns;` for a host name; for a stored name that cannot be written, a placeholder. */
export function reportingMta(name: string, note: Note): TypedValue {
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
export function mtaName(name: string): TypedValue | null {
  if (isDnsName(name, { allowSingleLabel: false })) return { type: 'dns', value: name }
  if (isFieldValue(name) && !/[\s()]/.test(name)) return { type: 'x-local-hostname', value: name }
  return null
}

function strictUtf8(octets: Uint8Array): string | null {
  try {
    return new TextDecoder('utf-8', { fatal: true }).decode(octets)
  } catch {
    return null
  }
}
