import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { recipients } from '../../src/config/kinds'
import { decodeXtext } from '../../src/esmtp/xtext'
import type { TrackingNote } from '../../src/model/note'
import { noteRedirection, orcptFor, redirectionOf } from '../../src/relay/redirect'

function note(rcpts: TrackingNote['rcpts'] = {}): TrackingNote {
  return { v: 1, envid: 'e@h', ret: null, track: null, arrival: 1, rcpts }
}
const received = { key: 'alias@here.test', address: 'Alias@Here.test' }

test('an address that stays itself, or is dropped, changes nothing', () => {
  const entry = { orcpt: 'rfc822;x@y', notify: 'NEVER' }
  for (const products of [[{ key: 'alias@here.test', address: 'alias@here.test' }], []]) {
    const n = note({ 'alias@here.test': { ...entry } })
    noteRedirection(n, received, products, null)
    assert.deepEqual(n.rcpts, { 'alias@here.test': entry })
  }
})

test('MTRK-18, RFC 3461 §5.2.7.2: a single-recipient alias carries the received ORCPT and NOTIFY on', () => {
  const n = note({ 'alias@here.test': { orcpt: 'rfc822;Orig+2B@sender.test', notify: 'SUCCESS' } })
  noteRedirection(n, received, [{ key: 'one@far.test', address: 'one@far.test' }], null)
  assert.deepEqual(n.rcpts, { 'one@far.test': { orcpt: 'rfc822;Orig+2B@sender.test', notify: 'SUCCESS' } })
})

test('RFC 3461 §5.2.1(d): without a received ORCPT, the alias target gets one naming the received address', () => {
  const n = note()
  noteRedirection(
    n,
    { key: 'a+b@here.test', address: 'A+b@Here.test' },
    [{ key: 'one@far.test', address: 'x' }],
    null,
  )
  assert.deepEqual(n.rcpts, { 'one@far.test': { orcpt: 'rfc822;A+2Bb@Here.test', notify: null } })
  const utf8 = note()
  noteRedirection(
    utf8,
    { key: 'ü@here.test', address: 'ü@here.test' },
    [{ key: 'one@far.test', address: 'x' }],
    null,
  )
  assert.deepEqual(
    utf8.rcpts,
    { 'one@far.test': { orcpt: 'utf-8;\\x{FC}@here.test', notify: null } },
    'RFC 6533 utf-8 type for an SMTPUTF8 address (AMB-39)',
  )
})

test('MTRK-19, MTRK-20, TSN-19: an expansion marks the received recipient expanded and its products members', () => {
  const n = note({ 'alias@here.test': { orcpt: 'rfc822;list@here.test', notify: 'SUCCESS' } })
  noteRedirection(
    n,
    received,
    [
      { key: 'm1@far.test', address: 'm1@far.test' },
      { key: 'alias@here.test', address: 'alias@here.test' }, // the list includes the address itself
      { key: 'm2@other.test', address: 'M2@other.test' },
    ],
    new Set(['*']),
  )
  assert.deepEqual(n.rcpts, {
    'alias@here.test': { orcpt: 'rfc822;list@here.test', notify: 'SUCCESS', expanded: 'Alias@Here.test' },
    'm1@far.test': { orcpt: null, notify: null, memberOf: 'alias@here.test' },
    'm2@other.test': { orcpt: null, notify: null, memberOf: 'alias@here.test' },
  })
})

test('orcptFor: rfc822 with the address xtext-encoded, decodable back to it', () => {
  assert.equal(orcptFor('a=b c@x.test'), 'rfc822;a+3Db+20c@x.test')
  fc.assert(
    fc.property(fc.stringMatching(/^[\x20-\x7e]{1,60}$/), (address) => {
      const orcpt = orcptFor(address)
      assert.ok(orcpt.startsWith('rfc822;'))
      assert.equal(decodeXtext(orcpt.slice('rfc822;'.length)), address)
    }),
  )
})

/** `[main] final_aliases` as the config reads it. */
const finals = (text: string) => recipients.parse(text) ?? null

