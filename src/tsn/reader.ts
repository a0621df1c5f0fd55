// Reads message/tracking-status (RFC 3886, what an MTQP server returns, RFC 3887 §4) and message/delivery-status
// (RFC 3464, the body of a DSN), which share one grammar, as leniently as MTQPC-5 asks: any field order, LF or CRLF,
// folded lines, unindented continuation lines, comments, any case, unknown fields, obsolete dates and zones, a
// missing blank line between groups where the fields say where it belongs, and the RFC's own malformed examples
// (ERR-3887-*). What cannot be read is skipped at the smallest unit (field, recipient group, part) and said:
// one bad part never hides the good ones.
//
// Two kinds of entry points:
// - read*: lenient, never fail; `value` is what could be read, `skipped` says what was skipped or repaired and why.
// - parse*: strict Results for tests of our own writer: any entry in `skipped` is an error.
// Syntax is checked, semantics (which fields an Action allows) are not: that is the writer's duty.
import { decodeUtf8Addr, isUtf8AddrType } from '../esmtp/utf8-addr'
import { err, ok, type Result } from '../util/result'
import { parseDateTime } from './date'
import { isAtom, isFieldName, quote, STATUS_CODE_SYNTAX, stripComments, TRACKING_STATUS_TYPE } from './syntax'
import {
  ACTIONS,
  type DeliveryRecipientStatus,
  type DeliveryStatus,
  DSN_ACTIONS,
  type ExtensionField,
  type RecipientStatus,
  type TrackingStatus,
  type TypedValue,
} from './types'

/** What a lenient read produced: the readable part, and one sentence per thing skipped or repaired. */
export interface Read<T> {
  value: T
  /** E.g. `part 2: recipient 1: Last-Attempt-Date: not an RFC 5322 date-time (field skipped)`. Empty: read as is. */
  skipped: string[]
}

export const DELIVERY_STATUS_TYPES = ['message/delivery-status', 'message/global-delivery-status'] as const

/** One message/tracking-status body (RFC 3886 §3.1); null when no per-message block and recipient can be read. */
export function readTrackingStatus(text: string): Read<TrackingStatus | null> {
  const skipped: string[] = []
  return { value: readStatus(splitLines(text), TRACKING, say(skipped)), skipped }
}

/**
 * The entity of a TRACK reply (MTQP-16): a multipart/related of message/tracking-status parts, or a single such part,
 * with or without its MIME header. One TrackingStatus per readable part, in order.
 */
export function readTrackingBody(entity: string): Read<TrackingStatus[]> {
  const skipped: string[] = []
  const note = say(skipped)
  return { value: readEntity(entity, [TRACKING_STATUS_TYPE], TRACKING, note), skipped }
}

/** One message/delivery-status body (RFC 3464 §2); null when nothing usable can be read. */
export function readDeliveryStatus(text: string): Read<DeliveryStatus | null> {
  const skipped: string[] = []
  return { value: readStatus(splitLines(text), DELIVERY, say(skipped)), skipped }
}

/**
 * A delivery report (RFC 3462 multipart/report, RFC 6533 global form too) or its message/delivery-status part alone:
 * the delivery-status parts that can be read. Other parts (the human-readable text, the returned message) are
 * passed over silently.
 */
export function readDeliveryReport(entity: string): Read<DeliveryStatus[]> {
  const skipped: string[] = []
  return { value: readEntity(entity, DELIVERY_STATUS_TYPES, DELIVERY, say(skipped)), skipped }
}

/** Strict: one message/tracking-status body, an error on anything the lenient reader would skip or repair. */
export function parseTrackingStatus(text: string): Result<TrackingStatus> {
  return strict(readTrackingStatus(text))
}

/** Strict: the entity of a TRACK reply, an error on anything the lenient reader would skip or repair. */
export function parseTrackingBody(entity: string): Result<TrackingStatus[]> {
  return strict(readTrackingBody(entity))
}

function strict<T>(r: Read<T | null>): Result<T> {
  if (r.skipped.length > 0) return err(r.skipped[0]!)
  return r.value === null ? err('empty') : ok(r.value)
}

type Note = (text: string) => void

function say(into: string[]): Note {
  return (text) => into.push(text)
}

function within(note: Note, where: string): Note {
  return (text) => note(`${where}: ${text}`)
}

// ---------------------------------------------------------------------------------------------------------------
// Field schemas: RFC 3886 §3.2-3.3 and RFC 3464 §2.2-2.3 differ only in which fields exist and are required.

