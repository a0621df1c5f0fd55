// The first part of a delivery status notification: what happened, to whom, why and what to do, for a sender who
// knows nothing of SMTP (RFC 3462 §2: "a human readable explanation"). Pure.
import { formatDateTime } from '../tsn/date'
import { describeStatus } from '../tsn/status-text'
import type { ReportAction } from './decision'
import type { DeliveryReport, DsnRecipient } from './types'

/** What each action means to the sender, and what they should do about it. */
const EXPLAIN: Readonly<Record<ReportAction, { heading: string; advice: string }>> = {
  failed: {
    heading: 'Your message could not be delivered to these recipients. The mail system has given up:',
    advice:
      'Check each address for typing errors, then send the message again. If the reason above says the ' +
      'mailbox is full or the message too large, try later or send less. If it keeps failing, reach the ' +
      'recipient another way, or forward this notice to your mail administrator.',
  },
  delayed: {
    heading: 'Your message has not been delivered yet to these recipients. The mail system keeps trying:',
    advice:
      'You do not need to do anything or to send the message again. You will be told if it finally fails.',
  },
  delivered: {
    heading: 'Your message was delivered to these recipients:',
    advice: 'Nothing to do: this is the confirmation you asked for.',
  },
  relayed: {
    heading:
      'Your message was passed on for these recipients to a mail system that does not send delivery ' +
      'notifications:',
    advice: 'You will probably not hear whether it reaches the recipients themselves.',
  },
  expanded: {
    heading: 'Your message was delivered to these lists or aliases, which pass it on to their members:',
    advice: 'You will not hear about each member: this is the last notice you asked for.',
  },
}

const ORDER: readonly ReportAction[] = ['failed', 'delayed', 'delivered', 'relayed', 'expanded']

/** The Subject: of a report: the most serious action it tells of. */
export function subjectOf(report: DeliveryReport): string {
  const actions = new Set(report.recipients.map((r) => r.action))
  if (actions.has('failed')) return 'Undelivered Mail Returned to Sender'
  if (actions.has('delayed')) return 'Delayed Mail (still being retried)'
  if (actions.has('delivered')) return 'Successful Mail Delivery Report'
  return 'Mail Delivery Status Report'
}

/** Greedy word wrap at 76 columns; words longer than that stay whole on their own line. */
function wrap(text: string, indent = ''): string[] {
  const lines: string[] = []
  let line = ''
  for (const word of text.split(/\s+/).filter(Boolean)) {
    if (line !== '' && indent.length + line.length + 1 + word.length > 76) {
      lines.push(indent + line)
      line = word
    } else {
      line = line === '' ? word : `${line} ${word}`
    }
  }
  if (line !== '') lines.push(indent + line)
  return lines
}

/** The reason in words: RFC 3463's meaning of the status, then what the other side said. */
function reasonOf(r: DsnRecipient): string[] {
  const out = wrap(`${describeStatus(r.status)} (${r.status}).`, '    ')
  if (r.diagnosticCode !== null) {
    const said = r.diagnosticCode.replace(/^smtp;\s*/i, '').replace(/^X-Haraka;\s*/i, '')
    const who = /^smtp;/i.test(r.diagnosticCode)
      ? `The receiving server${r.remoteMta ? ` ${r.remoteMta}` : ''} said:`
      : 'Reason:'
    out.push(...wrap(`${who} ${said}`, '    '))
  }
  if (r.action === 'delayed' && r.willRetryUntil !== null) {
    const until = formatDateTime(r.willRetryUntil)
    if (until.ok) out.push(...wrap(`Retrying until ${until.value}.`, '    '))
  }
  return out
}

/** The text/plain part, lines joined by CRLF, without a final line ending. */
export function humanReadable(report: DeliveryReport, originalSubject: string | null): string {
  const lines: string[] = [`This is the mail system at ${report.reportingMta}.`, '']
  if (originalSubject !== null && originalSubject.trim() !== '') {
    lines.push(...wrap(`About your message with the subject: ${originalSubject.trim()}`), '')
  }
  for (const action of ORDER) {
    const group = report.recipients.filter((r) => r.action === action)
    if (group.length === 0) continue
    lines.push(...wrap(EXPLAIN[action].heading), '')
    for (const r of group) lines.push(`  <${r.finalRecipient}>`, ...reasonOf(r), '')
    lines.push(...wrap(EXPLAIN[action].advice), '')
  }
  lines.push(
    ...wrap(
      'The technical details follow in a machine-readable part (message/delivery-status); ' +
        'the last part holds the message or its headers.',
    ),
  )
  return lines.join('\r\n')
}
