// MTQP responses (RFC 3887 §2.3, grammar §12): the model, the server-side formatter and the client-side decoder.
// Pure; the decoder frames with LineDecoder and never throws on network input.
//
// Decisions:
// - formatResponse returns a Result. Structural mistakes are caller bugs and are refused rather than sent: an
//   unknown indicator, a code outside 1*NAMECHAR, data lines on anything but +OK+, a data line containing CR or LF
//   or a character above U+00FF, and a data line longer than 998 octets once dot-stuffed (MTQP-5, MTQP-7). Long
//   data lines are not split: the data is a MIME body, and cutting a header field at an arbitrary octet would
//   corrupt it; the producer must fold its fields. The session can then answer -TEMP instead of a broken body.
// - The human-readable text is only for logs (MTQP-6), so it is sanitised instead: CR, LF and other controls become
//   SP, non-ASCII becomes "?", leading whitespace is dropped and the text is cut so the status line fits 998 octets.
// - The wire string uses one char per octet: write it with the 'latin1' encoding (it is pure ASCII unless data lines
//   carry octets above 0x7F).
// - The decoder is lenient: indicators and codes in any case (codes lower-cased in the model), any code characters
//   except "/" and whitespace, empty codes ("//") ignored. Each server response yields exactly one Result, so a
//   pipelining client (MTQP-9) can pair results with commands even when a response is damaged.

import { err, ok, type Result } from '../util/result'
import { LineDecoder, type LineDecoderOptions, MAX_LINE_OCTETS } from './framing'

export const INDICATORS = ['+OK', '+OK+', '-TEMP', '-ERR', '-BAD'] as const
export type Indicator = (typeof INDICATORS)[number]

export interface MtqpResponse {
  indicator: Indicator
  /** Response codes without their "/" (MTQP-6). Lower-cased by the decoder; emitted as given by the formatter. */
  codes: string[]
  /** Human-readable text for logs, without the separating whitespace (may be empty). */
  text: string
  /** Data lines of a +OK+ response, un-dot-stuffed, without line endings. Only for +OK+. */
  lines?: string[]
}

export type StatusLine = Omit<MtqpResponse, 'lines'>

const NAMECHARS = /^[A-Za-z0-9_-]+$/

// ---------------------------------------------------------------------------------------------------------------
// Formatting (server side)

/** Wire text of a response, CRLF line endings, multi-line data dot-stuffed and terminated by ".". */
export function formatResponse(r: MtqpResponse): Result<string> {
  if (!(INDICATORS as readonly string[]).includes(r.indicator)) return err('unknown status indicator') // MTQP-5
  for (const code of r.codes) {
    // response-info = *("/" 1*NAMECHAR) (MTQP-6).
    if (!NAMECHARS.test(code)) return err('response code must be 1*NAMECHAR: ALPHA / DIGIT / "-" / "_"') // MTQP-6
  }
  if (r.lines !== undefined && r.indicator !== '+OK+') return err('only +OK+ responses carry data lines') // MTQP-5

  const status = statusLine(r)
  if (!status.ok) return status
  const parts = [status.value]

  if (r.indicator === '+OK+') {
    const lines = r.lines ?? []
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!
      if (/[\r\n]/.test(line)) return err(`data line ${i} contains CR or LF`)
      if (/[^\x00-\xff]/.test(line)) return err(`data line ${i} has a character that is not one octet`)
      // MTQP-7: a line starting with "." gets another "."; MTQP-5: the limit applies to the stuffed wire line.
      const wire = line.startsWith('.') ? `.${line}` : line
      if (wire.length > MAX_LINE_OCTETS) {
        return err(`data line ${i} is ${wire.length} octets on the wire, over 998; fold it`) // MTQP-5
      }
      parts.push(`${wire}\r\n`)
    }
    parts.push('.\r\n')
  }
  return ok(parts.join(''))
}

/**
 * Wire text of a +OK+ response whose data is `body`, CRLF-terminated lines (a MIME entity): the same octets and the
 * same refusals as formatResponse with the lines of `body`, checked and dot-stuffed on the whole text at once.
 */
export function formatDataResponse(r: StatusLine, body: string): Result<string> {
  if (r.indicator !== '+OK+') return err('only +OK+ responses carry data lines') // MTQP-5
  const status = statusLine(r)
  if (!status.ok) return status
  if (body !== '' && !body.endsWith('\r\n')) return err('data does not end in CRLF')
  if (/[^\x00-\xff]/.test(body)) return err('a data line has a character that is not one octet')
  for (let start = 0, end = 0; start < body.length; start = end + 2) {
    end = body.indexOf('\r\n', start)
    // The line's first CR and first LF must be those of its CRLF.
    if (body.indexOf('\r', start) !== end || body.indexOf('\n', start) !== end + 1)
      return err('a data line contains CR or LF')
    // MTQP-5: the limit applies to the line as it goes on the wire, dot-stuffed.
    if (end - start + (body.startsWith('.', start) ? 1 : 0) > MAX_LINE_OCTETS)
      return err('a data line is over 998 octets on the wire; fold it') // MTQP-5
  }
  // MTQP-7: a line starting with "." gets another ".".
  const stuffed = body.startsWith('.') || body.includes('\n.') ? body.replace(/(^|\n)\./g, '$1..') : body
  return ok(`${status.value}${stuffed}.\r\n`)
}

/** The status line with its CRLF: indicator, codes, and the text cut to fit 998 octets. */
function statusLine(r: StatusLine): Result<string> {
  const head = r.indicator + r.codes.map((c) => `/${c}`).join('')
  if (head.length > MAX_LINE_OCTETS) return err('status line longer than 998 octets') // MTQP-5
  const room = MAX_LINE_OCTETS - head.length - 1
  const text = sanitiseText(r.text).slice(0, Math.max(0, room))
  return ok(text.length > 0 ? `${head} ${text}\r\n` : `${head}\r\n`)
}

