// The mtqp URI (RFC 3887 §9.3, §9.4; URI-1..5):
//   mtqp://<host>[:<port>]/track/<unique-envid>/<mtrk-secret>
// Pure; parse returns a Result and never echoes its input, because the URI holds the secret A (URI-5).
//
// Decisions:
// - Scheme and the "/track/" path element are case-insensitive (URI-2); host is kept as written; envid and secret
//   are case-sensitive and returned percent-decoded (URI-3), the envid still in its xtext form ("+XX" untouched).
// - Host: a DNS name (single labels such as "localhost" allowed), an IPv4 address, or an IPv6 address in brackets
//   (returned without them). No userinfo (MTQP has no users; "mtqp://bank.example@evil.example/" is a classic
//   spoof), no IPv6 zone identifiers, no empty port. Port 1..65535; absent means the default 1038 (URI-1, AMB-31).
// - No query and no fragment: the scheme defines none, and a raw "?" or "#" most likely belongs to a secret whose
//   "%" escaping was forgotten, so guessing would track the wrong thing.
// - The parser accepts any printable ASCII except "/", "?", "#" raw in the envid and secret (a generator that only
//   escapes what RFC 3887 §9.4 demands is understood); it requires well-formed %XX escapes. The generator escapes
//   exactly "/", "?", "%" and what RFC 3986 forbids in a path segment (e.g. "#", "[", "<", '"'); it never escapes
//   "+" (the envid's xtext, URI-3) or "=" (base64 padding).

import { isIPv4, isIPv6 } from 'node:net'
import { isUniqueEnvid } from '../esmtp/envid'
import { decodeBase64Strict } from '../util/base64'
import { isDnsName } from '../util/dns-name'
import { err, ok, type Result } from '../util/result'

/** MTQP-1: the MTQP port, used when the URI has none (AMB-31: no SRV lookup for a URI). */
export const MTQP_DEFAULT_PORT = 1038

export interface MtqpUri {
  /** DNS name, IPv4 address, or IPv6 address without brackets. */
  host: string
  /** Absent when the URI names none (use MTQP_DEFAULT_PORT). */
  port?: number
  /** The unique-envid, percent-decoded, still xtext-encoded. */
  envid: string
  /** The base64 secret A, percent-decoded. A credential (URI-5). */
  secret: string
}

const SCHEME = 'mtqp://'
const TRACK = '/track/'

