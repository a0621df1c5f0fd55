// The kinds of value an option of config/mtrk.ini can hold: how each is read from the ini text, what a valid one
// looks like (for log lines, README and the shipped ini), and how it is written back. Pure.
import { isIP } from 'node:net'
import { domainToASCII } from 'node:url'
import { decodeBase64Strict } from '../util/base64'
import { isDnsName } from '../util/dns-name'
import { type Endpoint, formatEndpoint, parseEndpoint, parseEndpointList } from './listen'

export interface Kind<T> {
  /** What a valid value looks like, completing "must be ...": `an integer from 1 to 65535`. */
  readonly expected: string
  /** The value of the ini text (trimmed, never empty); undefined when it cannot be read. */
  parse(text: string): T | undefined
  /** The value as written in the ini file. Method syntax: a Kind<number> is also a Kind<unknown> in tables. */
  format(value: T): string
  /**
   * A list read entry by entry: `parse` leaves out the entries it cannot read (and reads nothing only when none can
   * be), so the others apply; `unreadable` names them for the log line, `expected` says what one entry looks like.
   */
  readonly entries?: { readonly expected: string; unreadable(text: string): string[] }
}

/** Haraka's own true words (haraka-config is_truth), and their opposites. */
const TRUE = /^(?:true|yes|ok|enabled|on|1)$/i
const FALSE = /^(?:false|no|disabled|off|0)$/i

export const bool: Kind<boolean> = {
  expected: 'true or false',
  parse: (text) => (TRUE.test(text) ? true : FALSE.test(text) ? false : undefined),
  format: String,
}

/** An integer in [min, max] of the unit written in the ini; the value is `scale` times that (seconds to ms: 1000). */
export function int(min: number, max: number, scale = 1): Kind<number> {
  return {
    expected: `an integer from ${min} to ${max}`,
    parse(text) {
      if (!/^-?\d+$/.test(text)) return undefined
      const n = Number(text)
      return n >= min && n <= max ? n * scale : undefined
    },
    format: (value) => String(value / scale),
  }
}

/** One of `choices`, in any case; the value is the choice as listed. */
export function oneOf<T extends string>(choices: readonly T[]): Kind<T> {
  return {
    expected: `one of ${choices.join(', ')}`,
    parse: (text) => choices.find((c) => c.toLowerCase() === text.toLowerCase()),
    format: String,
  }
}

/** Any text; `expected` says what it should name (a host, a path), since nothing is checked. */
export function text(expected: string): Kind<string> {
  return { expected, parse: (t) => t, format: String }
}

/** An absolute URL path of plain segments (`/mtrk`, `/tools/track`), without a trailing slash. */
export const urlPath: Kind<string> = {
  expected: 'a URL path such as /mtrk (letters, digits, - . _ ~ between slashes)',
  parse: (t) => (/^(?:\/[A-Za-z0-9._~-]+)+$/.test(t) && !/\/\.\.?(?:\/|$)/.test(t) ? t : undefined),
  format: String,
}

export const endpoint: Kind<Endpoint> = {
  expected: 'host:port or [v6]:port',
  parse: (t) => parseEndpoint(t) ?? undefined,
  format: formatEndpoint,
}

export const endpoints: Kind<Endpoint[]> = {
  expected: 'a comma-separated list of host:port or [v6]:port',
  parse: (t) => parseEndpointList(t) ?? undefined,
  format: (list) => list.map(formatEndpoint).join(','),
}

export const fqdn: Kind<string> = {
  expected: 'a fully qualified host name',
  parse: (t) => (isDnsName(t, { allowSingleLabel: false }) ? t : undefined),
  format: String,
}

/** ESMTP keywords (RFC 5321 §4.1.2 esmtp-keyword), comma or space separated; kept upper case. */
export const esmtpKeywords: Kind<ReadonlySet<string>> = {
  expected: 'ESMTP parameter names, comma or space separated',
  parse(t) {
    const names = t.split(/[\s,]+/).filter(Boolean)
    if (!names.every((n) => /^[A-Za-z0-9][A-Za-z0-9-]*$/.test(n))) return undefined
    return new Set(names.map((n) => n.toUpperCase()))
  },
  format: (set) => [...set].join(','),
}

