// Writes message/tracking-status bodies (RFC 3886) and the multipart/related entity MTQP returns (RFC 3887 §4).
// Every rule of the format is checked here instead of trusted to the caller: the output goes onto the wire.
import { err, ok, type Result } from '../util/result'
import { formatDateTime } from './date'
import { mapAll } from './results'
import {
  CRLF,
  escapeComment,
  FIELD,
  isAtom,
  isFieldName,
  isStandardField,
  isStrictStatusCode,
  MAX_LINE_OCTETS,
  quote,
  TRACKING_STATUS_TYPE,
} from './syntax'
import {
  type ExtensionField,
  isAction,
  type RecipientStatus,
  type TrackingStatus,
  type TypedValue,
} from './types'

export interface FormatOptions {
  /** Zone of every date written, in minutes east of UTC (AMB-32). Default 0, written `+0000`. */
  utcOffsetMinutes?: number
}

/** One field before it is written: its name and its unfolded value. Shared with the RFC 3464 writer (src/dsn). */
export type Field = readonly [name: string, value: string]

/** X.1.9 "Message relayed to non-compliant mailer" (RFC 3886 §3.3.4). */
const RELAYED_STATUS = '2.1.9'

/** The fields that report attempts or queueing, which an opaque answer withholds (TSN-23). */
const NOT_WITH_OPAQUE = ['remoteMta', 'lastAttemptDate', 'willRetryUntil'] as const

/**
 * The body of one message/tracking-status part: per-message fields, then one blank-line-preceded group per
 * recipient, each in the grammar's order (TSN-3, TSN-17, AMB-15). Lines end in CRLF, the last one included.
 */
export function formatTrackingStatus(ts: TrackingStatus, opts: FormatOptions = {}): Result<string> {
  const offset = opts.utcOffsetMinutes ?? 0
  if (!Array.isArray(ts.recipients) || ts.recipients.length === 0) {
    return err('at least one per-recipient group is required (RFC 3886 §3.1)')
  }
  const head = messageBlock(ts, offset)
  if (!head.ok) return head
  const groups = mapAll(
    ts.recipients,
    (r) => recipientBlock(r, offset),
    (i) => `recipient ${i + 1}`,
  )
  if (!groups.ok) return groups
  return ok([head.value, ...groups.value].join(CRLF))
}

/**
 * The MIME entity of a successful TRACK reply (MTQP-16, TSN-1): a multipart/related whose `type` is
 * message/tracking-status, one part per reporting MTA, no MIME-Version (AMB-17). The boundary comes from the
 * caller so that this module stays free of randomness; see boundaryFromBytes.
 */
export function formatTrackingBody(
  parts: TrackingStatus[],
  boundary: string,
  opts: FormatOptions = {},
): Result<string> {
  if (!isBoundary(boundary)) return err(`boundary ${quote(boundary)} is not 1-70 RFC 2046 bchars`)
  if (parts.length === 0) return err('a multipart needs at least one part (RFC 2046 §5.1.1)')
  const delimiter = `--${boundary}`
  const lines = [
    `Content-Type: multipart/related; boundary="${boundary}"; type="${TRACKING_STATUS_TYPE}"`,
    '',
  ]
  const bodies = mapAll(
    parts,
    (part) => partBody(part, delimiter, opts),
    (i) => `part ${i + 1}`,
  )
  if (!bodies.ok) return bodies
  for (const body of bodies.value) {
    // The part body ends in CRLF; the blank line after it is the CRLF that belongs to the next delimiter.
    lines.push(delimiter, `Content-Type: ${TRACKING_STATUS_TYPE}`, '', body)
  }
  lines.push(`${delimiter}--`, '')
  return ok(lines.join(CRLF))
}

function partBody(part: TrackingStatus, delimiter: string, opts: FormatOptions): Result<string> {
  const body = formatTrackingStatus(part, opts)
  if (!body.ok) return body
  // RFC 2046 §5.1.1: the delimiter must not begin any line of an encapsulated part.
  if (body.value.startsWith(delimiter) || body.value.includes(CRLF + delimiter)) {
    return err(`contains the boundary delimiter ${quote(delimiter)}`)
  }
  return body
}

