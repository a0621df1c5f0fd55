// From what the relay knows about a message and a batch of recipient outcomes to the report message to queue.
// Pure: the clock, the message id and the boundary are passed in.
import type { Result } from '../util/result'
import type { DeliveryReport, DsnRecipient, ReturnedContent } from './types'
import { formatReportMessage, headerBlock, returnKind, toCrlf } from './writer'

/** What the report needs to know of the original message. */
export interface OriginalMessage {
  /** The return path, without angle brackets: the report's recipient. */
  sender: string
  /** ENVID (xtext) and RET as received, or null. */
  envid: string | null
  ret: string | null
  /** ms since the epoch this relay accepted it. */
  arrival: number
  /** The message as far as it was read (headers at least; whole when `complete`), dot-stuffing undone. */
  content: string
  /** `content` is the whole message. */
  complete: boolean
  /** The whole message's size in octets. */
  size: number
}

export interface ComposeOptions {
  reportingMta: string
  /** What a failure report returns when RET is absent ([dsn] return_without_ret). */
  defaultRet: 'headers' | 'full'
  /** Octets up to which a failure report returns the whole message ([dsn] max_return_size). */
  maxFull: number
  now: number
  messageId: string
  boundary: string
}

/** The unfolded value of the first header field `name` in a header block, or null. */
export function headerValue(headers: string, name: string): string | null {
  const unfolded = headers.replace(/\r?\n(?=[ \t])/g, '')
  const re = new RegExp(`^${name}[ \\t]*:(.*)$`, 'im')
  const m = re.exec(unfolded)
  return m ? m[1]!.trim() : null
}

/** The report for a batch of recipients of one message, as the text to queue (RFC 3461 §6). */
export function composeReport(
  original: OriginalMessage,
  recipients: DsnRecipient[],
  opts: ComposeOptions,
): Result<string> {
  const headers = headerBlock(original.content)
  const kind = returnKind({
    ret: original.ret,
    defaultRet: opts.defaultRet,
    failure: recipients.some((r) => r.action === 'failed'),
    size: original.size,
    maxFull: opts.maxFull,
  })
  const returned: ReturnedContent =
    kind === 'full' && original.complete
      ? { kind: 'message', text: toCrlf(original.content) }
      : { kind: 'headers', text: headers }
  const report: DeliveryReport = {
    reportingMta: opts.reportingMta,
    envid: original.envid,
    arrival: new Date(original.arrival),
    recipients,
  }
  return formatReportMessage({
    report,
    to: original.sender,
    from: `MAILER-DAEMON@${opts.reportingMta}`,
    date: new Date(opts.now),
    messageId: opts.messageId,
    boundary: opts.boundary,
    returned,
    originalSubject: headerValue(headers, 'Subject'),
  })
}
