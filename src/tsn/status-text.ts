// Meanings of enhanced status codes for people: RFC 3463 §2-§3, X.1.9 from RFC 3886 §3.3.4 (ESC-2) and X.1.10
// from RFC 7505.
import { STATUS_CODE_SYNTAX } from './syntax'

const CLASS_TEXT: Readonly<Record<string, string>> = {
  '2': 'Success',
  '4': 'Persistent transient failure',
  '5': 'Permanent failure',
}

const SUBJECT_TEXT: Readonly<Record<string, string>> = {
  '0': 'other or undefined status',
  '1': 'addressing status',
  '2': 'mailbox status',
  '3': 'mail system status',
  '4': 'network and routing status',
  '5': 'mail delivery protocol status',
  '6': 'message content or media status',
  '7': 'security or policy status',
}

/** Keyed by `subject.detail`; the wording is RFC 3463 §3's headings, in lower case. */
const DETAIL_TEXT: Readonly<Record<string, string>> = {
  '0.0': 'other undefined status',
  '1.0': 'other address status',
  '1.1': 'bad destination mailbox address',
  '1.2': 'bad destination system address',
  '1.3': 'bad destination mailbox address syntax',
  '1.4': 'destination mailbox address ambiguous',
  '1.5': 'destination address valid',
  '1.6': 'destination mailbox has moved, no forwarding address',
  '1.7': "bad sender's mailbox address syntax",
  '1.8': "bad sender's system address",
  // RFC 3886 §3.3.4, without the stray quote of ERR-3886-1.
  '1.9': 'message relayed to non-compliant mailer',
  '1.10': 'recipient address has null MX',
  '2.0': 'other or undefined mailbox status',
  '2.1': 'mailbox disabled, not accepting messages',
  '2.2': 'mailbox full',
  '2.3': 'message length exceeds administrative limit',
  '2.4': 'mailing list expansion problem',
  '3.0': 'other or undefined mail system status',
  '3.1': 'mail system full',
  '3.2': 'system not accepting network messages',
  '3.3': 'system not capable of selected features',
  '3.4': 'message too big for system',
  '3.5': 'system incorrectly configured',
  '4.0': 'other or undefined network or routing status',
  '4.1': 'no answer from host',
  '4.2': 'bad connection',
  '4.3': 'directory server failure',
  '4.4': 'unable to route',
  '4.5': 'mail system congestion',
  '4.6': 'routing loop detected',
  '4.7': 'delivery time expired',
  '5.0': 'other or undefined protocol status',
  '5.1': 'invalid command',
  '5.2': 'syntax error',
  '5.3': 'too many recipients',
  '5.4': 'invalid command arguments',
  '5.5': 'wrong protocol version',
  '6.0': 'other or undefined media error',
  '6.1': 'media not supported',
  '6.2': 'conversion required and prohibited',
  '6.3': 'conversion required but not supported',
  '6.4': 'conversion with loss performed',
  '6.5': 'conversion failed',
  '7.0': 'other or undefined security status',
  '7.1': 'delivery not authorized, message refused',
  '7.2': 'mailing list expansion prohibited',
  '7.3': 'security conversion required but not possible',
  '7.4': 'security features not supported',
  '7.5': 'cryptographic failure',
  '7.6': 'cryptographic algorithm not supported',
  '7.7': 'message integrity failure',
}

/**
 * `describeStatus('2.1.9')` → "Success: message relayed to non-compliant mailer". An unknown detail falls
 * back to class and subject, an unknown subject to the class (RFC 3463 §2, ESC-4). Anything else gets a
 * fixed text that does not echo the input, which may be hostile.
 */
export function describeStatus(code: string): string {
  const m = STATUS_CODE_SYNTAX.exec(String(code).trim())
  if (!m) return 'Unknown status: not an enhanced status code'
  // Leading zeros are malformed (RFC 3464 §2.3.4) but unambiguous, so 2.01.0 reads as 2.1.0.
  const [cls, subject, detail] = m.slice(1).map((part) => String(Number(part)))
  const classText = CLASS_TEXT[cls!]
  if (!classText) return `Unknown status class ${cls}`
  const meaning = DETAIL_TEXT[`${subject}.${detail}`] ?? SUBJECT_TEXT[subject!] ?? 'unknown subject'
  return `${classText}: ${meaning}`
}
