// What the client prints of text it did not write itself, and of its own messages.
import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { printable } from '../../src/client/types'

test('printable: controls, bidi overrides and separators become ?, other characters stay', () => {
  assert.equal(
    printable('envid is not a unique-envid (RFC 3885 §3.2)'),
    'envid is not a unique-envid (RFC 3885 §3.2)',
  )
  assert.equal(printable('jörg@example.org'), 'jörg@example.org')
  assert.equal(printable('red\x1b[31m bell\x07 nul\x00 del\x7f c1\x9b'), 'red?[31m bell? nul? del? c1?')
  assert.equal(
    printable('evil\u202egnp.exe zero\u200bwidth line\u2028break'),
    'evil?gnp.exe zero?width line?break',
  )
  assert.equal(printable('abcdef', 3), 'abc...')
})

test('property: printable output holds no control or format character, never grows, and is printable already', () => {
  fc.assert(
    fc.property(fc.string({ unit: 'binary' }), (s) => {
      const out = printable(s, 10_000)
      assert.doesNotMatch(out, /[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]/u)
      assert.ok(out.length <= s.length)
      assert.equal(printable(out, 10_000), out)
    }),
  )
})
