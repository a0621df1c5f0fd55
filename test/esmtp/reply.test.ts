import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { enhancedStatus } from '../../src/esmtp/reply'

test('ESC-3: the enhanced code of a reply when its class matches, else the x.0.0 fallback', () => {
  assert.equal(enhancedStatus('5.1.1 No such user', '5'), '5.1.1')
  assert.equal(enhancedStatus('Mailbox busy (4.2.1)', '4'), '4.2.1')
  assert.equal(enhancedStatus('4.2.1 busy', '5'), '5.0.0')
  assert.equal(enhancedStatus('no code here', '4'), '4.0.0')
  assert.equal(enhancedStatus('5.01.1 leading zero', '5'), '5.0.0')
  assert.equal(enhancedStatus('version 1.5.2.5 of x', '5'), '5.0.0')
  assert.equal(enhancedStatus(null, '2'), '2.0.0')
  fc.assert(
    fc.property(
      fc.string(),
      fc.constantFrom('2', '4', '5'),
      (s, c) => void assert.match(enhancedStatus(s, c as '2'), /^[245]\.\d{1,3}\.\d{1,3}$/),
    ),
  )
})