/** IP addresses, comma or space separated; `none` for an empty list. */
export const ipAddresses: Kind<string[]> = {
  expected: 'IP addresses, comma separated, or none',
  parse(t) {
    if (/^none$/i.test(t)) return []
    const items = t.split(/[\s,]+/).filter(Boolean)
    return items.length > 0 && items.every((item) => isIP(item) !== 0) ? items : undefined
  },
  format: (items) => (items.length === 0 ? 'none' : items.join(',')),
}

/** `ip`, `ip:port` or `[v6]:port` items, comma or space separated, as dns.setServers takes them. */
export const dnsServers: Kind<string[]> = {
  expected: 'a list of ip, ip:port or [v6]:port, comma separated',
  parse(t) {
    const items = t.split(/[\s,]+/).filter(Boolean)
    const ok = items.every((item) => {
      const e = parseEndpoint(item)
      return e === null ? isIP(item) !== 0 : isIP(e.host) !== 0
    })
    return ok && items.length > 0 ? items : undefined
  },
  format: (items) => items.join(','),
}

/** Characters that end an address in an ini list, or cannot be in an unquoted local part (RFC 5321 §4.1.2 atext). */
const NOT_ATOM = /[\x00-\x20\x7f@<>()[\]\\,;:"]/

/** One entry of `recipients`, lower-cased; undefined when it is none of `*`, `user@domain` or `@domain`. */
function recipientEntry(entry: string): string | undefined {
  if (entry === '*') return entry
  const at = entry.lastIndexOf('@')
  if (at < 0) return undefined
  const local = entry.slice(0, at)
  const domain = entry.slice(at + 1)
  // An internationalized domain is checked in its A-label form (domainToASCII gives '' for an invalid one).
  const dnsName = isDnsName(domainToASCII(domain), { allowSingleLabel: true }) && !NOT_ATOM.test(domain)
  return dnsName && !NOT_ATOM.test(local) ? entry.toLowerCase() : undefined
}

const entriesOf = (t: string) => t.split(/[\s,]+/).filter(Boolean)

/**
 * Received recipients a rule applies to: `*` (all), addresses (`user@domain`) and domains (`@domain`), comma or
 * space separated; kept lower-cased, as `recipientMatches` compares. Unreadable entries are left out and named.
 */
export const recipients: Kind<ReadonlySet<string>> = {
  expected: '`*`, or addresses (user@domain) and domains (@domain), comma separated',
  parse(t) {
    const read = entriesOf(t).map(recipientEntry)
    const ok = read.filter((e) => e !== undefined)
    return ok.length > 0 ? new Set(ok) : undefined
  },
  format: (set) => [...set].join(','),
  entries: {
    expected: 'an address (user@domain), a domain (@domain) or *',
    unreadable: (t) => entriesOf(t).filter((e) => recipientEntry(e) === undefined),
  },
}

/** Whether the recipient with this key (rcptKey: user@host) is one `recipients` names. */
export function recipientMatches(set: ReadonlySet<string>, key: string): boolean {
  if (set.has('*')) return true
  const k = key.toLowerCase()
  const at = k.lastIndexOf('@')
  return set.has(k) || (at >= 0 && set.has(k.slice(at)))
}

/** `scrypt$<salt base64>$<hash base64>`, Node's scrypt defaults (N=16384, r=8, p=1). */
export interface PasswordHash {
  salt: Buffer
  hash: Buffer
}

/** Reads the text of [web] operator_password_hash; null when it is not one. */
export function parsePasswordHash(text: string): PasswordHash | null {
  const m = /^scrypt\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(text.trim())
  const salt = m === null ? null : decodeBase64Strict(m[1] ?? '', { allowPadding: true })
  const hash = m === null ? null : decodeBase64Strict(m[2] ?? '', { allowPadding: true })
  if (salt === null || hash === null || salt.length < 8 || hash.length < 16) return null
  return { salt: Buffer.from(salt), hash: Buffer.from(hash) }
}

/** The scrypt hash of the operator password, as README "Operator page" says to make it; kept as written. */
export const passwordHash: Kind<string> = {
  expected: 'scrypt$<salt base64>$<hash base64> (a salt of at least 8 octets, a hash of at least 16)',
  parse: (t) => (parsePasswordHash(t) === null ? undefined : t),
  format: String,
}
