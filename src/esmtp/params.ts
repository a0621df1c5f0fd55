// MAIL/RCPT parameters of RFC 3461 (DSN) and RFC 3885 (MTRK): pure parsing and validation, no Haraka types.
import { decodeBase64Strict } from '../util/base64'
import { err, ok, type Result } from '../util/result'
import { isUniqueEnvid } from './envid'
import { decodeXtext, isPrintableAscii } from './xtext'

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
  /** The xtext-decoded address, for display (AMB-14). */
  address: string
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
  /** NOTIFY as received (DSN-10), validated. */
  notify?: string
  orcpt?: Orcpt
}

/** An SMTP rejection of a command's parameters. */
export interface Rejection {
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

const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/
// Haraka core refuses "=" inside a value, but a padded MTRK certifier has one (AMB-2); split at the first "=" only.
const PARAM_TOKEN = /^([A-Za-z0-9][A-Za-z0-9-]*)(?:=(\S*))?$/

/**
 * Splits the parameters off a raw `MAIL FROM:<path> params` or `RCPT TO:<path> params` line, keeping order and
 * duplicates, which Haraka's own parser collapses (HRK-2). Tokens are peeled from the end like RFC 1869 parsers do,
 * because a quoted local part may contain spaces. Returns null when the line is not such a command.
 */
export function splitCommandParams(line: string): EsmtpParam[] | null {
  const m = /^\s*(?:MAIL\s+FROM|RCPT\s+TO)\s*:(.*)$/i.exec(line)
  if (!m) return null
  let rest = (m[1] ?? '').trimEnd()
  const params: EsmtpParam[] = []
  for (;;) {
    const tail = /\s(\S+)$/.exec(rest)
    const token = tail ? PARAM_TOKEN.exec(tail[1] ?? '') : null
    if (!tail || !token) break
    params.push({ keyword: (token[1] ?? '').toUpperCase(), value: token[2] ?? null })
    rest = rest.slice(0, tail.index).trimEnd()
  }
  return params.reverse()
}

/**
 * Drops the "=" padding of an MTRK certifier in a raw MAIL line. RFC 5321's esmtp-value cannot hold "=", so Haraka
 * refuses such a line before any plugin sees it; AMB-2 asks us to accept the padded form leniently.
 */
export function unpadMtrkParam(line: string): string {
  return line.replace(/(\sMTRK=[A-Za-z0-9+/]+)={1,2}(?=:[0-9]*(?:\s|$)|\s|$)/i, '$1')
}

const ENVID_MAX = 100 // RFC 3461 §4.4, DSN-8
const ORCPT_MAX = 500 // RFC 3461 §4.2, DSN-6

/** ENVID=xtext (RFC 3461 §4.4): ≤ 100 characters, printable US-ASCII once decoded (DSN-8). */
export function parseEnvid(value: string | null): Result<Envid> {
  if (!value) return err('ENVID requires a value')
  if (value.length > ENVID_MAX) return err(`ENVID longer than ${ENVID_MAX} characters`)
  const decoded = decodeXtext(value)
  if (decoded === null) return err('ENVID is not valid xtext')
  // Control characters smuggled in as +XX would end up in tracking answers and logs.
  if (!isPrintableAscii(decoded)) return err('ENVID contains non-printable characters')
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

/** NOTIFY=NEVER or a comma list of SUCCESS, FAILURE, DELAY, case-insensitive, each at most once (RFC 3461 §4.1). */
export function parseNotify(value: string | null): Result<string> {
  if (!value) return err('NOTIFY requires a value')
  const items = value.toUpperCase().split(',')
  if (items.length === 1 && items[0] === 'NEVER') return ok(value)
  const seen = new Set<string>()
  for (const item of items) {
    if (item !== 'SUCCESS' && item !== 'FAILURE' && item !== 'DELAY') {
      return err('NOTIFY must be NEVER or a list of SUCCESS, FAILURE, DELAY')
    }
    if (seen.has(item)) return err(`NOTIFY lists ${item} twice`)
    seen.add(item)
  }
  return ok(value)
}

/** ORCPT=addr-type;xtext (RFC 3461 §4.2): addr-type an atom, ≤ 500 characters, printable once decoded (DSN-6). */
export function parseOrcpt(value: string | null): Result<Orcpt> {
  if (!value) return err('ORCPT requires a value')
  if (value.length > ORCPT_MAX) return err(`ORCPT longer than ${ORCPT_MAX} characters`)
  const semi = value.indexOf(';')
  if (semi < 0) return err('ORCPT must be addr-type;address')
  const addrType = value.slice(0, semi)
  // RFC 822 atom: no specials, space or controls.
  if (!/^[!#$%&'*+\-/=?^_`{|}~0-9A-Za-z]+$/.test(addrType)) return err('ORCPT address type is not an atom')
  const address = decodeXtext(value.slice(semi + 1))
  if (address === null || address.length === 0) return err('ORCPT address is not valid xtext')
  if (!isPrintableAscii(address)) return err('ORCPT address contains non-printable characters')
  return ok({ raw: value, addrType, address })
}

function reject(code: 501 | 555, message: string): { ok: false; error: Rejection } {
  return err({ code, status: '5.5.4', message })
}

type Handlers<T> = Record<string, (value: string | null, into: T) => Result<unknown>>

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
    if (!KEYWORD.test(keyword)) return reject(501, `Syntax error in ${command} parameters`)
    const handler = handlers[keyword]
    if (!handler) {
      if (policy.rejectUnknown && !policy.allowed.has(keyword)) {
        return reject(555, `Unsupported ${command} parameter ${keyword}`)
      }
      continue
    }
    if (seen.has(keyword)) return reject(501, `Duplicate ${keyword} parameter`)
    seen.add(keyword)
    const parsed = handler(value, into)
    if (!parsed.ok) return reject(501, `Syntax error in ${keyword} parameter: ${parsed.error}`)
  }
  return ok(into)
}

function assign<T, K extends keyof T>(key: K, parse: (v: string | null) => Result<T[K]>) {
  return (value: string | null, into: T) => {
    const r = parse(value)
    if (r.ok) into[key] = r.value
    return r
  }
}

const MAIL_HANDLERS: Handlers<MailParams> = {
  ENVID: assign('envid', parseEnvid),
  RET: assign('ret', parseRet),
  MTRK: assign('mtrk', parseMtrk),
}

const RCPT_HANDLERS: Handlers<RcptParams> = {
  NOTIFY: assign('notify', parseNotify),
  ORCPT: assign('orcpt', parseOrcpt),
}

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
  if (policy.mtrkWithoutEnvid === 'reject') return reject(501, problem)
  const { mtrk: _dropped, ...rest } = mail
  return ok({ ...rest, mtrkIgnored: problem })
}

/** Validates RCPT TO parameters (DSN-1, DSN-4). */
export function parseRcptParams(params: EsmtpParam[], policy: ParamPolicy): Result<RcptParams, Rejection> {
  return applyParams('RCPT TO', params, RCPT_HANDLERS, policy, {} as RcptParams)
}
