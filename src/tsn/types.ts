// The data model of RFC 3886 message/tracking-status, shared by the store, the MTQP server and the client.

/** RFC 3886 §3.3.3: RFC 3464's action values plus `transferred` and `opaque` (ERR-3886-4). */
export const ACTIONS = [
  'failed',
  'delayed',
  'delivered',
  'relayed',
  'expanded',
  'transferred',
  'opaque',
] as const
export type Action = (typeof ACTIONS)[number]

/** RFC 3464 §2.3.3: the action values of a delivery status notification. */
export const DSN_ACTIONS = ['failed', 'delayed', 'delivered', 'relayed', 'expanded'] as const
export type DsnAction = (typeof DSN_ACTIONS)[number]

export function isAction(value: string): value is Action {
  return (ACTIONS as readonly string[]).includes(value)
}

/** A `type; value` pair as in Reporting-MTA, Remote-MTA, Original-Recipient and Final-Recipient. */
export interface TypedValue {
  type: string
  value: string
}

/** An extension field (TSN-16), kept verbatim. */
export interface ExtensionField {
  name: string
  value: string
}

/** One per-recipient group of a message/tracking-status part (RFC 3886 §3.3). */
export interface RecipientStatus {
  originalRecipient: TypedValue
  finalRecipient: TypedValue
  action: Action
  /** Enhanced status code, `class.subject.detail` (RFC 3463). */
  status: string
  /** Optional parenthesised comment after the status code, without the parentheses. */
  statusComment?: string
  remoteMta?: TypedValue
  lastAttemptDate?: Date
  willRetryUntil?: Date
  extensions?: ExtensionField[]
}

/** One message/tracking-status body part: the report of one reporting MTA (RFC 3886 §3.2). */
export interface TrackingStatus {
  /** The xtext-decoded ENVID, without angle brackets (AMB-8). */
  originalEnvelopeId: string
  reportingMta: TypedValue
  arrivalDate: Date
  extensions?: ExtensionField[]
  recipients: RecipientStatus[]
}

/** One per-recipient group of a message/delivery-status (RFC 3464 §2.3), as read. */
export interface DeliveryRecipientStatus {
  originalRecipient?: TypedValue
  finalRecipient: TypedValue
  action: DsnAction
  /** Enhanced status code, `class.subject.detail` (RFC 3463). */
  status: string
  statusComment?: string
  remoteMta?: TypedValue
  /** `diagnostic-type; text`, the text verbatim (e.g. `smtp; 550 5.1.1 No such user`). */
  diagnosticCode?: TypedValue
  lastAttemptDate?: Date
  finalLogId?: string
  willRetryUntil?: Date
  extensions?: ExtensionField[]
}

/** One message/delivery-status body (RFC 3464 §2.2), as read. */
export interface DeliveryStatus {
  /** The ENVID as the report writes it (xtext-decoded, RFC 3461 §6.3(a)). */
  originalEnvelopeId?: string
  reportingMta: TypedValue
  dsnGateway?: TypedValue
  receivedFromMta?: TypedValue
  arrivalDate?: Date
  extensions?: ExtensionField[]
  recipients: DeliveryRecipientStatus[]
}
