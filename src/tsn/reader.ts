// Reads what an MTQP server returns (RFC 3887 §4) leniently, as MTQPC-5 asks: any field order, LF or CRLF,
// folded lines, comments, any case, unknown fields, and the RFC's own malformed examples (ERR-3887-*).
// Syntax is checked, semantics (which fields an Action allows) are not: that is the writer's duty.
import { err, ok, type Result } from '../util/result'
import { parseDateTime } from './date'
import { mapAll } from './results'
import {
  FIELD,
  isAtom,
  isFieldName,
  isStandardField,
  MESSAGE_FIELDS,
  quote,
  RECIPIENT_FIELDS,
  STATUS_CODE_SYNTAX,
  stripComments,
  TRACKING_STATUS_TYPE,
} from './syntax'
import {
  type ExtensionField,
  isAction,
  type RecipientStatus,
  type TrackingStatus,
  type TypedValue,
} from './types'

interface RawField {
  name: string
  /** Unfolded and trimmed. */
  value: string
}

interface Block {
  lines: string[]
  /** 1-based line number of the block's first line, for error messages. */
  lineNo: number
}

/** Field values of one block by lower-cased standard name, and the rest as extensions. */
interface Collected {
  known: Map<string, string>
  extensions: ExtensionField[]
}

/** One message/tracking-status body (RFC 3886 §3.1). */
export function parseTrackingStatus(text: string): Result<TrackingStatus> {
  return parseStatusLines(splitLines(text))
}

/**
 * The entity of a TRACK reply (MTQP-16): a multipart/related of message/tracking-status parts, or a single
 * such part, with or without its MIME header. One TrackingStatus per part, in order.
 */
export function parseTrackingBody(entity: string): Result<TrackingStatus[]> {
  const top = splitHeader(splitLines(entity))
  if (!top.ok) return top
  const { contentType, body } = top.value
  if (contentType === undefined || mediaType(contentType) === TRACKING_STATUS_TYPE) {
    const single = parseStatusLines(body)
    return single.ok ? ok([single.value]) : single
  }
  // Any multipart subtype is read; TSN-1 is enforced on the parts. The `type` parameter is not checked,
  // since the RFC's own examples get it wrong (ERR-3887-5).
  if (!mediaType(contentType).startsWith('multipart/')) {
    return err(
      `Content-Type ${quote(contentType)} is neither multipart/related nor ${TRACKING_STATUS_TYPE} (TSN-1)`,
    )
  }
  const boundary = contentTypeParam(contentType, 'boundary')
  if (!boundary) return err('Content-Type: multipart without a boundary parameter')
  const parts = splitMultipart(body, boundary)
  return parts.ok ? mapAll(parts.value, parsePart, (i) => `part ${i + 1}`) : parts
}

function parsePart(lines: string[]): Result<TrackingStatus> {
  const part = splitHeader(lines)
  if (!part.ok) return part
  const { contentType, body } = part.value
  if (contentType !== undefined && mediaType(contentType) !== TRACKING_STATUS_TYPE) {
    return err(`Content-Type ${quote(contentType)} is not ${TRACKING_STATUS_TYPE} (TSN-1)`)
  }
  return parseStatusLines(body)
}

function splitLines(text: string): string[] {
  return text.split(/\r\n|\r|\n/)
}

function isBlank(line: string): boolean {
  return /^[ \t]*$/.test(line)
}

/**
 * Separates a MIME header from its body. The header is the first block when that block has a Content-Type
 * field; other header fields, such as MIME-Version (AMB-17), are ignored. Without a Content-Type everything
 * is body: a bare message/tracking-status, or a part whose header was left out. Leading blank lines are
 * skipped (ERR-3887-12).
 */
function splitHeader(lines: string[]): Result<{ contentType: string | undefined; body: string[] }> {
  const start = lines.findIndex((line) => !isBlank(line))
  if (start < 0) return err('empty')
  let end = lines.findIndex((line, i) => i > start && isBlank(line))
  if (end < 0) end = lines.length
  const block = lines.slice(start, end)
  if (!block.some((line) => /^content-type[ \t]*:/i.test(line)))
    return ok({ contentType: undefined, body: lines })
  const fields = parseFields({ lines: block, lineNo: start + 1 })
  if (!fields.ok) return fields
  const contentType = fields.value.find((f) => f.name.toLowerCase() === 'content-type')?.value
  return ok({ contentType, body: lines.slice(end + 1) })
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

/** RFC 2046 §5.1.1: the preamble and epilogue are dropped; the close delimiter must be there. */
function splitMultipart(lines: string[], boundary: string): Result<string[][]> {
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
      if (trimmed === close) return parts.length > 0 ? ok(parts) : err('multipart without parts')
    } else {
      current?.push(line)
    }
  }
  return err(`missing the close delimiter ${quote(close)}`)
}