/** opt-text = [WSP *(VCHAR / WSP)]: keep it printable, single-line, and without leading whitespace. */
function sanitiseText(text: string): string {
  return text
    .replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ')
    .replace(/[^\x00-\x7f]/g, '?')
    .replace(/^[\t ]+/, '')
}

// ---------------------------------------------------------------------------------------------------------------
// Parsing (client side)

const STATUS = /^(\+OK\+|\+OK|-TEMP|-ERR|-BAD)((?:\/[^\t /]*)*)(?:[\t ]+([\s\S]*))?$/i

/** Parse a status line (indicator, codes, text). Lenient about case and code characters; see the file header. */
export function parseStatusLine(line: string): Result<StatusLine> {
  const m = STATUS.exec(line)
  if (m === null) return err(`malformed status line: ${quote(line)}`)
  const indicator = m[1]!.toUpperCase() as Indicator
  const codes = m[2]!
    .split('/')
    .filter((c) => c.length > 0)
    .map((c) => c.toLowerCase())
  return ok({ indicator, codes, text: m[3] ?? '' })
}

/** A short printable rendering of a bad server line for error messages. */
function quote(line: string): string {
  const shown = line.length > 60 ? `${line.slice(0, 60)}...` : line
  return JSON.stringify(shown)
}

export interface ResponseDecoderOptions extends LineDecoderOptions {
  /** Most data octets kept for one +OK+ response; beyond it the response is an error. Default 4 MiB. */
  maxResponseOctets?: number
}

type State =
  | { kind: 'status' }
  | { kind: 'data'; status: StatusLine; lines: string[]; octets: number; damage: string | null }

/**
 * Client-side decoder: feed it the bytes from the server, get one Result per complete response, in order.
 * A +OK+ status line starts a data block that ends with a line holding only "." (MTQP-7); everything else is a
 * single line. A malformed status line yields an error and decoding carries on with the next line; an overlong or
 * excess data line damages its response, which still ends at its "." and yields one error, so sync is kept.
 */
export class ResponseDecoder {
  readonly #framer: LineDecoder
  readonly #maxResponseOctets: number
  #state: State = { kind: 'status' }

  constructor(opts: ResponseDecoderOptions = {}) {
    this.#framer = new LineDecoder(opts)
    this.#maxResponseOctets = opts.maxResponseOctets ?? 4 * 1024 * 1024
  }

  /** Octets of an incomplete line held by the framer. */
  get bufferedBytes(): number {
    return this.#framer.bufferedBytes
  }

  /** True while inside a +OK+ data block. */
  get inResponse(): boolean {
    return this.#state.kind === 'data'
  }

  push(chunk: Buffer): Result<MtqpResponse>[] {
    const out: Result<MtqpResponse>[] = []
    for (const item of this.#framer.push(chunk)) {
      const r = item.kind === 'line' ? this.#onLine(item.line) : this.#onOverlong(item.head)
      if (r !== null) out.push(r)
    }
    return out
  }

  /** The connection closed: an unfinished response is reported as an error, then the decoder is reset. */
  end(): Result<MtqpResponse>[] {
    const partial = this.#framer.discardBuffered().length > 0
    const open = this.#state.kind === 'data'
    this.#state = { kind: 'status' }
    return partial || open ? [err('connection closed in the middle of a response')] : []
  }

  #onLine(line: string): Result<MtqpResponse> | null {
    const st = this.#state
    if (st.kind === 'status') {
      const s = parseStatusLine(line)
      if (!s.ok) return s
      if (s.value.indicator !== '+OK+') return ok(s.value)
      this.#state = { kind: 'data', status: s.value, lines: [], octets: 0, damage: null }
      return null
    }
    if (line === '.') {
      this.#state = { kind: 'status' }
      if (st.damage !== null) return err(st.damage)
      return ok({ ...st.status, lines: st.lines })
    }
    if (st.damage !== null) return null
    // MTQP-7: a leading "." followed by other octets is removed.
    const data = line.startsWith('.') ? line.slice(1) : line
    st.octets += data.length + 2
    if (st.octets > this.#maxResponseOctets) {
      st.damage = `response data exceeds ${this.#maxResponseOctets} octets`
      st.lines = []
      return null
    }
    st.lines.push(data)
    return null
  }

  #onOverlong(head: string): Result<MtqpResponse> | null {
    const st = this.#state
    if (st.kind === 'data') {
      if (st.damage === null) {
        st.damage = 'overlong data line in response' // MTQP-5
        st.lines = []
      }
      return null
    }
    // An overlong +OK+ status line still opens a data block; follow it so the "." that ends it is not misread.
    if (/^\+OK\+(?:[/\t ]|$)/i.test(head)) {
      this.#state = {
        kind: 'data',
        status: { indicator: '+OK+', codes: [], text: '' },
        lines: [],
        octets: 0,
        damage: 'overlong status line in response', // MTQP-5
      }
      return null
    }
    return err('overlong status line in response') // MTQP-5
  }
}

/** Decode exactly one complete response from its whole wire text (for tests and one-shot callers). */
export function parseResponse(
  wire: string | Buffer,
  opts: ResponseDecoderOptions = {},
): Result<MtqpResponse> {
  const decoder = new ResponseDecoder(opts)
  const results = [
    ...decoder.push(typeof wire === 'string' ? Buffer.from(wire, 'latin1') : wire),
    ...decoder.end(),
  ]
  if (results.length !== 1) return err(`expected exactly one response, found ${results.length}`)
  return results[0]!
}
