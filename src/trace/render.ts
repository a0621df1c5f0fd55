// What `mtrk-trace` prints: a results table (one row per recipient), CSV (RFC 4180), JSON, the detail of one
// message, and the summary. Pure.
import type { StoredRecipient } from '../model/records'
import { asciiLower, type TracedMessage } from '../model/trace'
import { TRACE_OUTCOMES, type TraceQuery } from '../model/trace-query'
import type { RetentionReport } from '../store/retention'
import type { TracePage, TraceSummary } from '../store/trace'
import type { Action } from '../tsn/types'

/** One recipient of one message: a line of the results table. */
export interface TraceRow {
  /** ISO 8601, UTC, seconds: when the message arrived. */
  time: string
  queueId: string
  from: string
  to: string
  state: Action
  status: string
  nextHop: string
  /** The last attempt's reply: code and text, or what Haraka said when no next hop answered. */
  lastReply: string
}

const iso = (ms: number | null) => (ms === null ? '' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z'))

const lastReply = (r: StoredRecipient) => {
  const a = r.history.at(-1)
  if (!a) return ''
  return [a.code, a.reply].filter((x) => x !== undefined).join(' ')
}

/** The rows of a page: the recipients the query's recipient keys and outcome filter select, in each message. */
export function traceRows(
  messages: readonly TracedMessage[],
  q: Pick<TraceQuery, 'keys' | 'outcomes'>,
): TraceRow[] {
  const to = q.keys.to === undefined ? null : asciiLower(q.keys.to)
  const domain = q.keys.toDomain === undefined ? null : asciiLower(q.keys.toDomain)
  return messages.flatMap((m) =>
    m.recipients
      .filter((r) => {
        const address = asciiLower(r.address)
        if (to !== null && address !== to) return false
        if (domain !== null && address.slice(address.lastIndexOf('@') + 1) !== domain) return false
        return q.outcomes === null || q.outcomes.includes(r.action)
      })
      .sort((a, b) => a.address.localeCompare(b.address))
      .map((r) => ({
        time: iso(m.arrival),
        queueId: m.txn,
        from: m.from === '' ? '<>' : m.from,
        to: r.address,
        state: r.action,
        status: r.status,
        nextHop: r.remoteMta ?? '',
        lastReply: lastReply(r),
      })),
  )
}

const COLUMNS: ReadonlyArray<[keyof TraceRow, string]> = [
  ['time', 'TIME'],
  ['queueId', 'QUEUE ID'],
  ['from', 'FROM'],
  ['to', 'TO'],
  ['state', 'STATE'],
  ['status', 'STATUS'],
  ['nextHop', 'NEXT HOP'],
  ['lastReply', 'LAST REPLY'],
]

/** Stored text made safe for a terminal: control characters (a NUL in a decoded ENVID, escapes) shown as `?`. */
const clean = (s: string) => s.replace(/[\u0000-\u001f\u007f]/g, '?')

/** Aligned columns, no trailing blanks; control characters in stored text are shown as `?`. */
export function table(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const all = [header, ...rows].map((r) => r.map(clean))
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? '').length)))
  return all
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join('  ')
        .trimEnd(),
    )
    .join('\n')
    .concat('\n')
}

/** RFC 4180: every field quoted when it holds a comma, quote or line break; CRLF line ends. */
export function csv(header: readonly string[], rows: ReadonlyArray<readonly string[]>): string {
  const field = (s: string) => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s)
  return [header, ...rows]
    .map((r) => r.map(field).join(','))
    .join('\r\n')
    .concat('\r\n')
}

export function renderRows(rows: readonly TraceRow[], format: 'table' | 'csv'): string {
  const header = COLUMNS.map(([, h]) => (format === 'csv' ? h.toLowerCase().replace(' ', '_') : h))
  const cells = rows.map((r) => COLUMNS.map(([k]) => r[k]))
  return format === 'csv' ? csv(header, cells) : table(header, cells)
}

/** The page as JSON: the messages with every field and the cursor of the next page. */
export function renderPageJson(page: TracePage): string {
  return `${JSON.stringify(page, null, 2)}\n`
}

