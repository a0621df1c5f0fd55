// MAIL/RCPT parameters of RFC 3461 (DSN) and RFC 3885 (MTRK): pure parsing and validation, no Haraka types.
import { decodeBase64Strict } from '../util/base64'
import { err, ok, type Result } from '../util/result'
import type { RefusalKind } from './acceptance'
import { isUniqueEnvid } from './envid'
import { decodeUtf8Addr, isUtf8AddrType } from './utf8-addr'
import { decodeXtext, decodeXtextOctets, isPrintableAscii } from './xtext'

/** One `keyword[=value]` parameter as sent; the keyword upper-cased (keywords are case-insensitive, RFC 5321). */
export interface EsmtpParam {
  keyword: string
  value: string | null
}

export interface Envid {
  /** As received, for byte-identical forwarding (MTRK-17, DSN-10). */
  xtext: string
  decoded: string
}

export interface Mtrk {
  /**
   * The certifier: base64 of the 20-octet SHA-1 hash B (SEC-4), without padding. Strict decoding allows one
   * spelling besides the padding, so this is B as received, the form stored and forwarded (MTRK-17, AMB-2).
   */
  certifier: string
  /** Requested retention in seconds (MTRK-7), null when absent. */
  timeout: number | null
}

export interface Orcpt {
  /** As received, letter case included (DSN-10). */
  raw: string
  addrType: string
  /**
   * The decoded address, for display (AMB-14): xtext-decoded, or for the `utf-8` type the Unicode address
   * (RFC 6533). Octets that are not UTF-8 show as U+FFFD; it may hold any character, controls included.
   */
  address: string
}

export interface Notify {
  /** As received (DSN-10). */
  raw: string
  never: boolean
  success: boolean
  failure: boolean
  delay: boolean
}

export interface MailParams {
  envid?: Envid
  /** RET as received, FULL or HDRS in any case. */
  ret?: string
  mtrk?: Mtrk
  /** Set when MTRK was present but ignored by policy (AMB-9/AMB-10 "ignore"). */
  mtrkIgnored?: string
}

export interface RcptParams {
  notify?: Notify
  orcpt?: Orcpt
}

/** An SMTP rejection of a command's parameters: one of the refusals the acceptance rule lists (./acceptance). */
export interface Rejection {
  kind: RefusalKind
  code: 501 | 555
  status: '5.5.4'
  message: string
}

export interface ParamPolicy {
  /** Parameters of other extensions that pass untouched (SIZE, BODY, SMTPUTF8, AUTH, ...). Upper case. */
  allowed: ReadonlySet<string>
  /** RFC 5321 §4.1.1.11: 555 for parameters nobody implements. Off when another plugin owns the decision. */
  rejectUnknown: boolean
  /** What to do with MTRK without a unique-envid ENVID (MTRK-6, AMB-9, AMB-10). */
  mtrkWithoutEnvid: 'reject' | 'ignore'
}

// Haraka core refuses "=" inside a value, but a padded MTRK certifier has one (AMB-2); split at the first "=" only.
const PARAM_TOKEN = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:=(\S*))?$/

/**
 * Splits the parameters off a raw `MAIL FROM:<path> params` or `RCPT TO:<path> params` line, keeping order and
 * duplicates, which Haraka's own parser collapses (HRK-2). Tokens are peeled from the end like RFC 1869 parsers do,
 * because a quoted local part may contain spaces. As in Haraka's parser (haraka-utils rfc1869), when nothing is left
 * once every token is peeled, the first token was the path: `RCPT TO: postmaster` has no parameter (AMB-38).
 * Returns null when the line is not such a command.
 */
export function splitCommandParams(line: string): EsmtpParam[] | null {
  const m = /^\s*(?:MAIL\s+FROM|RCPT\s+TO)\s*:(.*)$/i.exec(line)
  if (!m) return null
  let rest = (m[1] ?? '').trim()
  const params: EsmtpParam[] = []
  for (;;) {
    const tail = /\s(\S+)$/.exec(rest)
    const token = tail ? PARAM_TOKEN.exec(tail[1] ?? '') : null
    if (!tail || !token) break
    params.push({ keyword: (token[1] ?? '').toUpperCase(), value: token[2] ?? null })
    rest = rest.slice(0, tail.index).trimEnd()
  }
  // The path is a bare token (no brackets) that looks like a parameter, e.g. `postmaster` or `user=name@host`.
  if (rest === '') params.pop()
  return params.reverse()
}

