import assert from 'node:assert/strict'
import { after, test } from 'node:test'
import {
  certificateDnsNames,
  matchesCertificateName,
  newerTlsVersion,
  tlsVersionAtLeast,
} from '../../src/server/tls'
import { makeCertificate } from '../helpers/cert'

const cert = makeCertificate()
after(() => cert.remove())

test('MTQP-23: the dNSNames come from the subjectAltName of the certificate', () => {
  assert.deepEqual(certificateDnsNames(cert.cert), ['mtqp.test', '*.wild.test'])
  assert.deepEqual(certificateDnsNames(cert.cert.toString()), ['mtqp.test', '*.wild.test'])
  assert.deepEqual(certificateDnsNames('not a certificate'), [])
})

test('MTQP-23: host names match case-insensitively, a wildcard stands for exactly one leftmost label', () => {
  const names = ['mtqp.test', '*.wild.test', '*.test', 'f*.partial.test']
  const cases: Array<[string, boolean]> = [
    ['mtqp.test', true],
    ['MTQP.Test', true],
    ['a.wild.test', true],
    ['A.WILD.TEST', true],
    ['wild.test', false],
    ['a.b.wild.test', false],
    ['other.test', false], // *.test is too broad to honour
    ['foo.partial.test', false], // only whole-label wildcards
    ['x.mtqp.test', false],
  ]
  for (const [host, want] of cases) assert.equal(matchesCertificateName(host, names), want, host)
  assert.equal(matchesCertificateName('mtqp.test', []), false)
})

test('MTQP-25 / RFC 8996: protocol versions compare by number; unknown names are never adequate', () => {
  assert.equal(tlsVersionAtLeast('TLSv1.3', 'TLSv1.2'), true)
  assert.equal(tlsVersionAtLeast('TLSv1.2', 'TLSv1.2'), true)
  assert.equal(tlsVersionAtLeast('TLSv1.2', 'TLSv1.3'), false)
  assert.equal(tlsVersionAtLeast('TLSv1', 'TLSv1.2'), false)
  for (const p of [null, undefined, '', 'SSLv3', 'unknown'])
    assert.equal(tlsVersionAtLeast(p, 'TLSv1.2'), false)
  assert.equal(newerTlsVersion('TLSv1.2', undefined), 'TLSv1.2')
  assert.equal(newerTlsVersion('TLSv1.2', 'TLSv1'), 'TLSv1.2')
  assert.equal(newerTlsVersion('TLSv1.2', 'TLSv1.3'), 'TLSv1.3')
})
