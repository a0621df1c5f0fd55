// fast-check arbitraries for valid message/tracking-status data: each Action with the fields and codes
// RFC 3886 allows it (TSN-13..15, TSN-21, TSN-23), so every value is one the writer must accept. Records
// get ordinary prototypes, as the reader builds them, because deepStrictEqual compares prototypes.
import fc from 'fast-check'
import { MAX_UTC_OFFSET_MINUTES } from '../../src/tsn/date'
import {
  ACTIONS,
  type Action,
  type RecipientStatus,
  type TrackingStatus,
  type TypedValue,
} from '../../src/tsn/types'
import { boundaryFromBytes } from '../../src/tsn/writer'

const printableChar = fc.integer({ min: 0x20, max: 0x7e }).map((code) => String.fromCharCode(code))

/** Printable ASCII without surrounding whitespace (TSN-2); may hold parentheses, colons, semicolons. */
const text = (minLength: number) =>
  fc.string({ unit: printableChar, minLength, maxLength: 40 }).filter((s) => s.trim() === s)

/** Values that must be folded to fit 998 octets (200 words of 4+ characters), with spaces to fold at (MTQP-5). */
const longText = fc
  .array(
    fc.string({ unit: printableChar, minLength: 4, maxLength: 30 }).filter((w) => !w.includes(' ')),
    {
      minLength: 200,
      maxLength: 300,
    },
  )
  .map((words) => words.join(' '))

/** Mostly short values: long ones are costly, and a few per body are enough to exercise folding. */
const mostlyShort = (...short: fc.Arbitrary<string>[]) =>
  fc.oneof(...short.map((arbitrary) => ({ arbitrary, weight: 10 })), { arbitrary: longText, weight: 1 })

/** *-type atoms; lower case because the reader lower-cases these case-insensitive atoms (RFC 3464 §2.1.2). */
const atomType = fc.oneof(
  fc.constantFrom('rfc822', 'dns', 'unknown', 'x-local-hostname'),
  fc.stringMatching(/^[a-z0-9!#$%&'*+\-/=?^_`{|}~]{1,12}$/),
)

const hostName = fc.domain()

/** Addresses are verbatim text to the format (RFC 3464 §2.3.2), so anything printable goes. */
const address: fc.Arbitrary<TypedValue> = fc.record(
  { type: atomType, value: mostlyShort(fc.emailAddress(), text(1)) },
  { noNullPrototype: true },
)

/** MTA names exclude parentheses, which a reader strips as comments. */
const mtaName: fc.Arbitrary<TypedValue> = fc.record(
  {
    type: atomType,
    value: fc.oneof(
      hostName,
      text(1).filter((s) => !/[()]/.test(s)),
    ),
  },
  { noNullPrototype: true },
)

/** Whole seconds (RFC 5322 has no fractions), with room for any zone to stay within years 1900-9999. */
export const date = fc
  .date({ min: new Date('1901-01-01T00:00:00Z'), max: new Date('9998-12-31T23:59:59Z'), noInvalidDate: true })
  .map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000))

export const utcOffsetMinutes = fc.integer({ min: -MAX_UTC_OFFSET_MINUTES, max: MAX_UTC_OFFSET_MINUTES })

const extensions = fc.array(
  fc.record(
    {
      name: fc.stringMatching(/^[A-Za-z0-9-]{1,20}$/).map((name) => `X-${name}`),
      value: mostlyShort(text(0)),
    },
    { noNullPrototype: true },
  ),
  { minLength: 1, maxLength: 3 },
)

/** A strict status code (ESC-1) of one of the classes, never 2.1.9, which only relayed may use (TSN-21). */
const statusCode = (...classes: string[]) =>
  fc
    .tuple(fc.constantFrom(...classes), fc.nat(999), fc.nat(999))
    .map(([cls, subject, detail]) => `${cls}.${subject}.${detail}`)
    .filter((code) => code !== '2.1.9')

const STATUS_BY_ACTION: Record<Action, fc.Arbitrary<string>> = {
  relayed: fc.constant('2.1.9'),
  delivered: statusCode('2'),
  expanded: statusCode('2'),
  transferred: statusCode('2'),
  delayed: statusCode('4'),
  failed: statusCode('4', '5'),
  opaque: statusCode('2', '4', '5'),
}

/** Remote-MTA implies an attempt, so Last-Attempt-Date comes with it (TSN-13, TSN-14). */
const attempt = fc.record(
  { remoteMta: mtaName, lastAttemptDate: date },
  { requiredKeys: ['lastAttemptDate'], noNullPrototype: true },
)

export const recipient: fc.Arbitrary<RecipientStatus> = fc.constantFrom(...ACTIONS).chain((action) =>
  fc
    .tuple(
      fc.record(
        {
          originalRecipient: address,
          finalRecipient: address,
          action: fc.constant(action),
          status: STATUS_BY_ACTION[action],
          statusComment: text(0),
          extensions,
        },
        { requiredKeys: ['originalRecipient', 'finalRecipient', 'action', 'status'], noNullPrototype: true },
      ),
      // opaque withholds attempts and queue times (TSN-23); only a queued message has a retry limit (TSN-15).
      action === 'opaque' ? fc.constant({}) : fc.oneof(fc.constant({}), attempt),
      action === 'delayed'
        ? fc.oneof(fc.constant({}), fc.record({ willRetryUntil: date }, { noNullPrototype: true }))
        : fc.constant({}),
    )
    .map(([fields, attempted, queued]) => ({ ...fields, ...attempted, ...queued })),
)

export const trackingStatus: fc.Arbitrary<TrackingStatus> = fc.record(
  {
    originalEnvelopeId: fc.oneof(
      fc.tuple(fc.stringMatching(/^[!-~]{1,20}$/), hostName).map(([local, host]) => `${local}@${host}`),
      text(1),
    ),
    reportingMta: mtaName,
    arrivalDate: date,
    extensions,
    recipients: fc.array(recipient, { minLength: 1, maxLength: 4 }),
  },
  {
    requiredKeys: ['originalEnvelopeId', 'reportingMta', 'arrivalDate', 'recipients'],
    noNullPrototype: true,
  },
)

/** RFC 2046 boundaries: random-byte ones as the server makes them, and any other legal one. */
export const boundary = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 40 }).map(boundaryFromBytes),
  fc.stringMatching(/^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/),
)