type Kind = 'text' | 'mta' | 'address' | 'date' | 'action' | 'status' | 'typed-text'

interface FieldSpec {
  name: string
  key: string
  kind: Kind
  required: boolean
}

interface Schema<M, R> {
  message: readonly FieldSpec[]
  recipient: readonly FieldSpec[]
  actions: readonly string[]
  /** Whether other parts around the status are normal (a report's text and returned message) or worth a note. */
  otherPartsExpected: boolean
  /** Marker types for the compiler only. */
  _m?: M
  _r?: R
}

const f = (name: string, key: string, kind: Kind, required = false): FieldSpec => ({
  name,
  key,
  kind,
  required,
})

const TRACKING: Schema<TrackingStatus, RecipientStatus> = {
  message: [
    f('Original-Envelope-Id', 'originalEnvelopeId', 'text', true), // TSN-5
    f('Reporting-MTA', 'reportingMta', 'mta', true), // TSN-6
    f('Arrival-Date', 'arrivalDate', 'date', true), // TSN-7
  ],
  recipient: [
    f('Original-Recipient', 'originalRecipient', 'address', true), // TSN-9
    f('Final-Recipient', 'finalRecipient', 'address', true), // TSN-10
    f('Action', 'action', 'action', true), // TSN-11
    f('Status', 'status', 'status', true), // TSN-12
    f('Remote-MTA', 'remoteMta', 'mta'),
    f('Last-Attempt-Date', 'lastAttemptDate', 'date'),
    f('Will-Retry-Until', 'willRetryUntil', 'date'),
  ],
  actions: ACTIONS,
  otherPartsExpected: false,
}

const DELIVERY: Schema<DeliveryStatus, DeliveryRecipientStatus> = {
  message: [
    f('Original-Envelope-Id', 'originalEnvelopeId', 'text'),
    f('Reporting-MTA', 'reportingMta', 'mta', true),
    f('DSN-Gateway', 'dsnGateway', 'mta'),
    f('Received-From-MTA', 'receivedFromMta', 'mta'),
    f('Arrival-Date', 'arrivalDate', 'date'),
  ],
  recipient: [
    f('Original-Recipient', 'originalRecipient', 'address'),
    f('Final-Recipient', 'finalRecipient', 'address', true),
    f('Action', 'action', 'action', true),
    f('Status', 'status', 'status', true),
    f('Remote-MTA', 'remoteMta', 'mta'),
    f('Diagnostic-Code', 'diagnosticCode', 'typed-text'),
    f('Last-Attempt-Date', 'lastAttemptDate', 'date'),
    f('Final-Log-ID', 'finalLogId', 'text'),
    f('Will-Retry-Until', 'willRetryUntil', 'date'),
  ],
  actions: DSN_ACTIONS,
  otherPartsExpected: true,
}

function specOf(specs: readonly FieldSpec[], name: string): FieldSpec | undefined {
  const lower = name.toLowerCase()
  return specs.find((s) => s.name.toLowerCase() === lower)
}

/** The fields that open a per-recipient group: a repeat of one starts the next group. */
const GROUP_OPENERS = ['original-recipient', 'final-recipient']

// ---------------------------------------------------------------------------------------------------------------
// MIME: the entity around the parts.

function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/)
}

function isBlank(line: string): boolean {
  return /^[ \t]*$/.test(line)
}

function readEntity<M, R>(entity: string, types: readonly string[], schema: Schema<M, R>, note: Note): M[] {
  const top = splitHeader(splitLines(entity))
  if (top === null) {
    note('empty')
    return []
  }
  const { contentType, body } = top
  if (contentType === undefined || types.includes(mediaType(contentType))) {
    const single = readStatus(body, schema, note)
    return single === null ? [] : [single]
  }
  // Any multipart subtype is read; TSN-1 is enforced on the parts. The `type` parameter is not checked,
  // since the RFC's own examples get it wrong (ERR-3887-5).
  if (!mediaType(contentType).startsWith('multipart/')) {
    note(`Content-Type ${quote(contentType)} is neither multipart nor ${types.join(' nor ')}`) // TSN-1
    return []
  }
  const boundary = contentTypeParam(contentType, 'boundary')
  if (!boundary) {
    note('Content-Type: multipart without a boundary parameter')
    return []
  }
  const parts = splitMultipart(body, boundary, note)
  const out: M[] = []
  for (const [i, lines] of parts.entries()) {
    const partNote = within(note, `part ${i + 1}`)
    const part = splitHeader(lines)
    if (part === null) {
      partNote('empty (part skipped)')
      continue
    }
    if (part.contentType !== undefined && !types.includes(mediaType(part.contentType))) {
      // A report's human-readable part and returned message are expected; a tracking answer has nothing else.
      if (!schema.otherPartsExpected)
        partNote(`Content-Type ${quote(part.contentType)} is not ${types[0]} (part skipped)`) // TSN-1
      continue
    }
    const status = readStatus(part.body, schema, partNote)
    if (status !== null) out.push(status)
  }
  if (out.length === 0 && parts.length > 0) note(`no readable ${types[0]} part`)
  return out
}