test('MTRK-22, TSN-25: a final alias is recorded delivered; the address it leads to gets nothing from the original', () => {
  const n = note({ 'alias@here.test': { orcpt: 'rfc822;Orig@sender.test', notify: 'SUCCESS' } })
  noteRedirection(
    n,
    received,
    [{ key: 'secret@far.test', address: 'Secret@far.test' }],
    finals('alias@here.test'),
  )
  assert.deepEqual(n.rcpts, {
    'alias@here.test': { orcpt: 'rfc822;Orig@sender.test', notify: 'SUCCESS', delivered: 'Alias@Here.test' },
    'secret@far.test': { orcpt: null, notify: null, memberOf: 'alias@here.test' },
  })
  const bare = note()
  noteRedirection(bare, received, [{ key: 'secret@far.test', address: 'x' }], finals('@HERE.test'))
  assert.deepEqual(bare.rcpts, {
    'alias@here.test': { orcpt: null, notify: null, delivered: 'Alias@Here.test' },
    'secret@far.test': { orcpt: null, notify: null, memberOf: 'alias@here.test' },
  })
})

test('MTRK-18, MTRK-22: final_aliases names received recipients: *, an address in any case, a domain; nothing else', () => {
  const one = [{ key: 'one@far.test', address: 'one@far.test' }]
  const kind = (entries: string, key: string) => redirectionOf({ key, address: key }, one, finals(entries))
  assert.equal(kind('*', 'alias@here.test'), 'final')
  assert.equal(kind('ALIAS@here.test', 'alias@here.test'), 'final')
  assert.equal(kind('Alias@here.test', 'aLiAs@here.test'), 'final')
  assert.equal(kind('@here.test', 'anyone@here.test'), 'final')
  assert.equal(kind('webmaster@here.test, @other.test', 'alias@here.test'), 'hop')
  assert.equal(kind('@here.test', 'alias@sub.here.test'), 'hop', 'a domain is not its subdomains')
  assert.equal(kind('*', 'postmaster'), 'final', 'a bare postmaster too')
  assert.equal(kind('@here.test', 'postmaster'), 'hop')
  assert.equal(redirectionOf(received, one, null), 'hop', 'unset: tracked through')
})

test('redirectionOf: several addresses expand, itself or nothing is none, one other is a hop or final', () => {
  const address = fc.constantFrom('alias@here.test', 'a@far.test', 'b@far.test', 'c@other.test')
  const entries = fc.option(fc.constantFrom('*', 'alias@here.test', '@here.test', '@far.test', 'x@y.test'))
  fc.assert(
    fc.property(fc.array(address, { maxLength: 4 }), entries, (keys, entry) => {
      const products = keys.map((key) => ({ key, address: key }))
      const finalAliases = entry === null ? null : finals(entry)
      const got = redirectionOf(received, products, finalAliases)
      const final = entry === '*' || entry === 'alias@here.test' || entry === '@here.test'
      const expected =
        keys.length > 1
          ? 'expansion'
          : keys.length === 0 || keys[0] === received.key
            ? 'none'
            : final
              ? 'final'
              : 'hop'
      assert.equal(got, expected)
      // Whatever the kind, no product of a final alias or an expansion keeps anything of the original.
      const n = note({ 'alias@here.test': { orcpt: 'rfc822;o@s.test', notify: 'SUCCESS' } })
      noteRedirection(n, received, products, finalAliases)
      for (const key of keys) {
        const r = n.rcpts[key]
        if (got === 'final' || (got === 'expansion' && key !== received.key))
          assert.deepEqual(r, { orcpt: null, notify: null, memberOf: received.key })
      }
    }),
  )
})

test('a product the sender named itself earlier stays its own; one an earlier list or alias led to is re-marked', () => {
  const n = note({
    'bob@far.test': { orcpt: null, notify: 'FAILURE' },
    'm@far.test': { orcpt: null, notify: null, memberOf: 'old@here.test' },
  })
  const products = ['bob@far.test', 'dan@far.test', 'm@far.test', 'new@far.test'].map((key) => ({
    key,
    address: key,
  }))
  noteRedirection(n, received, products, null, new Set(['bob@far.test', 'dan@far.test', 'm@far.test']))
  assert.deepEqual(n.rcpts, {
    'bob@far.test': { orcpt: null, notify: 'FAILURE' },
    'm@far.test': { orcpt: null, notify: null, memberOf: 'alias@here.test' },
    'alias@here.test': { orcpt: null, notify: null, expanded: 'Alias@Here.test' },
    'new@far.test': { orcpt: null, notify: null, memberOf: 'alias@here.test' },
  })
})
