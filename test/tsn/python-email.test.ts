// An independent reader: Python's `email` package parses what formatTrackingBody writes.
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { test } from 'node:test'
import fc from 'fast-check'
import type { RecipientStatus, TrackingStatus, TypedValue } from '../../src/tsn/types'
import { boundaryFromBytes, formatTrackingBody } from '../../src/tsn/writer'
import { boundary, trackingStatus } from './arbitraries'
import { TV7_BODY, tv7Status } from './helpers'

// Python reads message/tracking-status the way it reads message/rfc822 (only message/delivery-status gets
// header blocks): the part's payload is one nested Message whose headers are the per-message fields and
// whose body is the recipient groups as text. The script splits that text at blank lines and parses each
// group as headers. Values are unfolded; dates are also converted by email.utils, which knows numeric zones.
const SCRIPT = String.raw`
import email, email.utils, json, re, sys

def fields(headers):
    out = []
    for name, value in headers:
        value = re.sub(r'\r?\n(?=[ \t])', '', value).strip()
        epoch = None
        if name in ('Arrival-Date', 'Last-Attempt-Date', 'Will-Retry-Until'):
            epoch = email.utils.parsedate_to_datetime(value).timestamp()
        out.append([name, value, epoch])
    return out

def entity(text):
    m = email.message_from_string(text)
    parts = []
    for part in m.get_payload():
        [nested] = part.get_payload()
        groups = [g for g in re.split(r'\r?\n\r?\n', nested.get_payload()) if g.strip()]
        parts.append({
            'type': part.get_content_type(),
            'defects': len(part.defects) + len(nested.defects),
            'message': fields(nested.items()),
            'recipients': [fields(email.message_from_string(g).items()) for g in groups],
        })
    return {
        'type': m.get_content_type(),
        'typeParam': m.get_param('type'),
        'boundary': m.get_boundary(),
        'defects': len(m.defects),
        'parts': parts,
    }

print(json.dumps([entity(text) for text in json.load(sys.stdin)]))
`

type PyField = [name: string, value: string, epoch: number | null]
interface PyPart {
  type: string
  defects: number
  message: PyField[]
  recipients: PyField[][]
}
interface PyEntity {
  type: string
  typeParam: string
  boundary: string
  defects: number
  parts: PyPart[]
}

function pythonParse(entities: string[]): PyEntity[] {
  return JSON.parse(
    execFileSync('python3', ['-c', SCRIPT], { input: JSON.stringify(entities), encoding: 'utf8' }),
  )
}

const typed = (tv: TypedValue) => `${tv.type}; ${tv.value}`
const epoch = (d: Date) => d.getTime() / 1000

/** The (name, value-or-instant) pairs a correct reader must find, in grammar order (TSN-17). */
function expectedMessage(ts: TrackingStatus): [string, string | number][] {
  return [
    ['Original-Envelope-Id', ts.originalEnvelopeId],
    ['Reporting-MTA', typed(ts.reportingMta)],
    ['Arrival-Date', epoch(ts.arrivalDate)],
    ...(ts.extensions ?? []).map((e): [string, string] => [e.name, e.value]),
  ]
}

function expectedRecipient(r: RecipientStatus): [string, string | number][] {
  const fields: [string, string | number | undefined][] = [
    ['Original-Recipient', typed(r.originalRecipient)],
    ['Final-Recipient', typed(r.finalRecipient)],
    ['Action', r.action],
    ['Status', r.status], // compared on the code only; the comment's quoting is the writer's business
    ['Remote-MTA', r.remoteMta && typed(r.remoteMta)],
    ['Last-Attempt-Date', r.lastAttemptDate && epoch(r.lastAttemptDate)],
    ['Will-Retry-Until', r.willRetryUntil && epoch(r.willRetryUntil)],
    ...(r.extensions ?? []).map((e): [string, string] => [e.name, e.value]),
  ]
  return fields.filter((f): f is [string, string | number] => f[1] !== undefined)
}

/** What Python saw, reduced to the same shape: dates as instants, Status as its code. */
function seen(fields: PyField[]): [string, string | number][] {
  return fields.map(([name, value, instant]) => [
    name,
    instant ?? (name === 'Status' ? value.split(' ')[0]! : value),
  ])
}

function assertSeenAs(py: PyEntity, parts: TrackingStatus[], boundaryUsed: string): void {
  assert.equal(py.type, 'multipart/related') // TSN-1
  assert.equal(py.typeParam, 'message/tracking-status') // AMB-16
  assert.equal(py.boundary, boundaryUsed)
  assert.equal(py.defects, 0)
  assert.equal(py.parts.length, parts.length)
  for (const [i, part] of py.parts.entries()) {
    const ts = parts[i]!
    assert.equal(part.type, 'message/tracking-status') // TSN-1
    assert.equal(part.defects, 0)
    assert.deepEqual(seen(part.message), expectedMessage(ts))
    assert.deepEqual(part.recipients.map(seen), ts.recipients.map(expectedRecipient))
  }
}

test('Python email reads TV-7 as multipart/related with one message/tracking-status part (TSN-1, AMB-16)', () => {
  const [py] = pythonParse([TV7_BODY])
  assertSeenAs(py!, [tv7Status()], 'b1')
  assert.deepEqual(py!.parts[0]!.message[2], ['Arrival-Date', 'Mon, 1 Jan 2001 15:15:15 -0500', 978380115])
})

test('Python email reads generated bodies: chained parts, folded lines, odd boundaries, any zone', () => {
  const samples = fc.sample(
    fc.tuple(
      fc.array(trackingStatus, { minLength: 1, maxLength: 3 }),
      boundary,
      fc.integer({ min: -840, max: 840 }),
    ),
    { numRuns: 40, seed: 3886 },
  )
  samples.push([[tv7Status(), tv7Status()], boundaryFromBytes(new Uint8Array(16).fill(7)), 0])
  const written = samples.map(([parts, b, offset]) => {
    const body = formatTrackingBody(parts, b, { utcOffsetMinutes: offset })
    assert.ok(body.ok, body.ok ? '' : body.error)
    return body.value
  })
  const seenByPython = pythonParse(written)
  for (const [i, [parts, b]] of samples.entries()) assertSeenAs(seenByPython[i]!, parts, b)
})
