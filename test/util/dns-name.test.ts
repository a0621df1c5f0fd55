import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
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

test('property: a name is a dot-separated list of Let-dig [Ldh-str] labels of at most 63 octets, 253 in all', () => {
  const label = /^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/
  const byLabels = (s: string, allowSingleLabel: boolean) => {
    const labels = s.split('.')
    return (
      s.length > 0 &&
      s.length <= 253 &&
      (allowSingleLabel || labels.length > 1) &&
      labels.every((l) => l.length <= 63 && label.test(l))
    )
  }
  const part = fc.oneof(
    fc.stringMatching(/^[a-z0-9.-]{0,12}$/),
    fc.integer({ min: 60, max: 66 }).map((n) => 'a'.repeat(n)),
  )
  fc.assert(
    fc.property(fc.array(part, { maxLength: 6 }), fc.boolean(), (parts, single) => {
      const s = parts.join('.')
      assert.equal(isDnsName(s, { allowSingleLabel: single }), byLabels(s, single), s)
    }),
    { numRuns: 3000 },
  )
})
