// xtext (RFC 3461 §4): the encoding of ENVID and ORCPT values inside an esmtp-value.

const HEX_PAIR = /^[0-9A-Fa-f]{2}$/

/**
 * Decodes xtext. Returns null when a "+" is not followed by two hex digits or when a character outside
 * xchar (33..126 except "+" and "=") appears. Lower-case hex is accepted when decoding (TV-5), never emitted.
 */
export function decodeXtext(s: string): string | null {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c === 0x2b) {
      const hex = s.slice(i + 1, i + 3)
      if (!HEX_PAIR.test(hex)) return null
      out += String.fromCharCode(Number.parseInt(hex, 16))
      i += 2
    } else if (c >= 33 && c <= 126 && c !== 0x3d) {
      out += s[i]
    } else {
      return null
    }
  }
  return out
}

/**
 * Decodes xtext as leniently as Postfix's xtext_unquote: "+" must be followed by two hex digits (either case), any
 * other character stands for its UTF-8 octets, whether RFC 3461 allows it there or not (raw UTF-8 from an SMTPUTF8
 * client). Returns the octets, or null when a "+" is malformed. For ORCPT, whose decoded form may hold anything.
 */
export function decodeXtextOctets(s: string): Uint8Array | null {
  const out: number[] = []
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '+') {
      const hex = s.slice(i + 1, i + 3)
      if (!HEX_PAIR.test(hex)) return null
      out.push(Number.parseInt(hex, 16))
      i += 2
    } else {
      const cp = s.codePointAt(i)!
      // US-ASCII is its own UTF-8: no encoder call for the common case.
      if (cp < 0x80) out.push(cp)
      else for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out.push(b)
      if (cp > 0xffff) i++
    }
  }
  return Uint8Array.from(out)
}

/** Encodes a string of octets (char codes 0..255) as xtext: "+", "=" and anything outside 33..126 become +XX. */
export function encodeXtext(s: string): string {
  let out = ''
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c >= 33 && c <= 126 && c !== 0x2b && c !== 0x3d) out += s[i]
    else out += `+${c.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/** Printable US-ASCII, graphic and space (RFC 3461 §4.2, §4.4): what an ENVID or ORCPT may hold once decoded. */
export function isPrintableAscii(s: string): boolean {
  return /^[\x20-\x7e]*$/.test(s)
}