/**
 * Drops the "=" padding of an MTRK certifier in a raw MAIL line. RFC 5321's esmtp-value cannot hold "=", so Haraka
 * refuses such a line before any plugin sees it; AMB-2 asks us to accept the padded form leniently.
 */
export function unpadMtrkParam(line: string): string {
  return line.replace(/(\sMTRK=[A-Za-z0-9+/]+)={1,2}(?=:[0-9]*(?:\s|$)|\s|$)/i, '$1')
}

/**
 * ENVID=xtext (RFC 3461 §4.4), printable US-ASCII once decoded (DSN-8). RFC 3461's 100 characters are what a server
 * must at least accept; like Postfix we accept any length the line allows (AMB-38: a unique-envid shaped like a long
 * Message-ID is common).
 */
export function parseEnvid(value: string | null): Result<Envid> {
  if (!value) return err('ENVID requires a value')
  const decoded = decodeXtext(value)
  if (decoded === null) return err('ENVID is not valid xtext')
  // Control characters smuggled in as +XX would end up in tracking answers and logs. NUL is let through, as Postfix
  // does (its ENVID ends at a NUL, AMB-38); the tracking answer then shows the xtext form (AMB-8).
  if (!isPrintableAscii(decoded.replaceAll('\u0000', '')))
    return err('ENVID contains non-printable characters')
  return ok({ xtext: value, decoded })
}

/** RET=FULL|HDRS, case-insensitive (RFC 3461 §4.3). */
export function parseRet(value: string | null): Result<string> {
  if (value && /^(FULL|HDRS)$/i.test(value)) return ok(value)
  return err('RET must be FULL or HDRS')
}

/** MTRK=<base64 of the 20-octet SHA-1 B>[:1*9DIGIT] (RFC 3885 §3.1; MTRK-3, AMB-1, AMB-2, AMB-19). */
export function parseMtrk(value: string | null): Result<Mtrk> {
  if (!value) return err('MTRK requires a value')
  const m = /^([^:]*)(?::(.*))?$/.exec(value)
  const received = m?.[1] ?? ''
  const timeoutText = m?.[2]
  const certifierBytes = decodeBase64Strict(received, { allowPadding: true })
  if (!certifierBytes) return err('MTRK certifier is not valid base64')
  if (certifierBytes.length !== 20)
    return err(`MTRK certifier decodes to ${certifierBytes.length} octets, not the 20 of a SHA-1 hash`)
  const certifier = received.replace(/=+$/, '')
  if (timeoutText === undefined) return ok({ certifier, timeout: null })
  if (!/^[0-9]{1,9}$/.test(timeoutText)) return err('MTRK timeout must be 1 to 9 digits')
  return ok({ certifier, timeout: Number(timeoutText) })
}

/**
 * NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY, case-insensitive (RFC 3461 §4.1). Refused: an unknown
 * word, NEVER with another word, no word at all. Empty list elements and repeated words are RFC 822 list syntax
 * that Postfix accepts too, so they are accepted (AMB-38).
 */
export function parseNotify(value: string | null): Result<Notify> {
  if (!value) return err('NOTIFY requires a value')
  const items = value
    .toUpperCase()
    .split(',')
    .filter((item) => item !== '')
  const seen = new Set<string>()
  for (const item of items) {
    if (item !== 'NEVER' && item !== 'SUCCESS' && item !== 'FAILURE' && item !== 'DELAY') {
      return err('NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY')
    }
    seen.add(item)
  }
  if (seen.size === 0) return err('NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY')
  if (seen.has('NEVER')) {
    if (seen.size > 1) return err('NOTIFY=NEVER cannot be combined with SUCCESS, FAILURE or DELAY')
    return ok({ raw: value, never: true, success: false, failure: false, delay: false })
  }
  return ok({
    raw: value,
    never: false,
    success: seen.has('SUCCESS'),
    failure: seen.has('FAILURE'),
    delay: seen.has('DELAY'),
  })
}

/**
 * ORCPT=addr-type;address (RFC 3461 §4.2, RFC 6533 §3). Refused, as by Postfix: no ";", an empty addr-type, a "+"
 * without two hex digits, and for the `utf-8` type a malformed `\x{HEX}`. Accepted (AMB-38, AMB-39): any length,
 * lower-case hex, raw UTF-8 (unitext), octets that decode to 8-bit or control characters, an empty address; they
 * are kept as received for forwarding and written in a 7-bit form in reports.
 */