function parseStatusLines(lines: string[]): Result<TrackingStatus> {
  const blocks = splitBlocks(lines)
  const [first, ...rest] = blocks
  if (!first) return err('empty')
  const message = parseMessageBlock(first)
  if (!message.ok) return message
  if (rest.length === 0) return err('no per-recipient group (RFC 3886 §3.1)')
  const recipients = mapAll(rest, parseRecipientBlock, (i) => `recipient ${i + 1}`)
  return recipients.ok ? ok({ ...message.value, recipients: recipients.value }) : recipients
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

/** RFC 5322 §2.2.3 unfolding: a line starting with SP or HTAB continues the field above it. */
function parseFields(block: Block): Result<RawField[]> {
  const fields: RawField[] = []
  for (const [i, line] of block.lines.entries()) {
    const last = fields[fields.length - 1]
    if (line.startsWith(' ') || line.startsWith('\t')) {
      if (!last) return err(`line ${block.lineNo + i}: continuation line without a field`)
      last.value += line
      continue
    }
    const field = parseFieldLine(line)
    if (!field) return err(`line ${block.lineNo + i}: not a header field: ${quote(line)}`)
    fields.push(field)
  }
  return ok(fields.map((f) => ({ name: f.name, value: f.value.trim() })))
}

function parseFieldLine(line: string): RawField | undefined {
  const colon = line.indexOf(':')
  // Whitespace before the colon is RFC 822's obsolete syntax; no space after it is ERR-3887-3.
  const name = colon > 0 ? line.slice(0, colon).trimEnd() : ''
  if (isFieldName(name)) return { name, value: line.slice(colon + 1) }
  // ERR-3887-2: example #9 has `Status 5.2.2 (Mailbox full)`, without the colon. A line that starts with a
  // standard field name and whitespace cannot mean anything else, so it is read as that field rather than
  // losing the whole answer; any other line without a colon is an error.
  const m = /^([A-Za-z-]+)[ \t]+(.*)$/.exec(line)
  return m && isStandardField(m[1]!) ? { name: m[1]!, value: m[2]! } : undefined
}

/**
 * Standard fields of this block by name, and extension fields in order (TSN-16; AMB-18 makes Diagnostic-Code
 * and Final-Log-ID extensions too). A standard field may appear once (RFC 3886 §3.2), and only in its block.
 */
function collect(
  block: Block,
  own: readonly string[],
  other: readonly string[],
  where: string,
): Result<Collected> {
  const fields = parseFields(block)
  if (!fields.ok) return fields
  const known = new Map<string, string>()
  const extensions: ExtensionField[] = []
  const ownNames = new Set(own.map((name) => name.toLowerCase()))
  const otherNames = new Set(other.map((name) => name.toLowerCase()))
  for (const { name, value } of fields.value) {
    const key = name.toLowerCase()
    if (otherNames.has(key)) return err(`${name}: does not belong in the ${where} fields`)
    if (!ownNames.has(key)) extensions.push({ name, value })
    else if (known.has(key)) return err(`${name}: appears more than once`)
    else known.set(key, value)
  }
  return ok({ known, extensions })
}

function required(c: Collected, name: string): Result<string> {
  const value = c.known.get(name.toLowerCase())
  return value === undefined ? err(`${name}: required field missing`) : ok(value)
}

function parseMessageBlock(block: Block): Result<Omit<TrackingStatus, 'recipients'>> {
  const c = collect(block, MESSAGE_FIELDS, RECIPIENT_FIELDS, 'per-message')
  if (!c.ok) return c
  const envid = required(c.value, FIELD.originalEnvelopeId) // TSN-5
  if (!envid.ok) return envid
  const reporting = requiredTyped(c.value, FIELD.reportingMta, true) // TSN-6
  if (!reporting.ok) return reporting
  const arrival = requiredDate(c.value, FIELD.arrivalDate) // TSN-7
  if (!arrival.ok) return arrival
  return ok({
    // Case-sensitive and kept verbatim (RFC 3464 §2.2.1), so parentheses in it are not comments.
    originalEnvelopeId: envid.value,
    reportingMta: reporting.value,
    arrivalDate: arrival.value,
    ...withExtensions(c.value),
  })
}

function parseRecipientBlock(block: Block): Result<RecipientStatus> {
  const c = collect(block, RECIPIENT_FIELDS, MESSAGE_FIELDS, 'per-recipient')
  if (!c.ok) return c
  const original = requiredTyped(c.value, FIELD.originalRecipient, false) // TSN-9
  if (!original.ok) return original
  const final = requiredTyped(c.value, FIELD.finalRecipient, false) // TSN-10
  if (!final.ok) return final
  const action = parseAction(c.value) // TSN-11
  if (!action.ok) return action
  const status = parseStatus(c.value) // TSN-12
  if (!status.ok) return status
  const optional = parseOptional(c.value)
  if (!optional.ok) return optional
  return ok({
    originalRecipient: original.value,
    finalRecipient: final.value,
    action: action.value,
    ...status.value,
    ...optional.value,
    ...withExtensions(c.value),
  })
}

function withExtensions(c: Collected): { extensions?: ExtensionField[] } {
  return c.extensions.length > 0 ? { extensions: c.extensions } : {}
}

/** Action values are case-insensitive (RFC 3464 §2.3.3) and one of the seven of RFC 3886 §3.3.3. */
function parseAction(c: Collected): Result<RecipientStatus['action']> {
  const value = required(c, FIELD.action)
  if (!value.ok) return value
  const uncommented = stripComments(value.value)
  if (!uncommented.ok) return err(`${FIELD.action}: ${uncommented.error}`)
  const action = uncommented.value.text.trim().toLowerCase()
  return isAction(action) ? ok(action) : err(`${FIELD.action}: unknown action ${quote(action)}`)
}

/** Any well-formed code is accepted (ESC-3); comments after it become statusComment. */
function parseStatus(c: Collected): Result<Pick<RecipientStatus, 'status' | 'statusComment'>> {
  const value = required(c, FIELD.status)
  if (!value.ok) return value
  const uncommented = stripComments(value.value)
  if (!uncommented.ok) return err(`${FIELD.status}: ${uncommented.error}`)
  const { text, comments } = uncommented.value
  const status = text.trim()
  if (!STATUS_CODE_SYNTAX.test(status)) return err(`${FIELD.status}: ${quote(status)} is not a status code`)
  return ok(comments.length > 0 ? { status, statusComment: comments.join(' ').trim() } : { status })
}

type OptionalRecipientFields = Pick<RecipientStatus, 'remoteMta' | 'lastAttemptDate' | 'willRetryUntil'>

function parseOptional(c: Collected): Result<OptionalRecipientFields> {
  const out: OptionalRecipientFields = {}
  if (c.known.has(FIELD.remoteMta.toLowerCase())) {
    const remote = requiredTyped(c, FIELD.remoteMta, true)
    if (!remote.ok) return remote
    out.remoteMta = remote.value
  }
  for (const [key, name] of [
    ['lastAttemptDate', FIELD.lastAttemptDate],
    ['willRetryUntil', FIELD.willRetryUntil],
  ] as const) {
    if (!c.known.has(name.toLowerCase())) continue
    const date = requiredDate(c, name)
    if (!date.ok) return date
    out[key] = date.value
  }
  return ok(out)
}

function requiredDate(c: Collected, name: string): Result<Date> {
  const value = required(c, name)
  if (!value.ok) return value
  const date = parseDateTime(value.value)
  return date.ok ? date : err(`${name}: ${date.error}`)
}

/**
 * `type ";" text`. The type is a case-insensitive atom (RFC 3464 §2.1.2), returned in lower case so callers
 * can compare it with ===. MTA names lose their comments; addresses are case-sensitive text kept verbatim
 * (RFC 3464 §2.3.2), since a parenthesis may belong to the address.
 */
function requiredTyped(c: Collected, name: string, isMtaName: boolean): Result<TypedValue> {
  const raw = required(c, name)
  if (!raw.ok) return raw
  const semicolon = raw.value.indexOf(';')
  if (semicolon < 0) return err(`${name}: missing ";" between type and value`)
  const type = stripComments(raw.value.slice(0, semicolon))
  const value = isMtaName
    ? stripComments(raw.value.slice(semicolon + 1))
    : ok({ text: raw.value.slice(semicolon + 1) })
  if (!type.ok || !value.ok) return err(`${name}: unbalanced comment`)
  const typeText = type.value.text.trim()
  if (!isAtom(typeText)) return err(`${name}: type ${quote(typeText)} is not an atom`)
  return ok({ type: typeText.toLowerCase(), value: value.value.text.trim() })
}
