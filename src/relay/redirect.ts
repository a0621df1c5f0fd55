// Aliases, forwarding and lists (RFC 3885 §3.3, RFC 3461 §5.2.7): what a received recipient became once every rcpt
// hook ran (Haraka's aliases plugin replaces it in transaction.rcpt_to). Pure: it only updates the note.
import { encodeUtf8AddrXtext } from '../esmtp/utf8-addr'
import { encodeXtext, isPrintableAscii } from '../esmtp/xtext'
import { recipientNote, type TrackingNote } from '../model/note'

export interface Addressed {
  key: string
  /** As received or produced (case preserved). */
  address: string
}

/**
 * The ORCPT naming an address: `rfc822;<xtext>` for printable US-ASCII (DSN-6), RFC 6533's `utf-8;<7-bit form>`
 * for an SMTPUTF8 address (AMB-39), which is valid xtext too.
 */
export function orcptFor(address: string): string {
  return isPrintableAscii(address)
    ? `rfc822;${encodeXtext(address)}`
    : `utf-8;${encodeUtf8AddrXtext(address)}`
}

/**
 * Records in the note what `received` became: itself (nothing to do), one other address (MTRK-18: an ordinary hop,
 * carrying the received recipient's ORCPT and NOTIFY), or several (MTRK-19, MTRK-20: the received recipient is
 * reported `expanded`, and its products get neither the certifier nor anything else derived from the original).
 */
export function noteRedirection(
  note: TrackingNote,
  received: Addressed,
  products: readonly Addressed[],
): void {
  const own = recipientNote(note, received.key)
  const [only] = products
  if (products.length === 1 && only && only.key !== received.key) {
    // RFC 3461 §5.2.1(d), §5.2.7.2: ORCPT keeps naming the address the sender used.
    note.rcpts[only.key] = { orcpt: own?.orcpt ?? orcptFor(received.address), notify: own?.notify ?? null }
    delete note.rcpts[received.key]
  } else if (products.length > 1) {
    note.rcpts[received.key] = {
      orcpt: own?.orcpt ?? null,
      notify: own?.notify ?? null,
      expanded: received.address,
    }
    for (const p of products) {
      if (p.key !== received.key) note.rcpts[p.key] = { orcpt: null, notify: null, memberOf: received.key }
    }
  }
}
