import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatDateTime, parseDateTime } from '../../src/tsn/date'

const formatCases: [iso: string, offset: number | undefined, expected: string][] = [
  ['2001-01-01T20:15:15Z', -300, 'Mon, 1 Jan 2001 15:15:15 -0500'], // the RFC 3887 examples' Arrival-Date
  ['2001-01-01T20:15:15Z', undefined, 'Mon, 1 Jan 2001 20:15:15 +0000'], // default zone
  ['2001-01-01T20:15:15Z', 0, 'Mon, 1 Jan 2001 20:15:15 +0000'],
  ['2001-01-01T02:00:00Z', -300, 'Sun, 31 Dec 2000 21:00:00 -0500'], // the zone moves the day back a year
  ['2024-02-29T23:30:00Z', 330, 'Fri, 1 Mar 2024 05:00:00 +0530'], // half-hour zone, past a leap day
  ['2024-06-30T12:00:00Z', 765, 'Mon, 1 Jul 2024 00:45:00 +1245'], // Chatham, 45-minute zone
  ['1999-12-31T23:59:59.999Z', -570, 'Fri, 31 Dec 1999 14:29:59 -0930'], // milliseconds dropped
  ['2038-01-19T03:14:08Z', 5999, 'Sat, 23 Jan 2038 07:13:08 +9959'], // the largest numeric zone
]

for (const [iso, offset, expected] of formatCases) {
  test(`formatDateTime ${iso} at ${offset ?? 'default'} → ${expected} (TSN-4, AMB-32)`, () => {
    assert.deepEqual(formatDateTime(new Date(iso), offset), { ok: true, value: expected })
  })
}

const formatRefusals: [what: string, date: Date, offset: number][] = [
  ['an invalid Date', new Date(Number.NaN), 0],
  ['a fractional offset', new Date(0), 1.5],
  ['an offset beyond +9959', new Date(0), 6000],
  ['an offset beyond -9959', new Date(0), -6000],
  ['a year before 1900', new Date('1899-12-31T23:59:59Z'), 0],
  ['a year after 9999 once shifted', new Date('9999-12-31T23:00:00Z'), 60],
]

for (const [what, date, offset] of formatRefusals) {
  test(`formatDateTime refuses ${what}`, () => {
    assert.equal(formatDateTime(date, offset).ok, false)
  })
}

