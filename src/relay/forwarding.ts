// Which MAIL/RCPT parameters go on to a next hop (RFC 3885 §3.3, RFC 3461 §5.2). Pure: the clock is passed in.
import { fromExpansion, type RecipientNote, type TrackingNote } from '../model/note'

/** What a next hop advertised in its EHLO/LHLO reply, on the connection that carries the message. */
export interface NextHop {
  mtrk: boolean
  dsn: boolean
}

export const NO_EXTENSIONS: NextHop = { mtrk: false, dsn: false }

export interface MailForwarding {
  /** `KEYWORD=value` parameters to append to MAIL FROM, in this order. */
  params: string[]
  /** The MTRK parameter is among them: the next hop can be asked about the message (TSN-18). */
  mtrkSent: boolean
}

/** Seconds of retention left to pass on: the effective timeout minus the whole seconds spent here (MTRK-12). */
export function remainingTimeout(retention: number, arrival: number, now: number): number {
  return retention - Math.floor(Math.max(0, now - arrival) / 1000)
}

/** RFC 3885 §2(4): a server advertising MTRK supports ENVID and ORCPT, with or without DSN (AMB-21). */
const takesEnvelopeIds = (hop: NextHop) => hop.dsn || hop.mtrk

/**
 * The MAIL FROM parameters for a next hop.
 * @param withhold the delivery includes addresses of an expansion, which must get nothing derived from the original
 * envelope (MTRK-19, MTRK-20, RFC 3461 §5.2.7.1(b), §5.2.7.3(a)); the envelope is shared, so nobody on it does.
 */
export function mailParams(note: TrackingNote, hop: NextHop, now: number, withhold: boolean): MailForwarding {
  const params: string[] = []
  if (withhold) return { params, mtrkSent: false }
  // MTRK-16, DSN-10: exactly as received; DSN-11, AMB-22: nothing to a hop that speaks neither extension.
  if (note.envid !== null && takesEnvelopeIds(hop)) params.push(`ENVID=${note.envid}`)
  if (note.ret !== null && hop.dsn) params.push(`RET=${note.ret}`)
  let mtrkSent = false
  // MTRK-15: only to a hop that advertised MTRK; RFC 3885 §3.2: never without the ENVID pushed above.
  if (note.track && note.envid !== null && hop.mtrk) {
    const remaining = remainingTimeout(note.track.retention, note.arrival ?? now, now)
    // MTRK-13, AMB-23: an expired timeout ends the tracking path here. MTRK-17: B unchanged.
    if (remaining > 0) {
      params.push(`MTRK=${note.track.certifier}:${remaining}`)
      mtrkSent = true
    }
  }
  return { params, mtrkSent }
}

/** The RCPT TO parameters for one recipient, from its entry in the note (none when it has no entry). */
export function rcptParams(rcpt: RecipientNote | undefined, hop: NextHop): string[] {
  const params: string[] = []
  // RFC 3461 §5.2.7.1(b): an expansion's addresses carry nothing derived from the original recipient.
  if (!rcpt || fromExpansion(rcpt)) return params
  if (rcpt.notify !== null && hop.dsn) params.push(`NOTIFY=${rcpt.notify}`)
  if (rcpt.orcpt !== null && takesEnvelopeIds(hop)) params.push(`ORCPT=${rcpt.orcpt}`)
  return params
}
