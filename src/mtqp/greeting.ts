// The MTQP greeting and its option list (RFC 3887 §3): built on the response model, so the server formats it with
// formatResponse and the client decodes it with ResponseDecoder like any other response.

import { err, ok, type Result } from '../util/result'
import { formatResponse, type Indicator, type MtqpResponse } from './response'

export const DEFAULT_GREETING_TEXT = 'MTQP server ready'

export interface GreetingOptions {
  /** Option specifications, one per line, e.g. `STARTTLS` or `STARTTLS required` (MTQP-12, MTQP-13). */
  options: string[]
  /** Human-readable text. Default "MTQP server ready". */
  text?: string
}

export interface GreetingOption {
  /** Option identifier, lower-cased (MTQP-12: case-insensitive). */
  name: string
  /** Parameters in order, including those from continuation lines; case preserved. */
  params: string[]
}

export interface Greeting {
  options: GreetingOption[]
  /** The server lists STARTTLS (MTQP-13). */
  starttls: boolean
  /** The STARTTLS option carries `required` (MTQP-13; case-insensitive). */
  starttlsRequired: boolean
  text: string
}

export interface GreetingError {
  reason: string
  indicator: Indicator
  /** The codes of the greeting, lower-cased, e.g. ["mtqp", "admin"] (MTQP-11). */
  codes: string[]
  text: string
  /** -TEMP: try again later (MTQPC-9). */
  temporary: boolean
}

const PRINTABLE = /^[\t\x20-\x7e]*$/

/**
 * The greeting response: `+OK/MTQP <text>` when there are no options, `+OK+/MTQP <text>` with one line per option
 * and "." otherwise (MTQP-10, MTQP-12, AMB-27).
 */
export function greetingResponse(opts: GreetingOptions): MtqpResponse {
  const text = opts.text ?? DEFAULT_GREETING_TEXT
  if (opts.options.length === 0) return { indicator: '+OK', codes: ['MTQP'], text }
  return { indicator: '+OK+', codes: ['MTQP'], text, lines: [...opts.options] }
}

/** Wire text of the greeting. Refuses option lines that would not read back as the same option. */
export function formatGreeting(opts: GreetingOptions): Result<string> {
  for (const o of opts.options) {
    if (o.trim().length === 0) return err('empty greeting option')
    // A leading WSP would make the line a continuation of the previous option (MTQP-12).
    if (o.startsWith(' ') || o.startsWith('\t')) return err('greeting option starts with whitespace') // MTQP-12
    if (!PRINTABLE.test(o)) return err('greeting option must be printable ASCII')
  }
  return formatResponse(greetingResponse(opts))
}

/**
 * Interpret a decoded greeting. Positive greetings must carry /MTQP (MTQP-10, MTQPC-2); negative ones become an
 * error carrying their codes (MTQP-11). A line starting with whitespace continues the previous option (MTQP-12);
 * blank lines are skipped, and a continuation with no option before it is read as an option (lenient).
 */
export function parseGreeting(r: MtqpResponse): Result<Greeting, GreetingError> {
  const codes = r.codes.map((c) => c.toLowerCase())
  const failure = (reason: string): { ok: false; error: GreetingError } =>
    err({ reason, indicator: r.indicator, codes, text: r.text, temporary: r.indicator === '-TEMP' })

  if (r.indicator !== '+OK' && r.indicator !== '+OK+') return failure('server refused the session') // MTQP-11
  if (!codes.includes('mtqp')) return failure('greeting lacks the /MTQP response code') // MTQP-10

  const options: GreetingOption[] = []
  for (const line of r.indicator === '+OK+' ? (r.lines ?? []) : []) {
    const words = line.split(/[\t ]+/).filter((w) => w.length > 0)
    if (words.length === 0) continue
    const last = options[options.length - 1]
    if ((line.startsWith(' ') || line.startsWith('\t')) && last !== undefined) {
      last.params.push(...words)
      continue
    }
    options.push({ name: words[0]!.toLowerCase(), params: words.slice(1) })
  }
  const starttls = options.filter((o) => o.name === 'starttls')
  return ok({
    options,
    starttls: starttls.length > 0,
    starttlsRequired: starttls.some((o) => o.params.some((p) => p.toLowerCase() === 'required')),
    text: r.text,
  })
}
