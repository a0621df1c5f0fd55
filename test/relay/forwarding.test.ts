import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import type { TrackingNote } from '../../src/model/note'
import { mailParams, type NextHop, rcptParams, remainingTimeout } from '../../src/relay/forwarding'

const B = 'VheLhqV/rCKJmplkGFwsyW59pYk'
const ARRIVAL = 1_000_000

function note(over: Partial<TrackingNote> = {}): TrackingNote {
  return {
    v: 1,
    envid: 'a+2Bb@h.example',
    ret: 'hdrs',
    track: { certifier: B, timeout: 3600, retention: 3600, envid: 'a+b@h.example' },
    arrival: ARRIVAL,
    rcpts: {},
    ...over,
  }
}

const hops: Record<string, NextHop> = {
  both: { mtrk: true, dsn: true },
  mtrk: { mtrk: true, dsn: false },
  dsn: { mtrk: false, dsn: true },
  neither: { mtrk: false, dsn: false },
}

test('MTRK-12..16, DSN-10, DSN-11, AMB-21, AMB-22: MAIL FROM parameters by what the next hop advertised', () => {
  const at = ARRIVAL + 10_500 // 10.5 s here: 10 whole seconds are taken off
  const cases: Array<[keyof typeof hops, string[], boolean]> = [
    ['both', ['ENVID=a+2Bb@h.example', 'RET=hdrs', `MTRK=${B}:3590`], true],
    ['mtrk', ['ENVID=a+2Bb@h.example', `MTRK=${B}:3590`], true], // no RET to a non-DSN hop
    ['dsn', ['ENVID=a+2Bb@h.example', 'RET=hdrs'], false], // MTRK-15
    ['neither', [], false],
  ]
  for (const [hop, params, mtrkSent] of cases) {
    assert.deepEqual(mailParams(note(), hops[hop] as NextHop, at, false), { params, mtrkSent }, hop)
  }
})

test('MTRK-13, AMB-23, AMB-19: no MTRK once the remaining timeout is 0 or less; ENVID and RET still go', () => {
  const n = note()
  assert.equal(mailParams(n, hops.both as NextHop, ARRIVAL + 3_599_999, false).params.at(-1), `MTRK=${B}:1`)
  for (const at of [ARRIVAL + 3_600_000, ARRIVAL + 9_000_000]) {
    assert.deepEqual(mailParams(n, hops.both as NextHop, at, false), {
      params: ['ENVID=a+2Bb@h.example', 'RET=hdrs'],
      mtrkSent: false,
    })
  }
  const zero = note({ track: { certifier: B, timeout: 0, retention: 0, envid: 'a+b@h.example' } })
  assert.equal(mailParams(zero, hops.both as NextHop, ARRIVAL, false).mtrkSent, false)
})

test('MTRK-12: without a requested timeout the remaining local retention goes on; the arrival is the base', () => {
  const n = note({ track: { certifier: B, timeout: null, retention: 864000, envid: 'a+b@h.example' } })
  assert.deepEqual(mailParams(n, hops.mtrk as NextHop, ARRIVAL + 61_000, false).params, [
    'ENVID=a+2Bb@h.example',
    `MTRK=${B}:863939`,
  ])
  // No arrival stamp (cannot happen after DATA, but a queue file is input): counted from now.
  assert.equal(
    mailParams(note({ arrival: null }), hops.mtrk as NextHop, 5, false).params.at(-1),
    `MTRK=${B}:3600`,
  )
})

test('untracked messages: DSN parameters alone are passed on (DSN-10), nothing is invented', () => {
  const dsnOnly = note({ track: null, ret: null })
  assert.deepEqual(mailParams(dsnOnly, hops.both as NextHop, ARRIVAL, false), {
    params: ['ENVID=a+2Bb@h.example'],
    mtrkSent: false,
  })
  assert.deepEqual(
    mailParams(note({ track: null, ret: null, envid: null }), hops.both as NextHop, 0, false),
    {
      params: [],
      mtrkSent: false,
    },
  )
  // RFC 3885 §3.2: MTRK never travels without ENVID.
  assert.equal(mailParams(note({ envid: null }), hops.both as NextHop, ARRIVAL, false).mtrkSent, false)
})

test('MTRK-19, MTRK-20: an envelope shared with an expansion gets nothing derived from the original', () => {
  assert.deepEqual(mailParams(note(), hops.both as NextHop, ARRIVAL, true), { params: [], mtrkSent: false })
})