/**
 * Separates a MIME header from its body. The header is the first block when that block has a Content-Type
 * field; other header fields, such as MIME-Version (AMB-17), are ignored. Without a Content-Type everything
 * is body: a bare status, or a part whose header was left out. Leading blank lines are skipped (ERR-3887-12).
 */
function splitHeader(lines: string[]): { contentType: string | undefined; body: string[] } | null {
  const start = lines.findIndex((line) => !isBlank(line))
  if (start < 0) return null
  let end = lines.findIndex((line, i) => i > start && isBlank(line))
  if (end < 0) end = lines.length
  const block = lines.slice(start, end)
  if (!block.some((line) => /^content-type[ \t]*:/i.test(line)))
    return { contentType: undefined, body: lines }
  const fields = unfold({ lines: block, lineNo: start + 1 }, () => {})
  const contentType = fields.find((field) => field.name.toLowerCase() === 'content-type')?.value
  return { contentType, body: lines.slice(end + 1) }
}

function mediaType(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim().toLowerCase()
}

/**
 * A Content-Type parameter by case-insensitive name, in any order. Unquoted values run to ";" or whitespace
 * so that the examples' illegal `boundary=%%%%` is still understood (ERR-3887-5).
 */
function contentTypeParam(contentType: string, name: string): string | undefined {
  for (const [, key, quoted, token] of contentType.matchAll(
    /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s;]*))/g,
  )) {
    if (key!.toLowerCase() === name) return quoted === undefined ? token : quoted.replace(/\\(.)/g, '$1')
  }
  return undefined
}

/** RFC 2046 §5.1.1: the preamble and epilogue are dropped. A missing close delimiter ends the last part. */
function splitMultipart(lines: string[], boundary: string, note: Note): string[][] {
  const open = `--${boundary}`
  const close = `${open}--`
  const parts: string[][] = []
  let current: string[] | undefined
  for (const line of lines) {
    // Trailing whitespace after a delimiter is transport padding (RFC 2046 §5.1.1).
    const trimmed = line.trimEnd()
    if (trimmed === open || trimmed === close) {
      if (current) parts.push(current)
      current = []
      if (trimmed === close) {
        if (parts.length === 0) note('multipart without parts')
        return parts
      }
    } else {
      current?.push(line)
    }
  }
  note(`missing the close delimiter ${quote(close)} (read up to the end)`)
  if (current?.some((line) => !isBlank(line))) parts.push(current)
  if (parts.length === 0) note('multipart without parts')
  return parts
}

// ---------------------------------------------------------------------------------------------------------------
// Blocks, fields and groups.

interface Block {
  lines: string[]
  /** 1-based line number of the block's first line, for messages. */
  lineNo: number
}

interface RawField {
  name: string
  /** Unfolded and trimmed. */
  value: string
}

/** Blocks are separated by one or more blank lines; a line of only whitespace counts as blank. */
function splitBlocks(lines: string[]): Block[] {
  const blocks: Block[] = []
  let current: Block | undefined
  for (const [i, line] of lines.entries()) {
    if (isBlank(line)) {
      current = undefined
    } else if (current) {
      current.lines.push(line)
    } else {
      current = { lines: [line], lineNo: i + 1 }
      blocks.push(current)
    }
  }
  return blocks
}

/**
 * RFC 5322 §2.2.3 unfolding: a line starting with SP or HTAB continues the field above it. A line that is no field
 * at all but follows one is read as its continuation whose indentation was lost; one with no field above is skipped.
 */