export function parseOrcpt(value: string | null): Result<Orcpt> {
  if (!value) return err('ORCPT requires a value')
  const semi = value.indexOf(';')
  if (semi < 0) return err('ORCPT must be addr-type;address')
  const addrType = value.slice(0, semi)
  if (addrType === '') return err('ORCPT has no address type')
  const coded = value.slice(semi + 1)
  const address = isUtf8AddrType(addrType) ? decodeUtf8Addr(coded) : xtextForDisplay(coded)
  if (address === null) return err('ORCPT address is not valid xtext')
  return ok({ raw: value, addrType, address })
}

const UTF8 = new TextDecoder('utf-8')

/** xtext decoded to octets, shown as UTF-8 (what senders of 8-bit ORCPTs mean), or null when malformed. */
function xtextForDisplay(coded: string): string | null {
  const octets = decodeXtextOctets(coded)
  return octets === null ? null : UTF8.decode(octets)
}

function reject(kind: RefusalKind, code: 501 | 555, message: string): { ok: false; error: Rejection } {
  return err({ kind, code, status: '5.5.4', message })
}

type Handler<T> = { kind: RefusalKind; apply: (value: string | null, into: T) => Result<unknown> }
type Handlers<T> = Record<string, Handler<T>>

/**
 * Runs each parameter through its handler, refusing duplicates (DSN-3, DSN-4, MTRK-3) and unknown keywords.
 * A handler returns the parse Result; its error becomes "501 5.5.4 Syntax error in KEYWORD: ...".
 */
function applyParams<T>(
  command: string,
  params: EsmtpParam[],
  handlers: Handlers<T>,
  policy: ParamPolicy,
  into: T,
) {
  const seen = new Set<string>()
  for (const { keyword, value } of params) {
    const handler = handlers[keyword]
    if (!handler) {
      if (policy.rejectUnknown && !policy.allowed.has(keyword)) {
        return reject('unknown', 555, `Unsupported ${command} parameter ${keyword}`)
      }
      continue
    }
    if (seen.has(keyword)) return reject('duplicate', 501, `Duplicate ${keyword} parameter`)
    seen.add(keyword)
    const parsed = handler.apply(value, into)
    if (!parsed.ok) return reject(handler.kind, 501, `Syntax error in ${keyword} parameter: ${parsed.error}`)
  }
  return ok(into)
}

function assign<T, K extends keyof T>(
  kind: RefusalKind,
  key: K,
  parse: (v: string | null) => Result<T[K]>,
): Handler<T> {
  return {
    kind,
    apply: (value, into) => {
      const r = parse(value)
      if (r.ok) into[key] = r.value
      return r
    },
  }
}

const MAIL_HANDLERS: Handlers<MailParams> = {
  ENVID: assign('envid', 'envid', parseEnvid),
  RET: assign('ret', 'ret', parseRet),
  MTRK: assign('mtrk', 'mtrk', parseMtrk),
}

const RCPT_HANDLERS: Handlers<RcptParams> = {
  NOTIFY: assign('notify', 'notify', parseNotify),
  ORCPT: assign('orcpt', 'orcpt', parseOrcpt),
}

/** The parameters of the DSN (RFC 3461) and MTRK (RFC 3885) extensions, MAIL's and RCPT's. Upper case. */
export const DSN_MTRK_PARAMS: ReadonlySet<string> = new Set([
  ...Object.keys(MAIL_HANDLERS),
  ...Object.keys(RCPT_HANDLERS),
])

/** Validates MAIL FROM parameters (DSN-1..3, MTRK-3, MTRK-6). Valid parameters never change the reply (DSN-2). */
export function parseMailParams(params: EsmtpParam[], policy: ParamPolicy): Result<MailParams, Rejection> {
  const r = applyParams('MAIL FROM', params, MAIL_HANDLERS, policy, {} as MailParams)
  if (!r.ok || !r.value.mtrk) return r
  const mail = r.value
  const problem = !mail.envid
    ? 'MTRK requires ENVID'
    : !isUniqueEnvid(mail.envid.xtext)
      ? 'MTRK requires ENVID in the form local@fqhn'
      : null
  if (!problem) return r
  if (policy.mtrkWithoutEnvid === 'reject') return reject('mtrk', 501, problem)
  const { mtrk: _dropped, ...rest } = mail
  return ok({ ...rest, mtrkIgnored: problem })
}

/** Validates RCPT TO parameters (DSN-1, DSN-4). */
export function parseRcptParams(params: EsmtpParam[], policy: ParamPolicy): Result<RcptParams, Rejection> {
  return applyParams('RCPT TO', params, RCPT_HANDLERS, policy, {} as RcptParams)
}
