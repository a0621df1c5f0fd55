// The acceptance rule of the SMTP side (AMB-38, "mail first"), in one place.
//
// The plugin refuses a MAIL or RCPT command only where an RFC requires a 501/555 (RFC 3461, RFC 3885, and RFC 5321
// §4.1.1.11 for parameters nobody implements) AND Postfix refuses it too. Those cases are exactly the REFUSALS below. Everything else that Haraka without the plugin accepts, the plugin
// accepts, among them: an ENVID longer than 100 characters, an ORCPT longer than 500, lower-case hex in xtext, 8-bit
// or control octets in a decoded ORCPT, raw UTF-8 and `\x{HEX}` in an ORCPT (RFC 6533), an ORCPT with an empty
// address or an addr-type that is not an atom, NOTIFY lists with empty elements or a word twice, a bare path after
// `TO: ` (`RCPT TO: postmaster`), and SMTPUTF8 recipients. The 555 for unknown parameters can be turned off
// (reject_unknown_params=false) for clients that send parameters no server advertised.
//
// test/esmtp/acceptance.test.ts checks it as a property against Haraka's own parser; test/plugin/acceptance.test.ts
// sends a corpus to Haraka with and without the plugin and to Postfix.

import type { Result } from '../util/result'
import {
  type EsmtpParam,
  type MailParams,
  type ParamPolicy,
  parseMailParams,
  parseRcptParams,
  type RcptParams,
  type Rejection,
  splitCommandParams,
} from './params'

export type RefusalKind = 'envid' | 'ret' | 'mtrk' | 'notify' | 'orcpt' | 'duplicate' | 'unknown'

export interface Refusal {
  code: 501 | 555
  /** What is refused. */
  what: string
  /** The requirement that makes the refusal necessary. */
  requiredBy: string
  /** Postfix 3.7's reply to the same input (for MTRK, which Postfix does not know: to any MTRK). */
  postfix: string
}

/** Every reason the plugin refuses a MAIL or RCPT command; there is no other. */
export const REFUSALS: Readonly<Record<RefusalKind, Refusal>> = {
  envid: {
    code: 501,
    what: 'ENVID without a value, with malformed xtext (a "+" without two hex digits, a character outside xchar), or decoding to non-printable or 8-bit characters',
    requiredBy: 'RFC 3461 §4.4, §5.1(a); DSN-3, DSN-8',
    postfix: '501 5.5.4 Bad ENVID parameter syntax',
  },
  ret: {
    code: 501,
    what: 'RET other than FULL or HDRS',
    requiredBy: 'RFC 3461 §4.3, §5.1(a); DSN-3',
    postfix: '501 5.5.4 Bad RET parameter syntax',
  },
  mtrk: {
    code: 501,
    what: 'MTRK whose certifier is not the base64 of 20 octets or whose timeout is not 1-9 digits; MTRK without a unique-envid ENVID (unless mtrk_without_envid=ignore)',
    requiredBy: 'RFC 3885 §3.1, §3.2; MTRK-3, MTRK-6, AMB-9',
    postfix: '555 5.5.4 Unsupported option: MTRK=...',
  },
  notify: {
    code: 501,
    what: 'NOTIFY with a word other than NEVER, SUCCESS, FAILURE, DELAY, with NEVER and another word, or with no word',
    requiredBy: 'RFC 3461 §4.1, §5.1(b); DSN-4, DSN-5',
    postfix: '501 5.5.4 Error: Bad NOTIFY parameter syntax',
  },
  orcpt: {
    code: 501,
    what: 'ORCPT without ";", with an empty addr-type, with a "+" not followed by two hex digits, or (type utf-8) a malformed \\x{HEX}',
    requiredBy: 'RFC 3461 §4.2, §5.1(b); RFC 6533 §3; DSN-4, DSN-6',
    postfix: '501 5.5.4 Error: Bad ORCPT parameter syntax',
  },
  duplicate: {
    code: 501,
    what: 'ENVID, RET, MTRK, NOTIFY or ORCPT given twice in one command',
    requiredBy: 'RFC 3461 §4.5; RFC 3885 §3.1; DSN-3, DSN-4, MTRK-3',
    postfix: '501 5.5.4 (Bad ... parameter syntax)',
  },
  unknown: {
    code: 555,
    what: 'a parameter neither this plugin nor allowed_params knows, unless reject_unknown_params=false',
    requiredBy: 'RFC 5321 §4.1.1.11',
    postfix: '555 5.5.4 Unsupported option: ...',
  },
}

/** Accept with the parameters the command carries, or refuse with one of the REFUSALS. */
export type Decision<P> = { accept: true; params: P } | { accept: false; rejection: Rejection }

function decided<P>(r: Result<P, Rejection>): Decision<P> {
  return r.ok ? { accept: true, params: r.value } : { accept: false, rejection: r.error }
}

/** The rule for the parameters of a MAIL command, already split off the line. */
export function decideMail(params: EsmtpParam[], policy: ParamPolicy): Decision<MailParams> {
  return decided(parseMailParams(params, policy))
}

/** The rule for the parameters of a RCPT command, already split off the line. */
export function decideRcpt(params: EsmtpParam[], policy: ParamPolicy): Decision<RcptParams> {
  return decided(parseRcptParams(params, policy))
}

/**
 * The rule applied to a raw `MAIL FROM:` or `RCPT TO:` line. Null for any other line. The path itself is Haraka's
 * business, not the rule's.
 */
export function decideCommand(
  line: string,
  policy: ParamPolicy,
): Decision<MailParams> | Decision<RcptParams> | null {
  const params = splitCommandParams(line)
  if (params === null) return null
  return /^\s*MAIL/i.test(line) ? decideMail(params, policy) : decideRcpt(params, policy)
}
