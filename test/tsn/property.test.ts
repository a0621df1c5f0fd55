import assert from 'node:assert/strict'
import { test } from 'node:test'
import fc from 'fast-check'
import { formatDateTime, parseDateTime } from '../../src/tsn/date'
import { parseTrackingBody, parseTrackingStatus } from '../../src/tsn/reader'
import { describeStatus } from '../../src/tsn/status-text'
import { formatTrackingBody, formatTrackingStatus } from '../../src/tsn/writer'
import type { Result } from '../../src/util/result'
import { boundary, date, trackingStatus, utcOffsetMinutes } from './arbitraries'
import { TV7_BODY } from './helpers'

function value<T>(result: Result<T>): T {
  assert.ok(result.ok, result.ok ? '' : result.error)
  return result.value
}

const parts = fc.array(trackingStatus, { minLength: 1, maxLength: 3 })

test('property: parseTrackingBody(formatTrackingBody(x)) deep-equals x (AMB-15, AMB-16, MTQPC-5)', () => {
  fc.assert(
    fc.property(parts, boundary, utcOffsetMinutes, (xs, b, offset) => {
      const written = value(formatTrackingBody(xs, b, { utcOffsetMinutes: offset }))
      assert.deepEqual(value(parseTrackingBody(written)), xs)
    }),
    { numRuns: 300 },
  )
})

test('property: parseTrackingStatus(formatTrackingStatus(x)) deep-equals x', () => {
  fc.assert(
    fc.property(trackingStatus, utcOffsetMinutes, (x, offset) => {
      assert.deepEqual(
        value(parseTrackingStatus(value(formatTrackingStatus(x, { utcOffsetMinutes: offset })))),
        x,
      )
    }),
    { numRuns: 300 },
  )
})

test('property: writer output is CRLF lines of at most 998 octets of printable ASCII (TSN-2, MTQP-5)', () => {
  fc.assert(
    fc.property(parts, boundary, utcOffsetMinutes, (xs, b, offset) => {
      const written = value(formatTrackingBody(xs, b, { utcOffsetMinutes: offset }))
      assert.ok(written.endsWith('\r\n'))
      for (const line of written.slice(0, -2).split('\r\n')) {
        assert.ok(line.length <= 998, `a line of ${line.length} octets`)
        assert.match(line, /^[\x20-\x7e]*$/)
      }
    }),
    { numRuns: 300 },
  )
})

test('property: formatDateTime and parseDateTime agree at every zone (TSN-4, AMB-32)', () => {
  fc.assert(
    fc.property(date, utcOffsetMinutes, (d, offset) => {
      const text = value(formatDateTime(d, offset))
      assert.match(text, /^[A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}$/)
      assert.deepEqual(value(parseDateTime(text)), d)
    }),
  )
})

/** Arbitrary strings, and valid bodies cut short or with random text spliced in: the hostile network. */
const hostile = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 2000 }),
  fc.string({
    unit: fc.constantFrom('\r', '\n', ' ', '\t', ':', ';', '(', ')', '\\', '"', '-', 'a', '2', '.'),
  }),
  fc
    .tuple(fc.nat(TV7_BODY.length), fc.nat(TV7_BODY.length), fc.string({ unit: 'binary-ascii' }))
    .map(([at, cut, insert]) => TV7_BODY.slice(0, at) + insert + TV7_BODY.slice(at + (cut % 20))),
  fc.nat(TV7_BODY.length).map((at) => TV7_BODY.slice(0, at)),
)

test('property: the readers never throw, whatever the input (MTQPC-5)', () => {
  fc.assert(
    fc.property(hostile, (input) => {
      for (const result of [parseTrackingBody(input), parseTrackingStatus(input), parseDateTime(input)]) {
        assert.equal(typeof result.ok, 'boolean')
      }
      assert.equal(typeof describeStatus(input), 'string')
    }),
    { numRuns: 2000 },
  )
})

// Catastrophic regex backtracking on these inputs would run for hours; the test timeout catches it without a timed
// assertion.
test('the readers finish on long hostile lines', { timeout: 20_000 }, () => {
  const long = ' '.repeat(100_000)
  for (const input of [
    `Arrival-Date: 1 Jan 2001 15:15${long}x`,
    `Content-Type: multipart/x${';a'.repeat(50_000)}`,
  ]) {
    parseTrackingBody(input)
    parseTrackingBody(input)
    parseDateTime(input.slice(14))
  }
})
