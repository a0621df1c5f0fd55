// The TLS facts an MTQP session decides on (RFC 3887 §6): which names the certificate holds, whether a STARTTLS host
// name matches one of them, and whether a negotiated protocol version is good enough. Pure: no sockets.
import { X509Certificate } from 'node:crypto'
import type { SecureVersion } from 'node:tls'
import type { TlsVersion } from '../config/config'

/**
 * The dNSName entries of the subjectAltName of the first certificate in `pem` (the leaf of a chain file), which
 * STARTTLS host names are checked against (MTQP-23). Empty when there are none or the PEM does not parse.
 */
export function certificateDnsNames(pem: string | Buffer): string[] {
  let san: string | undefined
  try {
    san = new X509Certificate(pem).subjectAltName
  } catch {
    return []
  }
  // Node lists entries as `DNS:a, DNS:b, IP Address:...`; a value with odd characters comes JSON-quoted, and a DNS
  // name has none, so quoted entries are skipped.
  return (san ?? '')
    .split(', ')
    .filter((entry) => entry.startsWith('DNS:'))
    .map((entry) => entry.slice(4))
    .filter((name) => !name.startsWith('"'))
}

/**
 * MTQP-23: whether `fqdn` matches a certificate dNSName. Case-insensitive; a `*` is honoured only as the whole
 * leftmost label and stands for exactly one label (RFC 6125 §6.4.3), and only above a name of two or more labels,
 * so `*.wild.test` matches `a.wild.test` but neither `wild.test`, `a.b.wild.test` nor anything under `*.test`.
 */
export function matchesCertificateName(fqdn: string, names: readonly string[]): boolean {
  const host = fqdn.toLowerCase()
  return names.some((raw) => {
    const name = raw.toLowerCase()
    if (!name.startsWith('*.')) return name === host
    const parent = name.slice(2)
    const dot = host.indexOf('.')
    return parent.includes('.') && dot > 0 && host.slice(dot + 1) === parent
  })
}

/** The minor version of `TLSv1`, `TLSv1.1` ... as TLSSocket.getProtocol() names them; null for anything else. */
function tlsMinor(protocol: string | null | undefined): number | null {
  const m = /^TLSv1(?:\.(\d+))?$/.exec(protocol ?? '')
  return m === null ? null : Number(m[1] ?? 0)
}

/** Whether the negotiated `protocol` is `min` or newer; an unknown protocol name never is (MTQP-25). */
export function tlsVersionAtLeast(protocol: string | null | undefined, min: string): boolean {
  const have = tlsMinor(protocol)
  const want = tlsMinor(min)
  return have !== null && want !== null && have >= want
}

/** The newer of two version names, for combining the configured minimum with one from the TLS material. */
export function newerTlsVersion(configured: TlsVersion, other: SecureVersion | undefined): SecureVersion {
  return other !== undefined && tlsVersionAtLeast(other, configured) ? other : configured
}
