// One strict base64 decoder for every place a base64 value arrives from the network (MTRK certifier, TRACK secret).

const BASE64_BODY = /^[A-Za-z0-9+/]*$/

/**
 * Decodes standard base64 (RFC 4648 §4) strictly: only the base64 alphabet, no whitespace, and "=" padding only when
 * allowed and correct. Node's own decoder silently skips junk, which would let two different strings prove one secret.
 * Returns null on any violation, including an empty input and non-zero trailing bits.
 */
export function decodeBase64Strict(s: string, opts: { allowPadding: boolean }): Buffer | null {
  const body = s.replace(/={1,2}$/, '')
  const padding = s.length - body.length
  if (body.length === 0 || !BASE64_BODY.test(body)) return null
  const rest = body.length % 4
  if (rest === 1) return null
  if (padding > 0 && (!opts.allowPadding || (body.length + padding) % 4 !== 0)) return null
  const decoded = Buffer.from(body, 'base64')
  // Non-canonical encodings (stray bits in the last character) would decode to the same octets as the canonical one.
  if (decoded.toString('base64').replace(/=+$/, '') !== body) return null
  return decoded
}

/** base64 without "=" padding: the form esmtp-value allows (AMB-2) and the form we emit for secrets (AMB-3). */
export function encodeBase64Unpadded(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('base64').replace(/=+$/, '')
}