const parseCases: [text: string, iso: string][] = [
  ['Mon, 1 Jan 2001 15:15:15 -0500', '2001-01-01T20:15:15Z'],
  ['Mon,  1 Jan 2001 15:15:15 -0500', '2001-01-01T20:15:15Z'], // RFC 3887 examples #7, #9-#12
  ['1 Jan 2001 15:15:15 -0500', '2001-01-01T20:15:15Z'], // no day name
  ['mon, 01 JAN 2001 15:15:15 -0500', '2001-01-01T20:15:15Z'], // case and a zero-padded day
  ['  Mon ,\t1   Jan 2001  15 : 15 : 15   -0500  ', '2001-01-01T20:15:15Z'], // extra whitespace
  ['Mon, 1 Jan 2001 15:15 -0500', '2001-01-01T20:15:00Z'], // seconds are optional
  ['Mon, 1 Jan 01 15:15:15 +0000', '2001-01-01T15:15:15Z'], // two-digit year 00-49 → 20xx
  ['Fri, 31 Dec 99 23:59:59 +0000', '1999-12-31T23:59:59Z'], // two-digit year 50-99 → 19xx
  ['Fri, 31 Dec 099 23:59:59 +0000', '1999-12-31T23:59:59Z'], // three-digit year: 1900 + n
  ['Mon, 1 Jan 2001 15:15:15 UT', '2001-01-01T15:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 GMT', '2001-01-01T15:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 EST', '2001-01-01T20:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 edt', '2001-01-01T19:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 CST', '2001-01-01T21:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 CDT', '2001-01-01T20:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 MST', '2001-01-01T22:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 MDT', '2001-01-01T21:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 PST', '2001-01-01T23:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 PDT', '2001-01-01T22:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 Z', '2001-01-01T15:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 A', '2001-01-01T15:15:15Z'], // other military zones: UTC (RFC 5322 §4.3)
  ['Mon, 1 Jan 2001 15:15:15 +0530', '2001-01-01T09:45:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 -0000', '2001-01-01T15:15:15Z'],
  ['Mon, 1 Jan 2001 15:15:15 -0500 (EST)', '2001-01-01T20:15:15Z'], // trailing comment
  ['(sent) Mon, (a (nested) one) 1 Jan 2001 15:15:15 -0500', '2001-01-01T20:15:15Z'],
  ['Tue, 1 Jan 2001 15:15:15 -0500', '2001-01-01T20:15:15Z'], // wrong day name: the date wins
  ['Thu, 29 Feb 2024 12:00:00 +0000', '2024-02-29T12:00:00Z'], // leap day
  ['Sat, 31 Dec 2016 23:59:60 +0000', '2017-01-01T00:00:00Z'], // leap second
  ['Mon, 1 Jan 2001 15:15:15-0500', '2001-01-01T20:15:15Z'], // no space before the zone
  ['Thu, 01 Oct 15 13:48:54 UTC', '2015-10-01T13:48:54Z'], // issue 10 case 6: a real server's Arrival-Date
  ['Mon, 1 Jan 2001 15:15:15 XYZ', '2001-01-01T15:15:15Z'], // unknown alphabetic zone: -0000 (RFC 5322 §4.3)
  ['Mon, 1 Jan 2001 15:15:15 CEST', '2001-01-01T15:15:15Z'],
  ['Thu 01 Oct 2015 13:48:54 GMT', '2015-10-01T13:48:54Z'], // day name without its comma
]

for (const [text, iso] of parseCases) {
  test(`parseDateTime ${JSON.stringify(text)} → ${iso}`, () => {
    assert.deepEqual(parseDateTime(text), { ok: true, value: new Date(iso) })
  })
}

const parseRefusals = [
  '',
  'yesterday',
  'Mon, 1 Jan 2001 15:15:15', // no zone
  'Mon, 30 Feb 2001 15:15:15 +0000', // no such day
  'Thu, 29 Feb 2001 15:15:15 +0000', // not a leap year
  'Mon, 0 Jan 2001 15:15:15 +0000',
  'Mon, 1 Foo 2001 15:15:15 +0000',
  'Xyz, 1 Jan 2001 15:15:15 +0000',
  'Mon, 1 Jan 2001 24:00:00 +0000',
  'Mon, 1 Jan 2001 15:60:00 +0000',
  'Mon, 1 Jan 2001 15:15:61 +0000',
  'Mon, 1 Jan 2001 15:15:15 +0560', // 60 zone minutes
  'Mon, 1 Jan 2001 15:15:15 J', // J is not a military zone
  'Mon, 1 Jan 1899 15:15:15 +0000', // RFC 5322 §3.3: 1900 or later
  'Mon, 1 Jan 2001 15:15:15 +0000 (unterminated',
  'Mon, 1 Jan 2001 15:15:15 +0000)',
  '2001-01-01T15:15:15Z', // ISO 8601 is not RFC 5322
]

for (const text of parseRefusals) {
  test(`parseDateTime refuses ${JSON.stringify(text)}`, () => {
    assert.equal(parseDateTime(text).ok, false)
  })
}

test('parseDateTime reads back what formatDateTime writes at every zone of the table', () => {
  for (const [iso, offset] of formatCases) {
    const written = formatDateTime(new Date(iso), offset)
    assert.ok(written.ok)
    const seconds = Math.floor(new Date(iso).getTime() / 1000) * 1000
    assert.deepEqual(parseDateTime(written.value), { ok: true, value: new Date(seconds) })
  }
})
