// Aliases, forwarding and lists (RFC 3885 §3.3, §4.2, RFC 3461 §5.2.7): what a received recipient became once every
// rcpt hook ran (Haraka's aliases plugin replaces it in transaction.rcpt_to). Pure: it only updates the note.
import { recipientMatches } from '../config/kinds'
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

/** What a redirection made of a received recipient. */
export type Redirection =
  /** Itself, or nothing (dropped): nothing to note. */
  | 'none'
  /** One other address, an ordinary hop tracked through (MTRK-18, RFC 3461 §5.2.7.2). */
  | 'hop'
  /** One other address, and the recipient is one of `[main] final_aliases`: final delivery here (MTRK-22, TSN-25). */
  | 'final'
  /** Several addresses (MTRK-19, MTRK-20). */
  | 'expansion'

/** @param finalAliases `[main] final_aliases`, lower-cased entries (`*`, `user@domain`, `@domain`), or null */
export function redirectionOf(
  received: Addressed,
  products: readonly Addressed[],
  finalAliases: ReadonlySet<string> | null,
): Redirection {
  if (products.length > 1) return 'expansion'
  const [only] = products
  if (!only || only.key === received.key) return 'none'
  return finalAliases !== null && recipientMatches(finalAliases, received.key) ? 'final' : 'hop'
}

/**
 * Records in the note what `received` became (`redirectionOf`): an ordinary hop carries the received recipient's
 * ORCPT and NOTIFY on; an expansion is reported `expanded` (TSN-19) and a final alias `delivered` (RFC 3886 §4.2(b)),
 * and their products, like a list's members (RFC 3461 §5.2.7.4), get neither the certifier nor anything else derived
 * from the original, except a product in `earlier` (the keys of the recipients before `received` in rcpt_to) that is
 * not itself a member: the sender named it too, so it stays the sender's own recipient.
 */
export function noteRedirection(
  note: TrackingNote,
  received: Addressed,
  products: readonly Addressed[],
  finalAliases: ReadonlySet<string> | null,
  earlier: ReadonlySet<string> = new Set(),
): void {
  const own = recipientNote(note, received.key)
  const orcpt = own?.orcpt ?? null
  const notify = own?.notify ?? null
  const redirection = redirectionOf(received, products, finalAliases)
  const [only] = products
  if (redirection === 'hop' && only) {
    // RFC 3461 §5.2.1(d), §5.2.7.2: ORCPT keeps naming the address the sender used.
    note.rcpts[only.key] = { orcpt: orcpt ?? orcptFor(received.address), notify }
    delete note.rcpts[received.key]
  } else if (redirection === 'final' || redirection === 'expansion') {
    note.rcpts[received.key] =
      redirection === 'final'
        ? { orcpt, notify, delivered: received.address }
        : { orcpt, notify, expanded: received.address }
    for (const p of products) {
      // An address the sender also named itself stays the sender's recipient, tracked and reported as its own.
      const own = earlier.has(p.key) && note.rcpts[p.key]?.memberOf === undefined
      if (p.key !== received.key && !own)
        note.rcpts[p.key] = { orcpt: null, notify: null, memberOf: received.key }
    }
  }
}