function unfold(block: Block, note: Note): RawField[] {
  const fields: RawField[] = []
  for (const [i, line] of block.lines.entries()) {
    const last = fields[fields.length - 1]
    const lineNo = block.lineNo + i
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (last) last.value += line
      else note(`line ${lineNo}: continuation line without a field (line skipped)`)
      continue
    }
    const field = fieldLine(line)
    if (field) {
      fields.push(field)
    } else if (last) {
      note(`line ${lineNo}: not a header field: ${quote(line)} (read as a continuation of ${last.name})`)
      last.value += ` ${line}`
    } else {
      note(`line ${lineNo}: not a header field: ${quote(line)} (line skipped)`)
    }
  }
  return fields.map((field) => ({ name: field.name, value: field.value.trim() }))
}

const KNOWN_NAMES = new Set(
  [...TRACKING.message, ...TRACKING.recipient, ...DELIVERY.message, ...DELIVERY.recipient].map((s) =>
    s.name.toLowerCase(),
  ),
)

function fieldLine(line: string): RawField | undefined {
  const colon = line.indexOf(':')
  // Whitespace before the colon is RFC 822's obsolete syntax; no space after it is ERR-3887-3.
  const name = colon > 0 ? line.slice(0, colon).trimEnd() : ''
  if (isFieldName(name)) return { name, value: line.slice(colon + 1) }
  // ERR-3887-2: example #9 has `Status 5.2.2 (Mailbox full)`, without the colon. A line that starts with a
  // standard field name and whitespace cannot mean anything else.
  const m = /^([A-Za-z-]+)[ \t]+(.*)$/.exec(line)
  return m && KNOWN_NAMES.has(m[1]!.toLowerCase()) ? { name: m[1]!, value: m[2]! } : undefined
}

/**
 * The per-message fields and the per-recipient groups. Where a blank line is missing but the fields say where it
 * belongs, the groups are split there: recipient fields right after the per-message ones, or a second
 * Original-Recipient or Final-Recipient in one group.
 */
function groups<M, R>(
  lines: string[],
  schema: Schema<M, R>,
  note: Note,
): { message: RawField[]; recipients: RawField[][] } {
  const blocks = splitBlocks(lines)
  const [first, ...rest] = blocks
  if (!first) return { message: [], recipients: [] }
  const head = unfold(first, note)
  const split = head.findIndex(
    (field) => !specOf(schema.message, field.name) && specOf(schema.recipient, field.name),
  )
  const message = split < 0 ? head : head.slice(0, split)
  const recipientFields: RawField[][] = []
  if (split >= 0) {
    note(
      `line ${first.lineNo}: no blank line before the first per-recipient field ${head[split]!.name} (split there)`,
    )
    recipientFields.push(head.slice(split))
  }
  for (const block of rest) recipientFields.push(unfold(block, note))
  const recipients: RawField[][] = []
  for (const fields of recipientFields) {
    let current: RawField[] = []
    for (const field of fields) {
      const key = field.name.toLowerCase()
      if (GROUP_OPENERS.includes(key) && current.some((c) => c.name.toLowerCase() === key)) {
        note(`no blank line before the second ${field.name} in a group (split there)`)
        recipients.push(current)
        current = []
      }
      current.push(field)
    }
    recipients.push(current)
  }
  return { message, recipients }
}

function readStatus<M, R>(lines: string[], schema: Schema<M, R>, note: Note): M | null {
  const { message, recipients } = groups(lines, schema, note)
  if (message.length === 0) {
    note('empty')
    return null
  }
  const head = readGroup(message, schema.message, schema.recipient, schema, 'per-message', note)
  if (head === null) return null
  const read: R[] = []
  for (const [i, fields] of recipients.entries()) {
    const where = within(note, `recipient ${i + 1}`)
    const r = readGroup(fields, schema.recipient, schema.message, schema, 'per-recipient', where)
    if (r !== null) read.push(r as R)
  }
  if (read.length === 0) {
    note(
      recipients.length === 0
        ? 'no per-recipient group (RFC 3886 §3.1, RFC 3464 §2.1)'
        : 'no per-recipient group could be read (part skipped)',
    )
    return null
  }
  return { ...(head as M), recipients: read }
}

/**
 * One group's fields as an object of the schema's keys plus `extensions`. A bad optional field is skipped; a missing
 * or bad required field skips the group (null). Fields of the other block are skipped, a repeated one keeps the first.
 */
