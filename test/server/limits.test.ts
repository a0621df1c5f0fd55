import assert from 'node:assert/strict'
import { test } from 'node:test'
import { clientKey, idlestSlot } from '../../src/server/limits'

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

test('fair slots: the connection idle longest gives way, never a busy one or one active within the idle time', () => {
  const slot = (name: string, lastCommand: number, busy = false) => ({ name, lastCommand, busy })
  const slots = [slot('recent', 9500), slot('old', 1000), slot('older-but-busy', 0, true), slot('mid', 5000)]
  assert.equal(idlestSlot(slots, 10_000, 2000)?.name, 'old')
  assert.equal(idlestSlot(slots, 10_000, 9500), undefined, 'nobody idle for 9.5 s')
  assert.equal(idlestSlot([slot('exact', 8000)], 10_000, 2000)?.name, 'exact', 'idle exactly the idle time')
  assert.equal(idlestSlot([], 10_000, 2000), undefined)
})
