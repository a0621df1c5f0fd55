import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { decodeXtext } from '../../src/esmtp/xtext'
import type { TrackingNote } from '../../src/model/note'
import { noteRedirection, orcptFor } from '../../src/relay/redirect'

function note(rcpts: TrackingNote['rcpts'] = {}): TrackingNote {
  return { v: 1, envid: 'e@h', ret: null, track: null, arrival: 1, rcpts }
}
const received = { key: 'alias@here.test', address: 'Alias@Here.test' }

test('an address that stays itself, or is dropped, changes nothing', () => {
  const entry = { orcpt: 'rfc822;x@y', notify: 'NEVER' }
  for (const products of [[{ key: 'alias@here.test', address: 'alias@here.test' }], []]) {
    const n = note({ 'alias@here.test': { ...entry } })
    noteRedirection(n, received, products)
    assert.deepEqual(n.rcpts, { 'alias@here.test': entry })
  }
})

test('MTRK-18, RFC 3461 §5.2.7.2: a single-recipient alias carries the received ORCPT and NOTIFY on', () => {
  const n = note({ 'alias@here.test': { orcpt: 'rfc822;Orig+2B@sender.test', notify: 'SUCCESS' } })
  noteRedirection(n, received, [{ key: 'one@far.test', address: 'one@far.test' }])
  assert.deepEqual(n.rcpts, { 'one@far.test': { orcpt: 'rfc822;Orig+2B@sender.test', notify: 'SUCCESS' } })
})

test('RFC 3461 §5.2.1(d): without a received ORCPT, the alias target gets one naming the received address', () => {
  const n = note()
  noteRedirection(n, { key: 'a+b@here.test', address: 'A+b@Here.test' }, [
    { key: 'one@far.test', address: 'x' },
  ])
  assert.deepEqual(n.rcpts, { 'one@far.test': { orcpt: 'rfc822;A+2Bb@Here.test', notify: null } })
  const utf8 = note()
  noteRedirection(utf8, { key: 'ü@here.test', address: 'ü@here.test' }, [
    { key: 'one@far.test', address: 'x' },
  ])
  assert.deepEqual(
    utf8.rcpts,
    { 'one@far.test': { orcpt: 'utf-8;\\x{FC}@here.test', notify: null } },
    'RFC 6533 utf-8 type for an SMTPUTF8 address (AMB-39)',
  )
})

test('MTRK-19, MTRK-20, TSN-19: an expansion marks the received recipient expanded and its products members', () => {
  const n = note({ 'alias@here.test': { orcpt: 'rfc822;list@here.test', notify: 'SUCCESS' } })
  noteRedirection(n, received, [
    { key: 'm1@far.test', address: 'm1@far.test' },
    { key: 'alias@here.test', address: 'alias@here.test' }, // the list includes the address itself
    { key: 'm2@other.test', address: 'M2@other.test' },
  ])
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
