// One mapping from what ended a delivery attempt to an RFC 3463 enhanced status code and an RFC 3464
// Diagnostic-Code, used by delivery status notifications and by the tracking record alike (AMB-40, ESC-3).
// Pure: Haraka's reasons arrive as the texts its outbound queue gives (outbound/hmail.js, Haraka 3.3).
import { findEnhancedStatus } from '../esmtp/reply'

/** A reply from the next hop: its three-digit code and its text after the code (enhanced status code included). */
export interface RemoteReply {
  code: number
  text: string
}

/** What ended an attempt for a recipient, as far as the queue tells. */
export interface AttemptFailure {
  /** A temporary failure (still queued) rather than a permanent one (given up). */
  temporary: boolean
  /** The reply that refused the recipient or the transaction, when a next hop answered. */
  reply: RemoteReply | null
  /** Haraka's reason when no reply refused: a lookup, connection, TLS or queue error. */
  reason: string | null
}

/**
 * `subject.detail` for a reply code without an enhanced status code: what RFC 5321 §4.2 says the code means, in
 * RFC 3463's terms. 554 is "transaction failed" and nothing more: x.0.0 is the honest reading.
 */
const REPLY_CODE_DETAIL: Readonly<Record<number, string>> = {
  421: '3.2', // service not available, closing the channel: system not accepting network messages
  450: '2.0', // mailbox unavailable
  451: '3.0', // local error in processing
  452: '3.1', // insufficient system storage: mail system full
  454: '7.0', // TLS or authentication temporarily unavailable (RFC 3207, RFC 4954)
  455: '5.4', // server unable to accommodate parameters (RFC 5321 §4.2.3)
  500: '5.2', // syntax error, command unrecognised
  501: '5.4', // syntax error in parameters
  502: '5.1', // command not implemented
  503: '5.1', // bad sequence of commands
  504: '5.4', // parameter not implemented
  521: '3.2', // host does not accept mail (RFC 7504)
  530: '7.0', // authentication required (RFC 4954)
  534: '7.9', // authentication mechanism too weak (RFC 4954)
  535: '7.8', // authentication credentials invalid (RFC 4954)
  538: '7.11', // encryption required for the mechanism (RFC 4954)
  550: '2.0', // mailbox unavailable
  551: '1.6', // user not local: mailbox has moved
  552: '2.2', // exceeded storage allocation: mailbox full
  553: '1.3', // mailbox name not allowed: bad mailbox address syntax
  554: '0.0', // transaction failed
  555: '5.4', // MAIL/RCPT parameters not recognised
  556: '1.10', // domain does not accept mail (RFC 7504)
}

/**
 * `subject.detail` for Haraka's own reasons (outbound/hmail.js), first match wins. The class comes from whether the
 * queue gave up, so "Too many failures (<reason>)" maps as its reason does.
 */
const REASON_DETAIL: ReadonlyArray<readonly [RegExp, string]> = [
  [/\(NULL MX\)/i, '1.10'], // RFC 7505: the domain sends and receives no mail
  [/^No Such Domain\b/i, '1.2'], // NXDOMAIN: the destination system does not exist
  [/^(?:No MX for|Nowhere to deliver mail to)\b/i, '4.4'], // the domain exists but no route to it is published
  [/^(?:Temporary MX lookup error|DNS lookup failure)\b/i, '4.3'], // directory server failure
  [/^No TLS available but required\b/i, '7.4'], // the next hop lacks a security feature we require
  [/^Host failed TLS verification\b/i, '7.5'], // cryptographic failure (RFC 7672 §2.2 uses X.7.5 likewise)
  [/\b(?:ECONNREFUSED|connection refused|EHOSTUNREACH|ENETUNREACH|connect(?:ion)? timed out)\b/i, '4.1'],
  [/\b(?:socket timeout|closed connection|ECONNRESET)\b/i, '4.2'], // established, then lost
  [/^Tried all MXs\b/i, '4.1'], // no next hop could be reached: no answer from host
  [/^Unrecognized response from upstream server\b/i, '5.0'], // protocol failure
  [/^Error (?:re-queueing|splitting|reading queue file)\b/i, '3.0'], // our own mail system
]

const GIVE_UP = /^Too many failures \((.*)\)$/s
const UPSTREAM = /^Upstream error: (\d{3}) (.*)$/s

/**
 * The reply the reason quotes when Haraka folded a refusal into its reason text ("Upstream error: 451 4.3.0 ..."),
 * for an attempt whose reply we did not see ourselves.
 */
export function replyInReason(reason: string | null): RemoteReply | null {
  const m = UPSTREAM.exec(unwrapReason(reason ?? ''))
  return m ? { code: Number(m[1]), text: m[2]!.trim() } : null
}

function unwrapReason(reason: string): string {
  return GIVE_UP.exec(reason)?.[1] ?? reason
}

/**
 * The RFC 3463 status of a failed or delayed recipient: class 4 while queued, 5 once the queue gave up (retries
 * exhausted turn a 4.x.y into 5.x.y, as Haraka's own bounce does). The next hop's enhanced code when it gave one, else
 * the meaning of its reply code, else the meaning of Haraka's reason; x.0.0 only when nothing more is known
 * (RFC 3461 §6.3(g)).
 */
export function failureStatus(f: AttemptFailure): string {
  const cls = f.temporary ? '4' : '5'
  const reply = f.reply ?? replyInReason(f.reason)
  if (reply) {
    const enhanced = findEnhancedStatus(reply.text)
    // Trusted when it agrees with the reply code (a 4.x.y in a 550 is not); its class is the queue's decision.
    if (enhanced && enhanced[0] === String(reply.code)[0]) return `${cls}${enhanced.slice(1)}`
    const detail = REPLY_CODE_DETAIL[reply.code]
    if (detail) return `${cls}.${detail}`
  }
  if (f.reason !== null) {
    const reason = unwrapReason(f.reason)
    const found = REASON_DETAIL.find(([re]) => re.test(reason))
    if (found) return `${cls}.${found[1]}`
  }
  return `${cls}.0.0`
}

/** Longest diagnostic text kept: `Diagnostic-Code: smtp; ` plus this fits one 998-octet line. */
const MAX_DIAGNOSTIC = 900

/** One line of printable US-ASCII: a remote reply is untrusted input that ends up in header fields. */
export function printableLine(text: string, max = MAX_DIAGNOSTIC): string {
  const line = text
    .replace(/[^\x20-\x7e]+/g, ' ')
    .replace(/ {2,}/g, ' ')
    .trim()
  return line.length > max ? `${line.slice(0, max - 3)}...` : line
}

/**
 * The Diagnostic-Code value (RFC 3464 §2.3.6): `smtp; <code> <text>` for a next hop's reply (RFC 3461 §9.2), or
 * `X-Haraka; <reason>` for a reason of our own, which is no SMTP reply. Null when there is neither.
 */
export function diagnosticCode(reply: RemoteReply | null, reason: string | null): string | null {
  if (reply) return `smtp; ${printableLine(`${reply.code} ${reply.text}`)}`
  const own = reason === null ? '' : printableLine(reason)
  return own === '' ? null : `X-Haraka; ${own}`
}
