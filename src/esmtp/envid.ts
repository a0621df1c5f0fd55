// RFC 3885 §3.2 unique-envid = local-envid "@" fqhn, where both halves are RFC 3461 xtext (RFC 3461 §4, §4.4).
// Shared by MAIL FROM (AMB-10), the MTQP TRACK parser and the mtqp URI.
import { decodeXtext } from './xtext'

/** True when `s` is RFC 3461 §4 xtext; lower-case hex is accepted (TV-5). */
export function isXtext(s: string): boolean {
  return decodeXtext(s) !== null
}

/**
 * True when `s` is a usable unique-envid: valid xtext containing a literal "@" that is neither its first nor its
 * last character. The grammar lets local-envid and fqhn be empty (xtext is `*(...)`) and lets local-envid contain
 * "@"; we refuse the empty halves (an envid like "@host" identifies nothing, RFC 3885 §3.2 asks for local@FQDN) and
 * accept any split. No length limit beyond the line limit: the SMTP side decides what ENVIDs it stores (DSN-8).
 */
export function isUniqueEnvid(s: string): boolean {
  if (!isXtext(s)) return false
  // The first "@" after position 0; if even that one is the last character, no "@" has text on both sides.
  const at = s.indexOf('@', 1)
  return at !== -1 && at < s.length - 1
}
