// RFC 3885 §3.2 unique-envid = local-envid "@" fqhn, where both halves are RFC 3461 xtext (requirements §1.4, §1.5).
// Shared by the MTQP TRACK parser and the mtqp URI; the ESMTP side needs the same test for AMB-10.

/**
 * True when `s` is RFC 3461 xtext: octets "!".."~" except "=", with "+" only as the start of a hexchar `+XX`.
 * Lower-case hex after "+" is accepted (TV-5: accept leniently when decoding, never emit).
 */
export function isXtext(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x21 || c > 0x7e || c === 0x3d) return false
    if (c === 0x2b) {
      if (!isHex(s.charCodeAt(i + 1)) || !isHex(s.charCodeAt(i + 2))) return false
      i += 2
    }
  }
  return true
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

function isHex(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66)
}
