// A throw-away self-signed certificate for TLS tests, made with the openssl CLI: by default CN mtqp.test, SAN
// dNSNames mtqp.test and *.wild.test (the wildcard for MTQP-23 matching); or the names given (one per relay).
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TestCertificate {
  key: Buffer
  cert: Buffer
  /** The PEM files, for clients in other languages. */
  keyFile: string
  certFile: string
  /** Removes the files. */
  remove(): void
}

export function makeCertificate(names: readonly string[] = ['mtqp.test', '*.wild.test']): TestCertificate {
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-cert-'))
  const keyFile = join(dir, 'key.pem')
  const certFile = join(dir, 'cert.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '2',
      '-subj',
      `/CN=${names[0]}`,
      '-addext',
      `subjectAltName=${names.map((n) => `DNS:${n}`).join(',')}`,
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  )
  return {
    key: readFileSync(keyFile),
    cert: readFileSync(certFile),
    keyFile,
    certFile,
    remove: () => rmSync(dir, { recursive: true, force: true }),
  }
}
