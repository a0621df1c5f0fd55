import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Coalescer, type Schedule } from '../../src/dsn/coalesce'

function manualClock() {
  const timers: { fn: () => void; at: number; cancelled: boolean }[] = []
  let now = 0
  const schedule: Schedule = (fn, ms) => {
    const t = { fn, at: now + ms, cancelled: false }
    timers.push(t)
    return { cancel: () => (t.cancelled = true) }
  }
  const advance = (ms: number) => {
    now += ms
    for (const t of timers) {
      if (t.cancelled || t.at > now) continue
      t.cancelled = true
      t.fn()
    }
  }
  return { schedule, advance }
}

test('outcomes of one key within the window come out as one batch; other keys apart', () => {
  const clock = manualClock()
  const out: [string, number[]][] = []
  const c = new Coalescer<number>(1000, clock.schedule, (k, items) => out.push([k, items]))
  c.add('m1', 1)
  clock.advance(500)
  c.add('m1', 2)
  c.add('m2', 3)
  assert.deepEqual(out, [])
  clock.advance(500)
  assert.deepEqual(out, [['m1', [1, 2]]])
  c.add('m1', 4) // after the window: a new batch
  clock.advance(1000)
  assert.deepEqual(out, [
    ['m1', [1, 2]],
    ['m2', [3]],
    ['m1', [4]],
  ])
  assert.equal(c.size, 0)
})

test('drain flushes everything at once and cancels the timers', () => {
  const clock = manualClock()
  const out: string[] = []
  const c = new Coalescer<string>(1000, clock.schedule, (k, items) => out.push(`${k}:${items.join(',')}`))
  c.add('a', 'x')
  c.add('b', 'y')
  c.drain()
  assert.deepEqual(out, ['a:x', 'b:y'])
  clock.advance(5000)
  assert.deepEqual(out, ['a:x', 'b:y'])
})