export function parseMtqpUri(s: string): Result<MtqpUri> {
  if (s.slice(0, SCHEME.length).toLowerCase() !== SCHEME) return err('not an mtqp:// URI')
  const rest = s.slice(SCHEME.length)
  if (/[?#]/.test(rest)) return err('mtqp URIs take no query or fragment; write "?" as %3F') // URI-3
  const slash = rest.indexOf('/')
  if (slash === -1) return err('mtqp URI has no /track/ path') // URI-1

  const authority = parseAuthority(rest.slice(0, slash))
  if (!authority.ok) return authority

  const path = rest.slice(slash)
  if (path.slice(0, TRACK.length).toLowerCase() !== TRACK) return err('mtqp URI path must start with /track/') // URI-2
  const segments = path.slice(TRACK.length).split('/')
  if (segments.length !== 2) return err('mtqp URI path must be /track/<envid>/<secret>') // URI-1

  const envid = percentDecode(segments[0]!)
  if (envid === null) return err('bad character or %-escape in the envid of an mtqp URI') // URI-3
  if (!isUniqueEnvid(envid)) return err('the envid of an mtqp URI is not a unique-envid (RFC 3885 §3.2)')
  const secret = percentDecode(segments[1]!)
  if (secret === null) return err('bad character or %-escape in the secret of an mtqp URI') // URI-3
  if (decodeBase64Strict(secret, { allowPadding: true }) === null) {
    return err('the secret of an mtqp URI is not base64') // URI-3, AMB-3
  }
  const uri: MtqpUri = { host: authority.value.host, envid, secret }
  if (authority.value.port !== undefined) uri.port = authority.value.port
  return ok(uri)
}

function parseAuthority(a: string): Result<{ host: string; port?: number }> {
  if (a.includes('@')) return err('mtqp URIs take no userinfo')
  let host: string
  let portText: string | undefined
  if (a.startsWith('[')) {
    const close = a.indexOf(']')
    if (close === -1) return err('unterminated [IPv6] host in mtqp URI')
    host = a.slice(1, close)
    // isIPv6 accepts a "%zone" suffix; zones are meaningless outside the local machine (RFC 6874 is not supported).
    if (host.includes('%') || !isIPv6(host)) return err('bad IPv6 address in mtqp URI')
    const after = a.slice(close + 1)
    if (after !== '' && !after.startsWith(':')) return err('junk after the [IPv6] host in mtqp URI')
    portText = after === '' ? undefined : after.slice(1)
  } else {
    const colon = a.indexOf(':')
    host = colon === -1 ? a : a.slice(0, colon)
    portText = colon === -1 ? undefined : a.slice(colon + 1)
    if (!isHost(host)) return err('bad host in mtqp URI') // URI-1
  }
  if (portText === undefined) return ok({ host })
  const port = parsePort(portText)
  return port === null ? err('bad port in mtqp URI: 1..65535') : ok({ host, port }) // URI-1
}

/** A DNS name or IPv4 address; dotted digits must be a real IPv4 address (RFC 3986 §3.2.2 tries IPv4 first). */
function isHost(host: string): boolean {
  if (/^[0-9.]+$/.test(host)) return isIPv4(host)
  return isDnsName(host, { allowSingleLabel: true })
}

function parsePort(p: string): number | null {
  if (!/^[0-9]{1,5}$/.test(p)) return null
  const n = Number(p)
  return n >= 1 && n <= 65535 ? n : null
}

/** Decode %XX escapes; null on a malformed escape or a raw character outside printable ASCII. */
function percentDecode(s: string): string | null {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x25) {
      const hex = s.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null
      out += String.fromCharCode(Number.parseInt(hex, 16))
      i += 2
    } else if (c < 0x21 || c > 0x7e) {
      return null
    } else {
      out += s[i]
    }
  }
  return out
}

// RFC 3986 pchar minus pct-encoded: unreserved / sub-delims / ":" / "@". Everything else is escaped, which covers
// "/", "?" and "%" (RFC 3887 §9.4).
const PCHAR = /[A-Za-z0-9\-._~!$&'()*+,;=:@]/

function percentEncode(s: string): string {
  let out = ''
  for (const ch of s) {
    out += PCHAR.test(ch) ? ch : `%${ch.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** Build an mtqp URI, or an error when a part could not be parsed back (bad host, port, envid or secret). */
export function formatMtqpUri(u: MtqpUri): Result<string> {
  let host: string
  if (u.host.includes(':')) {
    if (u.host.includes('%') || !isIPv6(u.host)) return err('bad IPv6 host for an mtqp URI')
    host = `[${u.host}]`
  } else {
    if (!isHost(u.host)) return err('bad host for an mtqp URI')
    host = u.host
  }
  if (u.port !== undefined && (!Number.isInteger(u.port) || u.port < 1 || u.port > 65535)) {
    return err('bad port for an mtqp URI: 1..65535')
  }
  if (!isUniqueEnvid(u.envid)) return err('envid is not a unique-envid (RFC 3885 §3.2)')
  if (decodeBase64Strict(u.secret, { allowPadding: true }) === null) return err('secret is not base64') // AMB-3
  const port = u.port === undefined ? '' : `:${u.port}`
  return ok(`${SCHEME}${host}${port}${TRACK}${percentEncode(u.envid)}/${percentEncode(u.secret)}`)
}

/**
 * The URI with its secret replaced by "***", for logs (URI-5). Works on any string: when the text is not a
 * well-formed mtqp URI, everything after the authority is hidden; userinfo, if any, is hidden too.
 */
export function redactMtqpUri(uri: string): string {
  const s = uri.replace(/^(mtqp:\/\/)[^/?#]*@/i, '$1***@')
  const full = /^mtqp:\/\/[^/?#]*\/track\/[^/?#]*\//i.exec(s)
  if (full !== null) return `${full[0]}***`
  const authority = /^mtqp:\/\/[^/?#]*/i.exec(s)
  if (authority !== null) return authority[0].length === s.length ? s : `${authority[0]}/***`
  return '***'
}
