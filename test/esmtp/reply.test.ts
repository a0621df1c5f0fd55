import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { findEnhancedStatus } from '../../src/esmtp/reply'

test('ESC-3: the first well-formed enhanced code of a reply text, or null', () => {
  assert.equal(findEnhancedStatus('5.1.1 No such user'), '5.1.1')
  assert.equal(findEnhancedStatus('Mailbox busy (4.2.1)'), '4.2.1')
  assert.equal(findEnhancedStatus('no code here'), null)
  assert.equal(findEnhancedStatus('5.01.1 leading zero'), null)
  assert.equal(findEnhancedStatus('version 1.5.2.5 of x'), null)
  assert.equal(findEnhancedStatus(null), null)
  fc.assert(
    fc.property(fc.string(), (s) => {
      const found = findEnhancedStatus(s)
      if (found !== null) assert.match(found, /^[245]\.\d{1,3}\.\d{1,3}$/)
    }),
  )
})