/**
 * One message: what was received, then each recipient's state and its attempts, oldest first. `now` (ms) tells
 * a retry limit still ahead ("will retry until") from one passed.
 */
export function renderDetail(m: TracedMessage, now: number): string {
  const lines = [
    `Queue id:      ${m.queueIds.join(' ')}`,
    `Arrival:       ${iso(m.arrival)}`,
    `From:          ${m.from === '' ? '<>' : clean(m.from)}`,
    `Message-ID:    ${m.messageId === null ? '(none)' : clean(m.messageId)}`,
    `ENVID:         ${m.envid === null ? '(none)' : clean(m.envid)}`,
    `MTRK:          ${m.tracked ? 'yes (answerable over MTQP)' : 'no'}`,
    `Client:        ${m.clientIp ?? '?'} (HELO ${m.helo === null ? '?' : clean(m.helo)})`,
    `Reporting-MTA: ${m.reportingMta}`,
  ]
  for (const r of [...m.recipients].sort((a, b) => a.address.localeCompare(b.address))) {
    lines.push(
      '',
      clean(
        `To: ${r.address}${r.orcpt ? `  (ORCPT ${r.orcpt})` : ''}${r.notify ? `  NOTIFY=${r.notify}` : ''}`,
      ),
    )
    lines.push(`  state ${r.action} ${r.status}${r.remoteMta ? ` via ${r.remoteMta}` : ''}`)
    if (r.willRetryUntil !== null)
      lines.push(`  ${r.willRetryUntil > now ? 'will retry' : 'retried'} until ${iso(r.willRetryUntil)}`)
    const rows = r.history.map((a) => [
      iso(a.at),
      a.action,
      a.status,
      a.host ?? '',
      [a.code, a.reply].filter(Boolean).join(' '),
    ])
    if (rows.length === 0) lines.push('  no delivery attempt yet')
    else
      lines.push(
        ...table(
          ['  WHEN', 'STATE', 'STATUS', 'HOST', 'REPLY'],
          rows.map((c) => [`  ${c[0]}`, ...c.slice(1)]),
        )
          .trimEnd()
          .split('\n'),
      )
  }
  return `${lines.join('\n')}\n`
}

/** The summary: one line per hour with messages, then their recipients per state; a total line. */
export function renderSummary(s: TraceSummary, format: 'table' | 'csv'): string {
  const header = ['HOUR', 'MESSAGES', ...TRACE_OUTCOMES.map((a) => a.toUpperCase())]
  const line = (label: string, c: TraceSummary['total']) => [
    label,
    String(c.messages),
    ...TRACE_OUTCOMES.map((a) => String(c.recipients[a] ?? 0)),
  ]
  const rows = [...s.hours.map((h) => line(iso(h.start), h)), line('total', s.total)]
  return format === 'csv'
    ? csv(
        header.map((h) => h.toLowerCase()),
        rows,
      )
    : table(header, rows)
}

/** What `mtrk-trace retention` did, or would do in a dry run: one count a line. */
export function renderRetention(
  run: { dryRun: boolean; maxRetention: number; queuedGrace: number },
  r: RetentionReport,
): string {
  const would = run.dryRun ? 'would be ' : ''
  const lines: Array<[string, number]> = [
    ['keys examined', r.keys],
    [`keys ${would}shortened`, r.keysShortened],
    [`keys ${would}removed (nothing left to keep)`, r.keysRemoved],
    ['keys skipped (unreadable, or changing throughout)', r.keysSkipped],
    ['records examined', r.records],
    [`records ${run.dryRun ? 'that would expire' : 'now expiring'} sooner`, r.recordsShortened],
    ['recipients kept longer: still queued (RFC 3885 3.1)', r.recipientsQueued],
  ]
  const head = `${run.dryRun ? 'Dry run, nothing changed: ' : ''}retention at most ${run.maxRetention} s from arrival; queued recipients until their give-up time + ${run.queuedGrace} s\n`
  const width = Math.max(...lines.map(([what]) => what.length))
  return head + lines.map(([what, n]) => `${what.padEnd(width)}  ${n}\n`).join('')
}
