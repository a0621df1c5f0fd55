// RFC 6533 §3 internationalised addresses in DSN-style fields and the ORCPT parameter: the `utf-8` address type,
// its unitext form (UTF-8 as is) and its 7-bit xtext form (`\x{HEX}` for what is not a QCHAR). Pure.
//
//   utf-8-addr-xtext   = 1*(QCHAR / EmbeddedUnicodeChar)     ; 7-bit, what message/tracking-status carries
//   utf-8-addr-unitext = 1*(QUCHAR / EmbeddedUnicodeChar)    ; UTF-8 allowed, with SMTPUTF8
//   QCHAR = %x21-2a / %x2c-3c / %x3e-5b / %x5d-7e            ; printable ASCII but "+", "=" and "\"
//   EmbeddedUnicodeChar = "\x{" HEXPOINT "}"

/** The RFC 6533 address type, compared case-insensitively like every addr-type (RFC 3461 §4.2). */
export const UTF8_ADDR_TYPE = 'utf-8'

export function isUtf8AddrType(addrType: string): boolean {
  return addrType.toLowerCase() === UTF8_ADDR_TYPE
}

const MAX_CODE_POINT = 0x10ffff

/**
 * Decodes an ORCPT or report address of type `utf-8` in any form a sender writes: unitext (raw UTF-8), the 7-bit
 * `\x{HEX}` form, and RFC 3461 `+XX` hexchars of UTF-8 octets (which an xtext encoder applied to the whole value
 * produces). A `\` not followed by `x{` stays a backslash. Returns the Unicode address, or null when an escape is
 * malformed: `+` without two hex digits, `\x{` without hex digits and `}`, or a code point above U+10FFFF (the
 * cases Postfix also refuses).
 */
export function decodeUtf8Addr(text: string): string | null {
  const octets: number[] = []
  const pushText = (s: string) => {
    for (const b of Buffer.from(s, 'utf8')) octets.push(b)
  }
  for (let i = 0; i < text.length; ) {
    const c = text[i]!
    if (c === '+') {
      const hex = text.slice(i + 1, i + 3)
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null
      octets.push(Number.parseInt(hex, 16))
      i += 3
    } else if (text.startsWith('\\x{', i)) {
      const m = /^\\x\{([0-9A-Fa-f]{1,8})\}/.exec(text.slice(i))
      const cp = m ? Number.parseInt(m[1]!, 16) : Number.NaN
      if (!m || cp > MAX_CODE_POINT) return null
      // Lone surrogates cannot be UTF-8; they read as U+FFFD like any other undecodable octets.
      pushText(cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : String.fromCodePoint(cp))
      i += m[0].length
    } else {
      const cp = text.codePointAt(i)!
      pushText(String.fromCodePoint(cp))
      i += cp > 0xffff ? 2 : 1
    }
  }
  return new TextDecoder('utf-8').decode(Uint8Array.from(octets))
}

/** QCHAR: printable US-ASCII except "+", "=" and "\" (RFC 6533 §3). */
function isQchar(cp: number): boolean {
  return cp >= 0x21 && cp <= 0x7e && cp !== 0x2b && cp !== 0x3d && cp !== 0x5c
}

/**
 * The 7-bit utf-8-addr-xtext form of a Unicode address (RFC 6533 §3): QCHARs as themselves, everything else as
 * `\x{HEX}` in upper case without leading zeros beyond two digits (HEXPOINT). U+0000, which HEXPOINT cannot
 * express, is written as U+FFFD. Printable US-ASCII by construction, so it fits a message/tracking-status field.
 */
export function encodeUtf8AddrXtext(address: string): string {
  let out = ''
  for (const ch of address) {
    const cp = ch.codePointAt(0)!
    if (isQchar(cp)) out += ch
    else out += `\\x{${(cp === 0 ? 0xfffd : cp).toString(16).toUpperCase().padStart(2, '0')}}`
  }
  return out
}