test('DSN-10, AMB-21: RCPT TO parameters; NOTIFY only to DSN hops, ORCPT to DSN or MTRK hops', () => {
  const r = { orcpt: 'RFC822;U+2Bx@Example.COM', notify: 'SUCCESS,DELAY' }
  assert.deepEqual(rcptParams(r, hops.both as NextHop), [
    'NOTIFY=SUCCESS,DELAY',
    'ORCPT=RFC822;U+2Bx@Example.COM',
  ])
  assert.deepEqual(rcptParams(r, hops.dsn as NextHop), [
    'NOTIFY=SUCCESS,DELAY',
    'ORCPT=RFC822;U+2Bx@Example.COM',
  ])
  assert.deepEqual(rcptParams(r, hops.mtrk as NextHop), ['ORCPT=RFC822;U+2Bx@Example.COM'])
  assert.deepEqual(rcptParams(r, hops.neither as NextHop), [])
  assert.deepEqual(rcptParams(undefined, hops.both as NextHop), [], 'no ORCPT is invented (DSN-10)')
  assert.deepEqual(rcptParams({ orcpt: null, notify: 'NEVER' }, hops.both as NextHop), ['NOTIFY=NEVER'])
  assert.deepEqual(rcptParams({ ...r, memberOf: 'list@x' }, hops.both as NextHop), [], 'RFC 3461 §5.2.7.1(b)')
  assert.deepEqual(rcptParams({ ...r, expanded: 'list@x' }, hops.both as NextHop), [])
})

test('MTRK-12: the remaining timeout loses whole seconds only, never grows, never exceeds the retention', () => {
  assert.equal(remainingTimeout(100, 0, 999), 100)
  assert.equal(remainingTimeout(100, 0, 1000), 99)
  assert.equal(remainingTimeout(100, 5000, 0), 100, 'a clock behind the arrival takes nothing off')
  fc.assert(
    fc.property(
      fc.integer({ min: 0, max: 999999999 }),
      fc.integer({ min: 0, max: 2 ** 40 }),
      fc.integer({ min: 0, max: 2 ** 32 }),
      fc.integer({ min: 0, max: 2 ** 32 }),
      (retention, arrival, d1, d2) => {
        const early = remainingTimeout(retention, arrival, arrival + d1)
        const late = remainingTimeout(retention, arrival, arrival + d1 + d2)
        assert.ok(late <= early && early <= retention)
        assert.equal(retention - early, Math.floor(d1 / 1000))
      },
    ),
  )
})

test('DSN-10, MTRK-17: every parameter value is the note value byte for byte; none without its source', () => {
  const xtext = fc.stringMatching(/^[!-*,-<>-~]{1,20}$/)
  fc.assert(
    fc.property(
      fc.record({
        envid: fc.option(xtext),
        ret: fc.option(fc.constantFrom('FULL', 'hdrs')),
        retention: fc.integer({ min: 0, max: 999999999 }),
        mtrk: fc.boolean(),
        dsn: fc.boolean(),
        orcpt: fc.option(xtext.map((x) => `rfc822;${x}`)),
        notify: fc.option(fc.constantFrom('NEVER', 'SUCCESS,FAILURE,DELAY')),
      }),
      ({ envid, ret, retention, mtrk, dsn, orcpt, notify }) => {
        const n = note({ envid, ret, track: { certifier: B, timeout: null, retention, envid: 'x@y' } })
        const hop = { mtrk, dsn }
        const { params, mtrkSent } = mailParams(n, hop, ARRIVAL, false)
        const byKey = Object.fromEntries(
          params.map((p) => [p.slice(0, p.indexOf('=')), p.slice(p.indexOf('=') + 1)]),
        )
        assert.equal(byKey.ENVID, envid !== null && (mtrk || dsn) ? envid : undefined)
        assert.equal(byKey.RET, ret !== null && dsn ? ret : undefined)
        assert.equal(mtrkSent, 'MTRK' in byKey)
        assert.equal(byKey.MTRK, mtrk && envid !== null && retention > 0 ? `${B}:${retention}` : undefined)
        const rp = rcptParams({ orcpt, notify }, hop)
        assert.deepEqual(rp, [
          ...(notify !== null && dsn ? [`NOTIFY=${notify}`] : []),
          ...(orcpt !== null && (dsn || mtrk) ? [`ORCPT=${orcpt}`] : []),
        ])
      },
    ),
  )
})
