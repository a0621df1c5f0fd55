import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeBase64Strict, encodeBase64 } from '../../src/util/base64'

const TV1 = Buffer.from([...Array(16).keys()])

test('TV-1: padded and unpadded secret both decode to octets 00..0f (AMB-3)', () => {
  assert.deepStrictEqual(decodeBase64Strict('AAECAwQFBgcICQoLDA0ODw==', { allowPadding: true }), TV1)
  assert.deepStrictEqual(decodeBase64Strict('AAECAwQFBgcICQoLDA0ODw', { allowPadding: true }), TV1)
  assert.deepStrictEqual(decodeBase64Strict('AAECAwQFBgcICQoLDA0ODw', { allowPadding: false }), TV1)
  assert.equal(decodeBase64Strict('AAECAwQFBgcICQoLDA0ODw==', { allowPadding: false }), null)
})

test('TV-1/TV-3: certifier and RFC 3887 example secret decode', () => {
  assert.equal(
    decodeBase64Strict('VheLhqV/rCKJmplkGFwsyW59pYk', { allowPadding: false })?.toString('hex'),
    '56178b86a57fac22899a9964185c2cc96e7da589',
  )
  assert.equal(decodeBase64Strict('YWJjZGVmZ2gK', { allowPadding: true })?.toString('latin1'), 'abcdefgh\n')
})

test('AMB-28: malformed base64 is refused', () => {
  const bad = [
    '', // AMB-1: 1*base64, never empty
    '=',
    '==',
    'QQ=',
    'QQ===',
    'Q===',
    'QUJD=', // padding only as the complete tail of a 4-multiple
    'Q',
    'QUJDR', // a single dangling character carries no octet
    'QR==',
    'QUJ=',
    'QR', // non-zero spare bits: non-canonical
    'QU JD',
    'QUJD\n',
    ' QUJD',
    'QU-D',
    'QU_D',
    'QUJD.',
    'QUJ\u00e9', // outside the alphabet (no URL-safe form)
    'QQ==QUJD', // padding in the middle
  ]
  for (const s of bad) assert.equal(decodeBase64Strict(s, { allowPadding: true }), null, JSON.stringify(s))
})

test('encodeBase64 pads or not as asked (AMB-2, AMB-3: emit unpadded)', () => {
  assert.equal(encodeBase64(TV1, { padding: true }), 'AAECAwQFBgcICQoLDA0ODw==')
  assert.equal(encodeBase64(TV1, { padding: false }), 'AAECAwQFBgcICQoLDA0ODw')
  assert.equal(encodeBase64(new Uint8Array(TV1.buffer, TV1.byteOffset + 1, 2), { padding: false }), 'AQI')
})

test('property: decode(encode(x)) = x with and without padding; encode(decode(s)) = s', () => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 1, maxLength: 200 }), fc.boolean(), (a, padding) => {
      const text = encodeBase64(a, { padding })
      assert.deepStrictEqual(decodeBase64Strict(text, { allowPadding: padding }), Buffer.from(a))
      assert.deepStrictEqual(decodeBase64Strict(text, { allowPadding: true }), Buffer.from(a))
    }),
  )
  fc.assert(
    fc.property(fc.string({ unit: 'binary-ascii', maxLength: 40 }), (s) => {
      const d = decodeBase64Strict(s, { allowPadding: true })
      if (d !== null) assert.equal(encodeBase64(d, { padding: s.endsWith('=') }), s)
    }),
    { numRuns: 2000 },
  )
})
