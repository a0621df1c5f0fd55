import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isUniqueEnvid, isXtext } from '../../src/esmtp/envid'

test('RFC 3885 §3.2: unique-envid = xtext "@" xtext with text on both sides', () => {
  const good = [
    '12345-20010101@example.com',
    '1@h.example.com',
    'user+2Btag@example.com', // TV-5
    'a+3Db+20c@example.com', // TV-5
    'a@b@c',
    '<12345-20010101@example.com>', // "<" and ">" are xchars
    'x@CywK7c9q9OFc9wtA0nQsQmCIBjg', // MTRK-24 hashed fqhn
    'a+2bb@example.com', // TV-5: lower-case hex accepted leniently
  ]
  for (const e of good) assert.ok(isUniqueEnvid(e), e)
  const bad = [
    '',
    '@',
    'a@',
    '@b',
    'noat',
    'a b@c',
    'a=b@c',
    'a+@b',
    'a+2@b',
    'a+ZZ@b',
    'a\t@b',
    'caf\u00e9@b',
    'a@b\x7f',
  ]
  for (const e of bad) assert.ok(!isUniqueEnvid(e), JSON.stringify(e))
})

test('RFC 3461 §4: xtext allows the empty string and hexchars, refuses "=" and a bare "+"', () => {
  assert.ok(isXtext(''))
  assert.ok(isXtext('+41+2B!~'))
  assert.ok(!isXtext('='))
  assert.ok(!isXtext('+'))
  assert.ok(!isXtext('+4'))
})
