// MTQP line framing: bytes in, lines out. Pure (no sockets, no clock); shared by the server's command reader and the
// client's ResponseDecoder so both sides frame the same way.
//
// Decisions:
// - CRLF ends a line (MTQP-4, MTQP-5). A bare LF is accepted as a line end too (lenient: hand-typed sessions and
//   sloppy peers send it, and nothing in MTQP is ambiguous because of it); the item says which ending was seen
//   (`eol`) so a strict caller can refuse it.
// - A CR that is not directly followed by LF is an ordinary octet of the line. It is a control character, so the
//   line is flagged `printable: false` and the server answers -BAD (MTQP-4). It never ends a line: treating it as
//   one would make "A\r" + "\nB" frame differently depending on where the chunk boundary falls.
// - A line with more than `maxLineOctets` (998) octets before its ending yields exactly one `overlong` item, as soon
//   as the excess is seen (so a server can answer or hang up before the line ends), and the rest of that line is
//   dropped up to the next LF. Then framing resumes. At most maxLineOctets + 1 octets are ever buffered (the +1 is a
//   CR whose LF has not arrived yet), whatever the input.
// - Octets are decoded as latin1: one char per octet, so nothing is lost and string length equals octet count.

/** MTQP-4 / MTQP-5: at most 998 octets before CRLF. */
export const MAX_LINE_OCTETS = 998

/** How many leading octets of an overlong line are kept in `head` (enough to recognise a verb or indicator). */
export const OVERLONG_HEAD_OCTETS = 32

export type FramedLine =
  | {
      kind: 'line'
      /** The line without its ending, one char per octet (latin1). */
      line: string
      /** True when every octet is VCHAR, SP or HTAB (MTQP-4: printable ASCII). */
      printable: boolean
      /** Which line ending was seen: CRLF, or a bare LF accepted leniently. */
      eol: 'crlf' | 'lf'
    }
  | {
      kind: 'overlong'
      /** The first few octets of the line (latin1), for resynchronising decoders; may hold client data. */
      head: string
    }

export interface LineDecoderOptions {
  /** Longest line accepted, in octets before the line ending. Default 998 (MTQP-4, MTQP-5). */
  maxLineOctets?: number
}

export class LineDecoder {
  readonly #max: number
  readonly #buf: Buffer
  #len = 0
  /** True while dropping the tail of an overlong line, up to its LF. */
  #discarding = false

  constructor(opts: LineDecoderOptions = {}) {
    const max = opts.maxLineOctets ?? MAX_LINE_OCTETS
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxLineOctets must be a positive integer')
    this.#max = max
    this.#buf = Buffer.alloc(max + 1)
  }

  /** Octets held for the line not yet complete. Never more than maxLineOctets + 1. */
  get bufferedBytes(): number {
    return this.#len
  }

  /** Frame a chunk; returns every line completed by it, in order. */
  push(chunk: Buffer): FramedLine[] {
    const out: FramedLine[] = []
    let pos = 0
    while (pos < chunk.length) {
      const lf = chunk.indexOf(0x0a, pos)
      const end = lf === -1 ? chunk.length : lf
      if (this.#discarding) {
        if (lf === -1) break
        this.#discarding = false
        pos = lf + 1
        continue
      }
      if (this.#len + (end - pos) > this.#max + 1) {
        // Even if the last octet were the CR of a CRLF, more than max octets precede it.
        out.push({ kind: 'overlong', head: this.#head(chunk, pos, end) })
        this.#len = 0
        if (lf === -1) {
          this.#discarding = true
          break
        }
        pos = lf + 1
        continue
      }
      chunk.copy(this.#buf, this.#len, pos, end)
      this.#len += end - pos
      if (lf === -1) break
      pos = lf + 1
      out.push(this.#takeLine())
    }
    return out
  }

  /**
   * Drop and return the octets of the line not yet complete, and forget any overlong line being skipped.
   * For STARTTLS (MTQP-24, MTQP-26): anything the peer sent in plaintext after the STARTTLS line must not be
   * processed once TLS starts. Note that lines already returned by push() after the STARTTLS line are the
   * caller's to drop; this only covers what push() has not framed yet.
   */
  discardBuffered(): Buffer {
    const rest = Buffer.from(this.#buf.subarray(0, this.#len))
    this.#len = 0
    this.#discarding = false
    return rest
  }

  #takeLine(): FramedLine {
    let n = this.#len
    let eol: 'crlf' | 'lf' = 'lf'
    if (n > 0 && this.#buf[n - 1] === 0x0d) {
      n--
      eol = 'crlf'
    }
    this.#len = 0
    if (n > this.#max) return { kind: 'overlong', head: this.#buf.toString('latin1', 0, this.#headLen()) }
    let printable = true
    for (let i = 0; i < n; i++) {
      const c = this.#buf[i]!
      if (c !== 0x09 && (c < 0x20 || c > 0x7e)) {
        printable = false
        break
      }
    }
    return { kind: 'line', line: this.#buf.toString('latin1', 0, n), printable, eol }
  }

  /** The first octets of an overlong line, taken from the buffer and then from the current chunk. */
  #head(chunk: Buffer, pos: number, end: number): string {
    const want = this.#headLen()
    const fromBuf = Math.min(this.#len, want)
    const head = this.#buf.toString('latin1', 0, fromBuf)
    return head + chunk.toString('latin1', pos, Math.min(end, pos + want - fromBuf))
  }

  // Never longer than max, so the head is always line content and not the CR of the line ending.
  #headLen(): number {
    return Math.min(OVERLONG_HEAD_OCTETS, this.#max)
  }
}
