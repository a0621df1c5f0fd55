// Shared test data for the tsn module: TV-7's report and RFC 3887 example transcripts.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { RecipientStatus, TrackingStatus } from '../../src/tsn/types'

/** The message/tracking-status of TV-7, written with utcOffsetMinutes -300. */
export function tv7Status(): TrackingStatus {
  return {
    originalEnvelopeId: '1@h.example.com',
    reportingMta: { type: 'dns', value: 'mx.example.net' },
    arrivalDate: new Date('2001-01-01T20:15:15Z'),
    recipients: [
      {
        originalRecipient: { type: 'rfc822', value: 'u@example.net' },
        finalRecipient: { type: 'rfc822', value: 'u@example.net' },
        action: 'transferred',
        status: '2.4.0',
        remoteMta: { type: 'dns', value: 'mx2.example.net' },
        lastAttemptDate: new Date('2001-01-01T20:16:00Z'),
      },
    ],
  }
}

export { TV7_BODY } from '../fixtures/tv7'

/** The field lines of TV-7's per-message block and of its recipient group, as tv7Status() writes them. */
export const TV7_MESSAGE = [
  'Original-Envelope-Id: 1@h.example.com',
  'Reporting-MTA: dns; mx.example.net',
  'Arrival-Date: Mon, 1 Jan 2001 15:15:15 -0500',
]
export const TV7_RECIPIENT = [
  'Original-Recipient: rfc822; u@example.net',
  'Final-Recipient: rfc822; u@example.net',
  'Action: transferred',
  'Status: 2.4.0',
  'Remote-MTA: dns; mx2.example.net',
  'Last-Attempt-Date: Mon, 1 Jan 2001 15:16:00 -0500',
]

/** A TrackingStatus with one recipient, the recipient changed by `patch`. */
export function withRecipient(patch: Partial<RecipientStatus>): TrackingStatus {
  const ts = tv7Status()
  return { ...ts, recipients: [{ ...ts.recipients[0]!, ...patch }] }
}

/**
 * The data of the first TRACK reply in an RFC 3887 example transcript under fixtures/: the `S:` lines after
 * `+OK+` up to the `.` line, un-dot-stuffed (MTQP-7) as an MTQP client hands them to the reader.
 */
export function firstTrackReply(name: string): string {
  const transcript = readFileSync(join(__dirname, 'fixtures', name), 'utf8')
  const server = transcript
    .split('\n')
    .filter((line) => line.startsWith('S:'))
    .map((line) => line.replace(/^S: ?/, ''))
  const start = server.findIndex((line) => line.startsWith('+OK+')) + 1
  const end = server.indexOf('.', start)
  return server
    .slice(start, end)
    .map((line) => (line.startsWith('.') ? line.slice(1) : line))
    .join('\r\n')
}