/** RFC 2046 §5.1.1: boundary := 0*69<bchars> bcharsnospace. */
function isBoundary(boundary: string): boolean {
  return /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary)
}

const BOUNDARY_PREFIX = 'mtrk-'
const MAX_BOUNDARY_BYTES = (70 - BOUNDARY_PREFIX.length) >> 1

/**
 * A legal boundary made from caller-supplied random bytes (16 or more give enough entropy). Hex keeps it
 * to bcharsnospace; bytes beyond the 32 that fit in 70 characters are ignored.
 */
export function boundaryFromBytes(bytes: Uint8Array): string {
  const used = bytes.subarray(0, MAX_BOUNDARY_BYTES)
  return BOUNDARY_PREFIX + Buffer.from(used.buffer, used.byteOffset, used.byteLength).toString('hex')
}

function messageBlock(ts: TrackingStatus, offset: number): Result<string> {
  const envid = text(FIELD.originalEnvelopeId, ts.originalEnvelopeId, true) // TSN-5, TSN-8
  if (!envid.ok) return envid
  const reporting = typed(FIELD.reportingMta, ts.reportingMta, true) // TSN-6
  if (!reporting.ok) return reporting
  const arrival = date(FIELD.arrivalDate, ts.arrivalDate, offset) // TSN-7
  if (!arrival.ok) return arrival
  const extensions = extensionFields(ts.extensions)
  if (!extensions.ok) return extensions
  return emitBlock([envid.value, reporting.value, arrival.value, ...extensions.value])
}

function recipientBlock(r: RecipientStatus, offset: number): Result<string> {
  const rules = checkActionRules(r)
  if (rules) return err(rules)
  const fields: Result<Field>[] = [
    typed(FIELD.originalRecipient, r.originalRecipient, false), // TSN-9
    typed(FIELD.finalRecipient, r.finalRecipient, false), // TSN-10
    ok([FIELD.action, r.action]), // TSN-11, checked above
    status(r), // TSN-12
  ]
  if (r.remoteMta !== undefined) fields.push(typed(FIELD.remoteMta, r.remoteMta, true))
  if (r.lastAttemptDate !== undefined) fields.push(date(FIELD.lastAttemptDate, r.lastAttemptDate, offset))
  if (r.willRetryUntil !== undefined) fields.push(date(FIELD.willRetryUntil, r.willRetryUntil, offset))
  const checked = mapAll(fields, (field) => field)
  if (!checked.ok) return checked
  const extensions = extensionFields(r.extensions)
  if (!extensions.ok) return extensions
  return emitBlock([...checked.value, ...extensions.value])
}

/** Which optional fields and status codes each Action allows (RFC 3886 §3.3.3-§3.3.7). */
function checkActionRules(r: RecipientStatus): string | undefined {
  if (typeof r.action !== 'string' || !isAction(r.action)) {
    return `${FIELD.action}: ${quote(String(r.action))} is not one of the seven actions (TSN-11)`
  }
  // ERR-3886-6: the MUST reads both ways, so 2.1.9 goes with relayed and relayed with 2.1.9.
  if ((r.status === RELAYED_STATUS) !== (r.action === 'relayed')) {
    return `${FIELD.status}: ${RELAYED_STATUS} is used with Action relayed and only with it (TSN-21)`
  }
  const withheld = NOT_WITH_OPAQUE.find((key) => r[key] !== undefined)
  if (r.action === 'opaque' && withheld) return `${FIELD[withheld]}: not allowed with Action opaque (TSN-23)`
  if (r.remoteMta !== undefined && r.lastAttemptDate === undefined) {
    return `${FIELD.lastAttemptDate}: required with Remote-MTA, which implies an attempt (TSN-13, TSN-14)`
  }
  if (r.willRetryUntil !== undefined && r.action !== 'delayed') {
    return `${FIELD.willRetryUntil}: only while the message is queued, i.e. with Action delayed (TSN-15)`
  }
  return undefined
}

function status(r: RecipientStatus): Result<Field> {
  if (typeof r.status !== 'string' || !isStrictStatusCode(r.status)) {
    return err(
      `${FIELD.status}: ${quote(String(r.status))} is not class.subject.detail with class 2/4/5 (TSN-12)`,
    )
  }
  if (r.statusComment === undefined) return ok([FIELD.status, r.status])
  const comment = text(FIELD.status, r.statusComment, false)
  if (!comment.ok) return comment
  return ok([FIELD.status, `${r.status} (${escapeComment(r.statusComment)})`])
}

