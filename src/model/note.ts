// What the plugin keeps in transaction.notes.mtrk. Haraka persists transaction notes into the outbound queue file
// (HRK-10), so this is also what survives a restart for relaying; it is re-checked when read back.

/** The parts of an envelope address the model reads (Haraka's Address has them; src/haraka adds the rest). */
export interface EnvelopeAddress {
  user: string
  /** The domain in lower-case ASCII, or empty for a bare local part (postmaster). */
  host: string
  /** As received (case preserved). */
  readonly address: string
}

/** A transaction's notes: Haraka's transaction.notes, or the copy kept in a queue file. */
export type Notes = Record<string, unknown>

export interface RecipientNote {
  /**
   * ORCPT as received (DSN-10), or null. On the one address a single-recipient alias produced: the received
   * recipient's ORCPT, or one naming the received address (RFC 3461 §5.2.1(d), MTRK-18).
   */
  orcpt: string | null
  /** NOTIFY as received, or null. */
  notify: string | null
  /** On a received recipient a redirection expanded into several addresses: its address as received (TSN-19). */
  expanded?: string
  /**
   * On a received recipient whose alias to one address is final delivery here ([main] final_aliases, MTRK-22,
   * TSN-25): its address as received. The address it leads to is handled as a list member (RFC 3461 §5.2.7.4).
   */
  delivered?: string
  /**
   * On an address an expansion or a final alias produced: the received recipient's key. Never tracked nor given the
   * certifier.
   */
  memberOf?: string
}

export interface TrackingNote {
  v: 1
  /** ENVID as received (xtext), for DSN forwarding (DSN-10). */
  envid: string | null
  /** RET as received. */
  ret: string | null
  /** Present when the message asked for tracking with a valid MTRK. */
  track: {
    /**
     * Unpadded base64 of the 20-octet B: the certifier as received when it was unpadded (strict decoding allows one
     * spelling), and the form to forward (MTRK-17, AMB-2).
     */
    certifier: string
    /** The requested timeout (MTRK-7), or null. */
    timeout: number | null
    /** The retention in effect, seconds (MTRK-8, MTRK-9). */
    retention: number
    /** The decoded envid: the store's lookup key (AMB-7). */
    envid: string
  } | null
  /** ms since the epoch when the message was received (end of DATA): Arrival-Date, and the base of the timeout. */
  arrival: number | null
  /** By recipient key (rcptKey). Only recipients that sent NOTIFY or ORCPT, or were redirected, have an entry. */
  rcpts: Record<string, RecipientNote>
}

const NOTE = 'mtrk'

/** The key of a recipient in notes and in the store: user@host with the host in lower-case ASCII. */
export function rcptKey(addr: EnvelopeAddress): string {
  return addr.host ? `${addr.user}@${addr.host}` : addr.user
}

const isStrOrNull = (v: unknown) => v === null || typeof v === 'string'

function isTrack(v: unknown): v is TrackingNote['track'] {
  if (v === null) return true
  if (typeof v !== 'object') return false
  const t = v as Record<string, unknown>
  return (
    typeof t.certifier === 'string' &&
    typeof t.envid === 'string' &&
    typeof t.retention === 'number' &&
    (t.timeout === null || typeof t.timeout === 'number')
  )
}

/** The note of a transaction or queued message, or null when there is none or it is not one we wrote. */
export function readNote(notes: Notes | null | undefined): TrackingNote | null {
  const n = notes?.[NOTE]
  if (typeof n !== 'object' || n === null) return null
  const o = n as Record<string, unknown>
  if (o.v !== 1 || !isStrOrNull(o.envid) || !isStrOrNull(o.ret) || !isTrack(o.track)) return null
  if (
    !(o.arrival === null || typeof o.arrival === 'number') ||
    typeof o.rcpts !== 'object' ||
    o.rcpts === null
  ) {
    return null
  }
  return n as TrackingNote
}

const isOptStr = (v: unknown) => v === undefined || typeof v === 'string'

/** A recipient's entry, or undefined when it has none or it is malformed (a queue file is input like any other). */
export function recipientNote(note: TrackingNote, key: string): RecipientNote | undefined {
  const r: unknown = Object.hasOwn(note.rcpts, key) ? note.rcpts[key] : undefined
  if (typeof r !== 'object' || r === null) return undefined
  const o = r as Record<string, unknown>
  if (
    !isStrOrNull(o.orcpt) ||
    !isStrOrNull(o.notify) ||
    !isOptStr(o.expanded) ||
    !isOptStr(o.delivered) ||
    !isOptStr(o.memberOf)
  )
    return undefined
  return r as RecipientNote
}

/**
 * Whether an address in rcpt_to came out of an expansion or a final alias (or is the expanded address itself, when it
 * was among the results): it is not tracked and gets nothing derived from the original envelope (MTRK-19, MTRK-20,
 * MTRK-22, TSN-20).
 */
export function fromExpansion(r: RecipientNote | undefined): boolean {
  return (
    r !== undefined && (r.memberOf !== undefined || r.expanded !== undefined || r.delivered !== undefined)
  )
}

/**
 * Whether an address in rcpt_to is where a final alias sent the message: reports to the sender about it would
 * disclose it (RFC 3461 §5.2.7.4, TSN-25).
 */
export function forwardedInConfidence(note: TrackingNote, key: string): boolean {
  const from = recipientNote(note, key)?.memberOf
  return from !== undefined && recipientNote(note, from)?.delivered !== undefined
}

/** The transaction's note, created empty when missing. */
export function ensureNote(notes: Notes): TrackingNote {
  const existing = readNote(notes)
  if (existing) return existing
  const note: TrackingNote = { v: 1, envid: null, ret: null, track: null, arrival: null, rcpts: {} }
  notes[NOTE] = note
  return note
}
