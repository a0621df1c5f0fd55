// Lexical rules shared by the message/tracking-status writer and reader (RFC 3886 §3.1.1, RFC 3464 §2.1).
import { err, ok, type Result } from '../util/result'

export const CRLF = '\r\n'

/** The media type of each part and the `type` of the multipart/related around them (TSN-1, AMB-16). */
export const TRACKING_STATUS_TYPE = 'message/tracking-status'

/** MTQP data lines carry at most 998 octets before CRLF (MTQP-5); RFC 5322 sets the same limit. */
export const MAX_LINE_OCTETS = 998

/** The field names of RFC 3886 §3.2/§3.3, spelled as the RFC spells them (the writer emits these). */
export const FIELD = {
  originalEnvelopeId: 'Original-Envelope-Id',
  reportingMta: 'Reporting-MTA',
  arrivalDate: 'Arrival-Date',
  originalRecipient: 'Original-Recipient',
  finalRecipient: 'Final-Recipient',
  action: 'Action',
  status: 'Status',
  remoteMta: 'Remote-MTA',
  lastAttemptDate: 'Last-Attempt-Date',
  willRetryUntil: 'Will-Retry-Until',
} as const

export const MESSAGE_FIELDS: readonly string[] = [
  FIELD.originalEnvelopeId,
  FIELD.reportingMta,
  FIELD.arrivalDate,
]

export const RECIPIENT_FIELDS: readonly string[] = [
  FIELD.originalRecipient,
  FIELD.finalRecipient,
  FIELD.action,
  FIELD.status,
  FIELD.remoteMta,
  FIELD.lastAttemptDate,
  FIELD.willRetryUntil,
]

const STANDARD_FIELDS = new Set([...MESSAGE_FIELDS, ...RECIPIENT_FIELDS].map((name) => name.toLowerCase()))

/** Field names are case-insensitive (RFC 3464 §2.1.1). */
export function isStandardField(name: string): boolean {
  return STANDARD_FIELDS.has(name.toLowerCase())
}

/** RFC 5322 field-name: printable ASCII except ":" (ftext). */
export function isFieldName(name: string): boolean {
  return /^[\x21-\x39\x3b-\x7e]+$/.test(name)
}

/** RFC 822 atom: the syntax of address-type and mta-name-type (RFC 3464 §2.1.2). */
export function isAtom(text: string): boolean {
  return /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/.test(text)
}

/** status-code = DIGIT "." 1*3DIGIT "." 1*3DIGIT (RFC 3464 §2.3.4): what a lenient reader accepts. */
export const STATUS_CODE_SYNTAX = /^(\d)\.(\d{1,3})\.(\d{1,3})$/

/** RFC 3463 §2 as well: class 2, 4 or 5 and no leading zeros. What the writer insists on (ESC-1). */
export function isStrictStatusCode(code: string): boolean {
  return /^[245]\.(?:0|[1-9]\d{0,2})\.(?:0|[1-9]\d{0,2})$/.test(code)
}

export interface Uncommented {
  /** The input with every comment replaced by one space (a comment separates tokens like whitespace). */
  text: string
  /** The comments' contents, outermost parentheses removed and quoted-pairs resolved. */
  comments: string[]
}

/** Separates RFC 822 comments (nested, with quoted-pairs) from the rest of a field value (RFC 3464 §2.1.1). */
export function stripComments(input: string): Result<Uncommented> {
  let text = ''
  let current = ''
  let depth = 0
  const comments: string[] = []
  for (let i = 0; i < input.length; i++) {
    const c = input[i]!
    if (depth === 0) {
      if (c === ')') return err('unbalanced ")"')
      if (c === '(') {
        depth = 1
        current = ''
        text += ' '
      } else {
        text += c
      }
    } else if (c === '\\' && i + 1 < input.length) {
      i++
      current += input[i]!
    } else if (c === ')' && --depth === 0) {
      comments.push(current)
    } else {
      if (c === '(') depth++
      current += c
    }
  }
  return depth === 0 ? ok({ text, comments }) : err('unterminated comment')
}

/** The inverse of stripComments for one comment's content: quote what would end or nest the comment. */
export function escapeComment(content: string): string {
  return content.replace(/[()\\]/g, '\\$&')
}

/** For error messages: a bounded, escaped rendering of untrusted input. */
export function quote(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 60)}…` : text)
}