/** address-type or mta-name-type ";" text. MTA names exclude parentheses, which a reader takes as a comment. */
export function typed(name: string, tv: TypedValue | undefined, isMtaName: boolean): Result<Field> {
  if (tv === null || typeof tv !== 'object') return err(`${name}: required`)
  if (typeof tv.type !== 'string' || !isAtom(tv.type))
    return err(`${name}: type ${quote(String(tv.type))} is not an atom`)
  const value = text(name, tv.value, true)
  if (!value.ok) return value
  if (isMtaName && /[()]/.test(tv.value))
    return err(`${name}: parentheses in an MTA name would read as a comment`)
  return ok([name, `${tv.type}; ${tv.value}`])
}

export function date(name: string, value: Date, offset: number): Result<Field> {
  const formatted = formatDateTime(value, offset)
  return formatted.ok ? ok([name, formatted.value]) : err(`${name}: ${formatted.error}`)
}

/** A non-empty field value that passes every check of text(). */
const PLAIN_VALUE = /^[\x21-\x7e](?:[\x20-\x7e]*[\x21-\x7e])?$/

/**
 * A field value must be one line of 7bit printable ASCII (TSN-2): CR or LF would inject header fields, and
 * surrounding whitespace would not survive a reader's unfolding.
 */
export function text(name: string, value: string, required: boolean): Result<Field> {
  // The common case in one test: printable, and neither starting nor ending with a space.
  if (typeof value === 'string' && PLAIN_VALUE.test(value)) return ok([name, value])
  if (typeof value !== 'string') return err(`${name}: required`)
  if (required && value === '') return err(`${name}: must not be empty`)
  if (/[\r\n]/.test(value)) return err(`${name}: contains CR or LF (header injection)`)
  if (!/^[\x20-\x7e]*$/.test(value)) return err(`${name}: only printable US-ASCII is allowed (TSN-2)`)
  if (value.trim() !== value) return err(`${name}: leading or trailing whitespace`)
  return ok([name, value])
}

/** Extension fields (TSN-16) may not reuse a standard name: a reader would take them for that field. */
function extensionFields(extensions: ExtensionField[] | undefined): Result<Field[]> {
  return mapAll(extensions ?? [], (ext) => {
    if (typeof ext.name !== 'string' || !isFieldName(ext.name)) {
      return err(`extension field name ${quote(String(ext.name))} is not a valid field name`)
    }
    if (isStandardField(ext.name)) return err(`${ext.name}: a standard field cannot be an extension field`)
    return text(ext.name, ext.value, false)
  })
}

export function emitBlock(fields: readonly Field[]): Result<string> {
  let block = ''
  for (const field of fields) {
    const emitted = emitField(field)
    if (!emitted.ok) return emitted
    block += emitted.value
  }
  return ok(block)
}

/** The one place a field becomes text: `Name: value`, folded to fit MAX_LINE_OCTETS, CRLF-terminated. */
function emitField([name, value]: Field): Result<string> {
  const line = value === '' ? `${name}:` : `${name}: ${value}`
  if (line.length <= MAX_LINE_OCTETS) return ok(line + CRLF)
  const folded = fold(line)
  return folded.ok ? ok(folded.value.map((line) => line + CRLF).join('')) : err(`${name}: ${folded.error}`)
}

/**
 * RFC 5322 §2.2.3 folding: break before a space so that unfolding (removing the CRLF) restores the value
 * exactly. A line with no usable space within the limit is refused rather than cut.
 */
function fold(line: string): Result<string[]> {
  const lines: string[] = []
  let rest = line
  while (rest.length > MAX_LINE_OCTETS) {
    const at = rest.lastIndexOf(' ', MAX_LINE_OCTETS)
    if (at <= 0 || rest.slice(0, at).trim() === '') {
      return err(`longer than ${MAX_LINE_OCTETS} octets without a space to fold at`)
    }
    lines.push(rest.slice(0, at))
    rest = rest.slice(at)
  }
  lines.push(rest)
  return ok(lines)
}
