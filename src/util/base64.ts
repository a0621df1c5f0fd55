// Strict base64 (RFC 4648 §4 alphabet, no line breaks, no whitespace) for the tracking secret A and the certifier B.
// One decoder for every place that reads them: MTQP TRACK (AMB-3, AMB-28), the mtqp URI (URI-3) and, once merged,
// the ESMTP MTRK certifier check (AMB-2). Node's Buffer.from(s, 'base64') silently skips bad characters, so it is
// only called after the text has been validated here.

const ALPHABET = /^[A-Za-z0-9+/]+$/

/** Value of one base64 character, or -1. */
function sextet(c: number): number {
  if (c >= 0x41 && c <= 0x5a) return c - 0x41
  if (c >= 0x61 && c <= 0x7a) return c - 0x61 + 26
  if (c >= 0x30 && c <= 0x39) return c - 0x30 + 52
  if (c === 0x2b) return 62
  if (c === 0x2f) return 63
  return -1
}

/**
 * Decode base64 text, or return null when it is not strictly well-formed:
 * - non-empty, alphabet `A-Z a-z 0-9 + /` only (AMB-1: the RFCs' `base64` means `1*base64`);
 * - unpadded text must not leave a single dangling character (length % 4 === 1);
 * - with `allowPadding`, "=" may only appear as the complete padding of a length-multiple-of-4 text
 *   (`QQ==`, `QUI=`); partial padding (`QQ=`) is refused; without it any "=" is refused;
 * - the unused low bits of the last character must be zero, so every octet string has exactly one accepted
 *   spelling per padding choice (a non-canonical `QR==` is refused rather than silently read as `QQ==`).
 */
export function decodeBase64Strict(s: string, opts: { allowPadding: boolean }): Buffer | null {
  let pad = 0
  while (pad < s.length && s.charCodeAt(s.length - 1 - pad) === 0x3d) pad++
  if (pad > 0 && (!opts.allowPadding || pad > 2 || s.length % 4 !== 0)) return null
  const body = pad > 0 ? s.slice(0, -pad) : s
  if (!ALPHABET.test(body)) return null
  const rem = body.length % 4
  if (rem === 1) return null
  if (rem !== 0) {
    // 2 chars carry 1 octet (4 spare bits), 3 chars carry 2 octets (2 spare bits).
    const spareMask = rem === 2 ? 0x0f : 0x03
    if ((sextet(body.charCodeAt(body.length - 1)) & spareMask) !== 0) return null
  }
  return Buffer.from(body, 'base64')
}

/** Encode octets as base64; `padding: false` drops the trailing "=" (AMB-2, AMB-3: emit unpadded). */
export function encodeBase64(octets: Uint8Array, opts: { padding: boolean }): string {
  const text = Buffer.from(octets.buffer, octets.byteOffset, octets.byteLength).toString('base64')
  return opts.padding ? text : text.replace(/=+$/, '')
}
