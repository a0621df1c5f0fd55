import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeXtext, encodeXtext, isPrintableAscii } from '../../src/esmtp/xtext'

test('TV-5: the xtext vectors', () => {
  assert.equal(encodeXtext('user+tag@example.com'), 'user+2Btag@example.com')
  assert.equal(encodeXtext('a=b c@example.com'), 'a+3Db+20c@example.com')
  assert.equal(decodeXtext('user+2Btag@example.com'), 'user+tag@example.com')
  assert.equal(decodeXtext('a+3Db+20c@example.com'), 'a=b c@example.com')
  assert.equal(decodeXtext('+41'), 'A', 'optional encoding of an xchar')
  assert.equal(decodeXtext('+2b'), '+', 'lower-case hex accepted when decoding, never emitted')
})

test('xtext: malformed input decodes to null', () => {
  for (const bad of ['ab+ZZ', 'ab+2', 'ab+', 'a b', 'a=b', 'é', '\x7f', '\t']) {
    assert.equal(decodeXtext(bad), null, JSON.stringify(bad))
  }
})

test('xtext: decode(encode(x)) = x for any octet string, and the encoding is valid xtext', () => {
  fc.assert(
    fc.property(
      fc.string({ unit: fc.integer({ min: 0, max: 255 }).map((c) => String.fromCharCode(c)) }),
      (s) => {
        const enc = encodeXtext(s)
        assert.match(enc, /^(?:[!-*,-<>-~]|\+[0-9A-F]{2})*$/)
        assert.equal(decodeXtext(enc), s)
      },
    ),
  )
})

test('xtext: decoding never throws', () => {
  fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => void decodeXtext(s)))
})

test('isPrintableAscii: graphic characters and space only', () => {
  assert.equal(isPrintableAscii('a b~!'), true)
  assert.equal(isPrintableAscii('a\tb'), false)
  assert.equal(isPrintableAscii('a\r\nb'), false)
  assert.equal(isPrintableAscii('é'), false)
})
