// Tracking reports and new-message set-ups as text for people. Every string a server chose goes through printable()
// so a hostile answer cannot drive the terminal. Pure: the time zone is a parameter.
import { formatDateTime } from '../tsn/date'
import type { TypedValue } from '../tsn/types'
import type { Hop, HopEvent } from './follow'
import type { NewTracking } from './new-tracking'
import type { RecipientState, TimelineStep } from './timeline'
import type { TrackingReport } from './track'
import { addressText, printable, type ServerInfo, serverLabel } from './types'

export interface RenderOptions {
  /** Minutes east of UTC for the dates shown. Default 0. */
  utcOffsetMinutes?: number
  /** What was asked, for the heading: a redacted URI or a server name (URI-5: never the secret unless asked). */
  asked?: string
}

const STATE_TEXT: Readonly<Record<RecipientState, string>> = {
  delivered: 'delivered',
  relayed: 'relayed beyond tracking (passed to a mailer that does not track messages)',
  'in-transit': 'in transit',
  failed: 'failed',
  unknown: 'unknown',
}

/** An address for a terminal: decoded (addressText), then printable like any text a server chose. */
const address = (a: TypedValue) => printable(addressText(a))

export function renderReport(report: TrackingReport, opts: RenderOptions = {}): string {
  const date = (d: Date) => {
    const f = formatDateTime(d, opts.utcOffsetMinutes ?? 0)
    return f.ok ? f.value : d.toISOString()
  }
  const out: string[] = [
    `Message ${printable(report.envid)}${opts.asked === undefined ? '' : `, asked at ${opts.asked}`}`,
  ]
  if (report.recipients.length === 0) {
    out.push('', `Nothing is known: ${printable(report.failure?.reason ?? 'no server answered', 1000)}`)
    if (report.failure?.failure === 'noinfo') {
      out.push(
        'Check the envid and the secret; relays keep tracking data only for the timeout given when sending.',
      )
    }
  }
  for (const t of report.recipients) {
    out.push('', `${address(t.recipient)}: ${STATE_TEXT[t.state]}`)
    for (const [i, s] of t.steps.entries()) {
      out.push(...stepLines(s, i, t.steps[i - 1], t.recipient, report.hops, date))
    }
    out.push(`  Tracking stops: ${printable(t.end, 1000)}.`)
  }
  out.push('', 'Servers asked:')
  for (const hop of report.hops) out.push(`  ${hop.id + 1}. ${hopLine(hop)}`)
  out.push('', `State: ${STATE_TEXT[report.state]}`)
  return `${out.join('\n')}\n`
}

function stepLines(
  s: TimelineStep,
  i: number,
  previous: TimelineStep | undefined,
  recipient: TypedValue,
  hops: readonly Hop[],
  date: (d: Date) => string,
): string[] {
  const lines: string[] = []
  const as =
    address(s.finalRecipient).toLowerCase() === address(recipient).toLowerCase()
      ? ''
      : `, as ${address(s.finalRecipient)}`
  // MTQP-33: a second report in one server's answer is that server chaining to the next hop.
  const hop = hops[s.hop]
  const chained =
    previous !== undefined && previous.hop === s.hop && hop?.outcome.kind === 'answered'
      ? ` (chained by ${serverLabel(hop.outcome.server)})`
      : ''
  lines.push(`  ${i + 1}. ${printable(s.reportingMta.value)}  arrived ${date(s.arrivalDate)}${as}${chained}`)
  const comment = s.statusComment === undefined ? '' : ` (${printable(s.statusComment)})`
  lines.push(`     ${s.action.padEnd(12)}${printable(s.status)} ${s.statusText}${comment}`)
  const details: string[] = []
  if (s.remoteMta !== undefined) details.push(`to ${printable(s.remoteMta.value)}`)
  if (s.lastAttemptDate !== undefined) details.push(`last attempt ${date(s.lastAttemptDate)}`)
  if (s.willRetryUntil !== undefined) details.push(`retrying until ${date(s.willRetryUntil)}`)
  if (details.length > 0) lines.push(`     ${' '.repeat(12)}${details.join(', ')}`)
  if (s.diagnostic !== undefined) lines.push(`     ${' '.repeat(12)}said: ${printable(s.diagnostic)}`)
  return lines
}

function hopLine(hop: Hop): string {
  const o = hop.outcome
  const target = printable(hop.target.host)
  switch (o.kind) {
    case 'answered': {
      const reports = `${serverText(o.server)}: ${o.parts.length} report${o.parts.length === 1 ? '' : 's'}`
      // MTQPC-5: what of the answer could not be read is said, not silently dropped.
      return o.skipped === undefined
        ? reports
        : `${reports}; skipped: ${printable(o.skipped.join('; '), 1000)}`
    }
    case 'failed':
      return `${o.server === undefined ? target : serverText(o.server, false)}: no answer: ${printable(o.reason, 1000)}`
    case 'skipped':
      return `${target}: not asked: ${printable(o.reason)}`
  }
}

/**
 * One line of progress while hops answer (`mtqp track` on a terminal): the hop about to be asked, or how it settled.
 * `message` (1-based) prefixes the line when several messages are tracked at once.
 */
export function renderProgress(event: HopEvent, message?: number): string {
  const { hop } = event
  const prefix = `${message === undefined ? '' : `[${message}] `}${hop.id + 1}. `
  if (event.phase === 'done') return `${prefix}${hopLine(hop)}\n`
  const t = hop.target
  const port = t.kind === 'server' && t.port !== undefined ? `:${t.port}` : ''
  return `${prefix}asking ${printable(t.host)}${port} ...\n`
}

/** A server and how it was found; with `session`, also how the session was protected. */
function serverText(s: ServerInfo, session = true): string {
  if (s.via === 'local') return `${printable(s.name)} (this server's own store)`
  const how = {
    direct: 'as given',
    srv: `SRV ${s.srvName ?? ''}`,
    address: 'no SRV record, MTQP port',
    local: '',
  }[s.via]
  const address = s.address === s.name || s.address === '' ? '' : ` ${s.address}`
  const tls =
    s.tls === null
      ? 'no TLS'
      : `${s.tls}${s.verified === true ? ', certificate verified' : ', certificate NOT verified'}`
  return `${printable(serverLabel(s))}${address} (${how}${session ? `; ${tls}` : ''})`
}

/** The set-up of a new tracked message, for the person about to send it. */
export function renderNewTracking(t: NewTracking): string {
  return `${[
    'Secret A (keep it private: whoever holds it can track the message):',
    `  ${t.secret}`,
    'ENVID (the unique envelope id; also what you track):',
    `  ${t.envid}`,
    'MAIL FROM parameters (the relay you submit to must advertise MTRK and DSN):',
    `  ${t.mailParameters}`,
    ...(t.uri === undefined
      ? ['Tracking URI: give --server HOST[:PORT], the relay you submit to, to get one.']
      : [
          'Tracking URI (holds the secret: keep it as private as the secret):',
          `  ${t.uri}`,
          'Track the message later with:',
          `  mtqp track '${t.uri}'`,
        ]),
  ].join('\n')}\n`
}
