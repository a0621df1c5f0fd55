// The content of one RFC 3464 delivery status notification, before it is written.
import type { ReportAction } from './decision'

/** One per-recipient group (RFC 3464 §2.3). */
export interface DsnRecipient {
  /** The RCPT TO address as accepted (Final-Recipient, RFC 3461 §6.3(e)). */
  finalRecipient: string
  /** ORCPT as received (`addr-type;xtext`), or null: no Original-Recipient then (RFC 3461 §6.3(d), DSN-13). */
  originalRecipient: string | null
  action: ReportAction
  /** RFC 3463 status code (src/dsn/status.ts). */
  status: string
  /** The next hop's host name, when an attempt reached one (RFC 3461 §6.3(h)). */
  remoteMta: string | null
  /** A whole Diagnostic-Code value, `smtp; 550 5.1.1 ...` (RFC 3461 §6.3(i), AMB-40), or null. */
  diagnosticCode: string | null
  lastAttempt: Date | null
  /** Only with `delayed`: when the queue gives up. */
  willRetryUntil: Date | null
}

/** One message/delivery-status body (RFC 3464 §2.2). */
export interface DeliveryReport {
  /** This relay's host name (Reporting-MTA, RFC 3461 §6.3(b)). */
  reportingMta: string
  /** ENVID as received (xtext), or null when the message had none: no Original-Envelope-Id then (§6.3(a)). */
  envid: string | null
  /** When this relay accepted the message. */
  arrival: Date
  recipients: DsnRecipient[]
}

/** What of the original message a report returns (RFC 3461 §4.3, §6.2). */
export type ReturnedContent = { kind: 'headers'; text: string } | { kind: 'message'; text: string }
