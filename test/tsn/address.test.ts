import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeUtf8Addr } from '../../src/esmtp/utf8-addr'
import { isFieldValue, MAX_VALUE_OCTETS, originalRecipient, recipientAddress } from '../../src/tsn/address'
import type { TypedValue } from '../../src/tsn/types'
import { ADDRESS_CASES } from './address-cases'

const show = (v: TypedValue | null) => (v === null ? null : `${v.type}; ${v.value}`)

test('AMB-39: Final-Recipient and Original-Recipient of SMTPUTF8 and UTF-8 ORCPT recipients, in 7-bit form', () => {
  for (const [address, orcpt, final, original] of ADDRESS_CASES) {
    assert.equal(show(recipientAddress(address, () => {})), final, address)
    if (orcpt !== null) assert.equal(show(originalRecipient(orcpt, () => {})), original, orcpt)
  }
})

test('addresses that cannot be written as they are: empty, overlong, unreadable ORCPT; each noted', () => {
  const notes: string[] = []
  const note = (n: string) => notes.push(n)
  assert.equal(show(recipientAddress('', note)), 'x-unknown; unknown')
  const long = recipientAddress(`${'ö'.repeat(300)}@x.test`, note)
  assert.equal(long.type, 'utf-8')
  assert.equal(long.value.length, MAX_VALUE_OCTETS)
  assert.equal(notes.length, 2)
  for (const bad of ['no-semicolon', 'bad type;a@b', ';a@b', 'rfc822;a+2', 'utf-8;a\\x{110000}']) {
    assert.equal(originalRecipient(bad, note), null, bad)
  }
  assert.equal(show(originalRecipient('x-bin;+FF+FE', note)), 'x-bin; +FF+FE')
  assert.match(notes.at(-1)!, /neither printable nor UTF-8/)
})

test('property: whatever the address, the value is one printable field line that reads back to it', () => {
  const address = fc
    .string({ unit: 'grapheme', minLength: 1, maxLength: 60 })
    .filter((s) => !s.includes('\u0000'))
  fc.assert(
    fc.property(address, (a) => {
      const v = recipientAddress(a, () => {})
      assert.ok(isFieldValue(v.value), v.value)
      assert.equal(v.type === 'rfc822' ? v.value : decodeUtf8Addr(v.value), a)
    }),
  )
})
