// One outbound SMTP/LMTP connection as this plugin sees it: the command lines Haraka writes and the reply lines the
// next hop sends. Pure (no socket): it learns the next hop's extensions, adds parameters to MAIL FROM and RCPT TO, and
// records what the delivery hooks need to know about the hop afterwards.
import { type MailForwarding, type NextHop, NO_EXTENSIONS } from './forwarding'

export interface Reply {
  code: number
  /** The text of every line after the code, joined by a space (an enhanced status code, if any, leads it). */
  text: string
}

/** What happened on one connection to a next hop. */
export interface HopRecord {
  /** Remote-MTA: the next hop's host name (AMB-30). */
  host: string
  /** The extensions of the last EHLO/LHLO reply; none after HELO or STARTTLS until the next EHLO. */
  hop: NextHop
  /** MAIL FROM carried MTRK (TSN-18). */
  mtrkSent: boolean
  /** The last complete reply. */
  lastReply: Reply | null
  /** The reply to the end of the message data (for LMTP, the first recipient's). */
  dataReply: Reply | null
}

/** Supplies the parameters of one message; absent when the message has nothing to forward. */
export interface Forwarder {
  mail(hop: NextHop): MailForwarding
  /** @param path the forward-path exactly as Haraka wrote it, angle brackets included */
  rcpt(path: string, hop: NextHop): string[]
}

/** The extensions in the lines of a 250 reply to EHLO/LHLO; the first line is the greeting, not a keyword. */
export function ehloExtensions(lines: readonly string[]): NextHop {
  const keywords = new Set(lines.slice(1).map((l) => l.trim().split(/\s+/)[0]?.toUpperCase()))
  return { mtrk: keywords.has('MTRK'), dsn: keywords.has('DSN') }
}

/** Appends parameters to a command line that ends in CRLF. */
export function withParams(line: string, params: readonly string[]): string {
  if (params.length === 0) return line
  return line.replace(/\r?\n$/, (eol) => ` ${params.join(' ')}${eol}`)
}

const REPLY_LINE = /^(\d{3})([ -]?)(.*)$/
const MAIL = /^MAIL FROM:/i
const RCPT = /^RCPT TO:/i
const EHLO = /^(?:EHLO|LHLO)(?:\s|$)/i
// RFC 3207 §4.2: what was learned before STARTTLS is forgotten; a HELO session has no extensions.
const FORGET = /^(?:HELO|STARTTLS)(?:\s|$)/i
const DOT = /^\.\r?\n$/

export class HopSession {
  readonly record: HopRecord
  /** The next complete reply answers EHLO/LHLO. */
  private awaitingEhlo = false
  /** The lines of a multi-line reply read so far. */
  private lines: string[] = []
  private afterDot = false

  constructor(
    host: string,
    private readonly forwarder: Forwarder | null,
  ) {
    this.record = { host, hop: NO_EXTENSIONS, mtrkSent: false, lastReply: null, dataReply: null }
  }

  /** A command line Haraka is about to write; returns the line to write instead. */
  command(line: string): string {
    if (EHLO.test(line)) {
      this.record.hop = NO_EXTENSIONS
      this.awaitingEhlo = true
    } else if (FORGET.test(line)) {
      this.record.hop = NO_EXTENSIONS
      this.awaitingEhlo = false
    } else if (MAIL.test(line)) {
      const f = this.forwarder?.mail(this.record.hop)
      this.record.mtrkSent = f?.mtrkSent ?? false
      return withParams(line, f?.params ?? [])
    } else if (RCPT.test(line) && this.forwarder) {
      // Haraka writes `RCPT TO:<path>` and no parameter of its own (hmail.js:880, :896).
      const path = line.slice('RCPT TO:'.length).replace(/\r?\n$/, '')
      return withParams(line, this.forwarder.rcpt(path, this.record.hop))
    } else if (DOT.test(line)) {
      this.afterDot = true
    }
    return line
  }

  /** A reply line from the next hop, with or without its line ending. */
  reply(raw: string): void {
    const m = REPLY_LINE.exec(raw.replace(/\r?\n$/, ''))
    if (!m) return
    this.lines.push(m[3] ?? '')
    if (m[2] === '-') return
    const lines = this.lines
    this.lines = []
    const reply = { code: Number(m[1]), text: lines.join(' ') }
    if (this.awaitingEhlo) {
      if (reply.code === 250) this.record.hop = ehloExtensions(lines)
      this.awaitingEhlo = false
    }
    this.record.lastReply = reply
    if (this.afterDot) {
      this.record.dataReply = reply
      this.afterDot = false
    }
  }
}
