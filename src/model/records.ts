// What the tracking store keeps per message and per recipient (HRK-6), and the writes that change it. Pure data,
// JSON-serialisable.
import type { Action } from '../tsn/types'

/** One delivery attempt or state change of a recipient, kept in a bounded history for the admin view. */
export interface Attempt {
  /** Idempotency key: the same outcome written twice is recorded once. */
  id: string
  /** ms since the epoch */
  at: number
  action: Action
  status: string
  /** Host name of the next hop that was tried, when one was reached. */
  host?: string
  /** SMTP reply code and text from the next hop or queue, when there was one. */
  code?: string
  reply?: string
}

export interface StoredRecipient {
  /** The RCPT TO address as accepted (Final-Recipient, case preserved). */
  address: string
  /** The ORCPT parameter as received (`addr-type;xtext`), or null when none was given (AMB-14). */
  orcpt: string | null
  /** The NOTIFY parameter as received, or null. */
  notify: string | null
  action: Action
  status: string
  /** Host name of the next hop (Remote-MTA, AMB-30), once an attempt reached one. */
  remoteMta: string | null
  /** ms since the epoch of the last delivery attempt, or null when none was made (TSN-14). */
  lastAttempt: number | null
  /** ms since the epoch when the queue gives up, while the message is queued (TSN-15). */
  willRetryUntil: number | null
  /** ms since the epoch until which this recipient's data must be kept (MTRK-10). */
  keepUntil: number
  /** ms since the epoch of the newest event applied, so a late write of an older event cannot undo it. */
  updated: number
  history: Attempt[]
}

export interface StoredMessage {
  /** Haraka transaction uuid: one accepted message. */
  txn: string
  /** The ENVID as received (xtext). */
  envidXtext: string
  /** The ENVID xtext-decoded (AMB-7, AMB-8). */
  envid: string
  /** The MTRK certifier: base64 of the 20-octet SHA-1 hash B, unpadded (SEC-4). Never the secret A. */
  certifier: string
  /** ms since the epoch when this MTA accepted the message (Arrival-Date). */
  arrival: number
  /** This MTA's host name (Reporting-MTA). */
  reportingMta: string
  /** The timeout the sender asked for, in seconds, or null (MTRK-7). */
  requestedTimeout: number | null
  /** The retention in effect, in seconds from arrival (MTRK-8, MTRK-9). */
  retention: number
  /** The RET parameter as received, or null. */
  ret: string | null
  recipients: StoredRecipient[]
}

/** A message's record without its recipients: what a write carries and what the store decodes per message. */
export type MessageHeader = Omit<StoredMessage, 'recipients'>

/** The fields of a recipient an event may change. */
export type RecipientPatch = Partial<
  Pick<StoredRecipient, 'action' | 'status' | 'remoteMta' | 'lastAttempt' | 'willRetryUntil' | 'keepUntil'>
>

export interface RecipientEvent {
  /** ms since the epoch the event happened; orders events (a late older event never undoes a newer one). */
  at: number
  patch: RecipientPatch
  attempt: Attempt
}

export interface RecipientWrite {
  /** The recipient's key within the message: its address with the domain lower-cased. */
  key: string
  /** The record to create when the store has none yet (the write may arrive before the acceptance record). */
  base: StoredRecipient
  event?: RecipientEvent
}

export interface RecordWrite {
  message: MessageHeader
  recipients: RecipientWrite[]
  /** ms since the epoch */
  now: number
}
