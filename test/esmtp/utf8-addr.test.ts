import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeUtf8Addr, encodeUtf8AddrXtext, isUtf8AddrType } from '../../src/esmtp/utf8-addr'

test('RFC 6533 7-bit form: QCHARs as themselves, the rest as \\x{HEX} (issue 10 case 3)', () => {
  assert.equal(encodeUtf8AddrXtext('jörg@example.org'), 'j\\x{F6}rg@example.org')
  assert.equal(encodeUtf8AddrXtext('müller+tag@example.org'), 'm\\x{FC}ller\\x{2B}tag@example.org')
  assert.equal(encodeUtf8AddrXtext('a=b\\c d@x'), 'a\\x{3D}b\\x{5C}c\\x{20}d@x')
  assert.equal(encodeUtf8AddrXtext('\u{1F600}@例え.jp'), '\\x{1F600}@\\x{4F8B}\\x{3048}.jp')
  assert.equal(encodeUtf8AddrXtext('tab\there'), 'tab\\x{09}here')
})

test('decoding reads unitext, \\x{HEX} and +XX, and refuses malformed escapes', () => {
  assert.equal(decodeUtf8Addr('j\\x{F6}rg@example.org'), 'jörg@example.org')
  assert.equal(decodeUtf8Addr('j\\x{f6}rg@example.org'), 'jörg@example.org')
  assert.equal(decodeUtf8Addr('jörg@example.org'), 'jörg@example.org')
  assert.equal(decodeUtf8Addr('j+C3+B6rg@example.org'), 'jörg@example.org')
  assert.equal(decodeUtf8Addr('a\\b'), 'a\\b')
  for (const bad of ['a\\x{zz}', 'a\\x{F6', 'a\\x{}', 'a\\x{110000}', 'a+2', 'a+GG']) {
    assert.equal(decodeUtf8Addr(bad), null, bad)
  }
  assert.ok(isUtf8AddrType('UTF-8'))
  assert.equal(isUtf8AddrType('rfc822'), false)
})

test('property: the 7-bit form is printable US-ASCII without "+" or "=", and decodes to the address', () => {
  const address = fc.string({ unit: 'grapheme', maxLength: 40 }).filter((s) => !s.includes('\u0000'))
  fc.assert(
    fc.property(address, (a) => {
      const x = encodeUtf8AddrXtext(a)
      assert.match(x, /^[\x21-\x2a\x2c-\x3c\x3e-\x7e]*$/)
      assert.equal(decodeUtf8Addr(x), a)
    }),
  )
})
