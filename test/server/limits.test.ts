import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clientKey, FailedTrackBudget } from '../../src/server/limits'

test('clientKey: IPv4 as is, IPv4-mapped IPv6 as IPv4, IPv6 by its /64', () => {
  const cases: Array<[string, string]> = [
    ['192.0.2.7', '192.0.2.7'],
    ['::ffff:192.0.2.7', '192.0.2.7'],
    ['::FFFF:192.0.2.7', '192.0.2.7'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:0db8:0001:0002:ffff::', '2001:db8:1:2::/64'],
    ['2001:db8::1', '2001:db8:0:0::/64'],
    ['::1', '0:0:0:0::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['64:ff9b::192.0.2.1', '64:ff9b:0:0::/64'],
    ['', ''],
  ]
  for (const [address, want] of cases) assert.equal(clientKey(address), want, address)
})

test('MTQP-29: failed TRACKs are counted per client in fixed windows', () => {
  const b = new FailedTrackBudget({ limit: 2, windowMs: 1000 })
  assert.equal(b.allows('a', 0), true)
  b.fail('a', 0)
  b.fail('a', 10)
  assert.equal(b.allows('a', 999), false, 'spent')
  assert.equal(b.allows('b', 999), true, 'other clients are not affected')
  assert.equal(b.allows('a', 1000), true, 'a new window')
  b.fail('a', 1000)
  assert.equal(b.allows('a', 1001), true)
})

test('failed_track_limit = 0 turns the budget off', () => {
  const b = new FailedTrackBudget({ limit: 0, windowMs: 1000 })
  for (let i = 0; i < 100; i++) b.fail('a', i)
  assert.equal(b.allows('a', 100), true)
})

test('memory is bounded: expired windows are swept, then the oldest forgotten', () => {
  const b = new FailedTrackBudget({ limit: 1, windowMs: 1000, maxClients: 2 })
  b.fail('a', 0)
  b.fail('b', 500)
  b.fail('c', 1200) // sweeps a (expired)
  assert.equal(b.allows('b', 1200), false)
  assert.equal(b.allows('c', 1200), false)
  b.fail('d', 1300) // nothing expired: forgets the oldest, b
  assert.equal(b.allows('b', 1300), true)
  assert.equal(b.allows('c', 1300), false)
  assert.equal(b.allows('d', 1300), false)
})
