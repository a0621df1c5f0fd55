import assert from 'node:assert/strict'
import { test } from 'node:test'
import { isDnsName } from '../../src/util/dns-name'

test('MTQP-22 / AMB-24: host names with and without the single-label allowance', () => {
  const multi = ['example.com', 'mtqp.example.com', 'a-b.c0', '1.2.3.4', `${'a'.repeat(63)}.com`]
  for (const d of multi) {
    assert.ok(isDnsName(d, { allowSingleLabel: false }), d)
    assert.ok(isDnsName(d, { allowSingleLabel: true }), d)
  }
  assert.ok(!isDnsName('localhost', { allowSingleLabel: false }))
  assert.ok(isDnsName('localhost', { allowSingleLabel: true }))
  const bad = [
    '',
    '.',
    'example.com.',
    '.example.com',
    'a..b',
    '-a.com',
    'a-.com',
    'a_b.com',
    'a b.com',
    `${'a'.repeat(64)}.com`,
    `${'a.'.repeat(127)}ab`,
  ]
  for (const d of bad) assert.ok(!isDnsName(d, { allowSingleLabel: true }), d)
})