function readGroup(
  fields: RawField[],
  own: readonly FieldSpec[],
  other: readonly FieldSpec[],
  schema: Schema<unknown, unknown>,
  where: string,
  note: Note,
): Record<string, unknown> | null {
  const out: Record<string, unknown> = {}
  const extensions: ExtensionField[] = []
  const seen = new Set<string>()
  let failed = false
  for (const { name, value } of fields) {
    const spec = specOf(own, name)
    if (!spec) {
      if (specOf(other, name)) note(`${name}: does not belong in the ${where} fields (field skipped)`)
      // TSN-16: unknown fields, and AMB-18's Diagnostic-Code and Final-Log-ID in a tracking status, kept in order.
      else extensions.push({ name, value })
      continue
    }
    if (seen.has(spec.key)) {
      note(`${name}: appears more than once (the first is kept)`)
      continue
    }
    seen.add(spec.key)
    const v = fieldValue(spec, value, schema)
    if (v.ok) {
      Object.assign(out, v.value)
    } else {
      note(
        `${spec.name}: ${v.error}${spec.required ? ` (${where === 'per-message' ? 'part' : 'group'} skipped)` : ' (field skipped)'}`,
      )
      if (spec.required) failed = true
    }
  }
  for (const spec of own) {
    if (spec.required && !seen.has(spec.key)) {
      note(`${spec.name}: required field missing (${where === 'per-message' ? 'part' : 'group'} skipped)`)
      failed = true
    }
  }
  if (failed) return null
  if (extensions.length > 0) out.extensions = extensions
  return out
}

function fieldValue(
  spec: FieldSpec,
  value: string,
  schema: Schema<unknown, unknown>,
): Result<Record<string, unknown>> {
  const set = (v: unknown) => ok({ [spec.key]: v })
  switch (spec.kind) {
    case 'text':
      // Case-sensitive and kept verbatim (RFC 3464 §2.2.1), so parentheses in it are not comments.
      return set(value)
    case 'mta':
    case 'address':
    case 'typed-text': {
      const typed = typedValue(value, spec.kind === 'mta')
      return typed.ok ? set(typed.value) : typed
    }
    case 'date': {
      const date = parseDateTime(value)
      return date.ok ? set(date.value) : date
    }
    case 'action': {
      // Action values are case-insensitive (RFC 3464 §2.3.3).
      const uncommented = stripComments(value)
      if (!uncommented.ok) return uncommented
      const action = uncommented.value.text.trim().toLowerCase()
      return schema.actions.includes(action) ? set(action) : err(`unknown action ${quote(action)}`)
    }
    case 'status': {
      // Any well-formed code is accepted (ESC-3); comments after it become statusComment.
      const uncommented = stripComments(value)
      if (!uncommented.ok) return uncommented
      const { text, comments } = uncommented.value
      const status = text.trim()
      if (!STATUS_CODE_SYNTAX.test(status)) return err(`${quote(status)} is not a status code`)
      return ok(comments.length > 0 ? { status, statusComment: comments.join(' ').trim() } : { status })
    }
  }
}

/**
 * `type ";" text`. The type is a case-insensitive atom (RFC 3464 §2.1.2), returned in lower case so callers can
 * compare it with ===. MTA names lose their comments; addresses and diagnostics are text kept verbatim (RFC 3464
 * §2.3.2), since a parenthesis may belong to the address. A `utf-8` address stays in its 7-bit form (RFC 6533);
 * decodeAddress gives the Unicode address.
 */
function typedValue(raw: string, isMtaName: boolean): Result<TypedValue> {
  const semicolon = raw.indexOf(';')
  if (semicolon < 0) return err('missing ";" between type and value')
  const type = stripComments(raw.slice(0, semicolon))
  const value = isMtaName ? stripComments(raw.slice(semicolon + 1)) : ok({ text: raw.slice(semicolon + 1) })
  if (!type.ok || !value.ok) return err('unbalanced comment')
  const typeText = type.value.text.trim()
  if (!isAtom(typeText)) return err(`type ${quote(typeText)} is not an atom`)
  return ok({ type: typeText.toLowerCase(), value: value.value.text.trim() })
}

/**
 * The address a typed address field names, for display: a `utf-8` one (RFC 6533, `j\x{F6}rg@example.org`) decoded
 * to Unicode; any other type as written. A malformed utf-8 value is returned as written.
 */
export function decodeAddress(field: TypedValue): string {
  return isUtf8AddrType(field.type) ? (decodeUtf8Addr(field.value) ?? field.value) : field.value
}
