// MTQP client commands (RFC 3887 §4-§7, grammar §12): parse one framed line into a typed command, and format the
// commands a client sends. Pure; never throws on network input: anything wrong becomes a `bad` command, which the
// session answers with -BAD (MTQP-8).
//
// Decisions:
// - Keywords are case-insensitive (MTQP-4); separators are 1*WSP, WSP = SP / HTAB.
// - Leading whitespace is refused (not in the grammar). Trailing whitespace is tolerated on every command: the
//   grammar allows it after STARTTLS's domain, and refusing it elsewhere would only punish sloppy clients.
// - The TRACK envid has one enclosing "<...>" pair stripped (AMB-6; the RFC's own examples send it) and must then
//   be a unique-envid: RFC 3461 xtext (printable ASCII except SP and "=", "+" only as "+XX") with an "@" that has
//   text on both sides. See src/esmtp/envid.ts.
// - The TRACK secret must be strict base64, padded or unpadded (AMB-3); anything else is -BAD (AMB-28). Its
//   decoded length is not checked here: a secret of the wrong size simply matches no stored hash.
// - Reasons are fixed texts and never echo the line, which may hold the secret A (URI-5, SEC-3).

import { isUniqueEnvid } from '../esmtp/envid'
import { decodeBase64Strict, encodeBase64 } from '../util/base64'
import { isDnsName } from '../util/dns-name'
import { err, ok, type Result } from '../util/result'
import { MAX_LINE_OCTETS } from './framing'

export const KEYWORDS = ['TRACK', 'STARTTLS', 'QUIT', 'COMMENT'] as const
export type Keyword = (typeof KEYWORDS)[number]

export interface TrackCommand {
  verb: 'TRACK'
  /** The unique-envid as sent (still xtext-encoded), with one enclosing "<>" pair removed (AMB-6). */
  envid: string
  /** The raw octets of the secret A (base64-decoded, MTQP-14, SEC-5). */
  secret: Buffer
}

export interface StarttlsCommand {
  verb: 'STARTTLS'
  /** The host name the client believes it is talking to (MTQP-22), as sent. */
  domain: string
}

export interface QuitCommand {
  verb: 'QUIT'
}

export interface CommentCommand {
  verb: 'COMMENT'
  /** The text after the keyword and its separating whitespace; ignored by the server (MTQP-20). */
  text: string
}

export interface BadCommand {
  verb: 'bad'
  /** Why the line was refused, for the -BAD text and logs. Never contains the client's input. */
  reason: string
  /** Response codes for the -BAD reply, when one applies (e.g. `bad-fqdn`). */
  codes?: string[]
  /** The keyword, when it was recognised and only its arguments were wrong. Absent for an unknown verb. */
  keyword?: Keyword
}

export type Command = TrackCommand | StarttlsCommand | QuitCommand | CommentCommand | BadCommand

export interface ParseCommandOptions {
  /** Accept a STARTTLS domain without a dot (AMB-24: test mode only). Default false. */
  allowSingleLabelFqdn?: boolean
}

const WSP = /[\t ]+/
const PRINTABLE_LINE = /^[\t\x20-\x7e]*$/

function bad(reason: string, keyword?: Keyword, codes?: string[]): BadCommand {
  const c: BadCommand = { verb: 'bad', reason }
  if (keyword !== undefined) c.keyword = keyword
  if (codes !== undefined) c.codes = codes
  return c
}

/** Parse one command line (without its CRLF) as framed by LineDecoder. */
export function parseCommand(line: string, opts: ParseCommandOptions = {}): Command {
  if (line.length > MAX_LINE_OCTETS) return bad('command line longer than 998 octets') // MTQP-4
  if (!PRINTABLE_LINE.test(line)) return bad('command line holds non-printable or non-ASCII characters') // MTQP-4
  if (line.length === 0) return bad('empty command line')
  if (line[0] === ' ' || line[0] === '\t') return bad('command line starts with whitespace')

  const sep = line.search(WSP)
  const word = sep === -1 ? line : line.slice(0, sep)
  const rest = sep === -1 ? '' : line.slice(sep)
  const keyword = word.toUpperCase()

  switch (keyword) {
    case 'COMMENT':
      // comment-command = "COMMENT" opt-text: anything printable, or nothing (MTQP-20).
      return { verb: 'COMMENT', text: rest.replace(/^[\t ]+/, '') }
    case 'TRACK':
      return parseTrack(args(rest))
    case 'STARTTLS':
      return parseStarttls(args(rest), opts)
    case 'QUIT':
      return args(rest).length === 0 ? { verb: 'QUIT' } : bad('QUIT takes no arguments', 'QUIT')
    default:
      return bad('unrecognised command') // MTQP-8
  }
}

/** Arguments separated by 1*WSP; leading and trailing whitespace produce no empty arguments. */
function args(rest: string): string[] {
  return rest.split(WSP).filter((a) => a.length > 0)
}

function parseTrack(a: string[]): Command {
  // track-command = "TRACK" 1*WSP unique-envid 1*WSP mtrk-secret (MTQP-14); AMB-28: malformed is -BAD.
  if (a.length < 2) return bad('TRACK needs a unique-envid and a secret', 'TRACK') // MTQP-14, AMB-28
  if (a.length > 2) return bad('TRACK takes exactly two arguments', 'TRACK') // MTQP-14
  const [rawEnvid, secretBase64] = a as [string, string]
  const envid = stripBrackets(rawEnvid)
  if (!isUniqueEnvid(envid))
    return bad('envid is not a unique-envid, xtext "@" xtext (RFC 3885 section 3.2)', 'TRACK')
  const secret = decodeBase64Strict(secretBase64, { allowPadding: true })
  if (secret === null) return bad('secret is not valid base64', 'TRACK') // AMB-3, AMB-28
  return { verb: 'TRACK', envid, secret }
}

/** AMB-6: the RFC 3887 examples wrap the envid in "<>" though the grammar does not; strip one enclosing pair. */
function stripBrackets(envid: string): string {
  return envid.length >= 2 && envid.startsWith('<') && envid.endsWith('>') ? envid.slice(1, -1) : envid
}

function parseStarttls(a: string[], opts: ParseCommandOptions): Command {
  // starttls-command = "STARTTLS" 1*WSP domain *WSP (MTQP-22).
  if (a.length !== 1) return bad('STARTTLS takes exactly one host name', 'STARTTLS') // MTQP-22
  const domain = a[0]!
  const allowSingleLabel = opts.allowSingleLabelFqdn ?? false
  if (!isDnsName(domain, { allowSingleLabel })) {
    // A name that is not an FQDN can match no certificate name: the same code as a mismatch (MTQP-23).
    return bad('STARTTLS needs a fully qualified host name', 'STARTTLS', ['bad-fqdn']) // MTQP-22, AMB-24
  }
  return { verb: 'STARTTLS', domain }
}

// ---------------------------------------------------------------------------------------------------------------
// Client side

export type ClientCommand =
  | { verb: 'TRACK'; envid: string; secret: Uint8Array }
  | { verb: 'STARTTLS'; domain: string }
  | { verb: 'QUIT' }
  | { verb: 'COMMENT'; text?: string }

export interface FormatCommandOptions {
  /** Send the TRACK envid inside "<>" like the RFC examples instead of bare (AMB-6). Default false. */
  bracketEnvid?: boolean
  /** Allow a single-label STARTTLS host name (AMB-24: test mode only). Default false. */
  allowSingleLabelFqdn?: boolean
}

/**
 * Wire text (with CRLF) of a client command, or an error when the arguments cannot be sent as a valid command.
 * The secret is sent unpadded (AMB-3). An envid that itself starts with "<" and ends with ">" is wrapped in one
 * more pair, because the server strips one pair (AMB-6). Leading whitespace of a COMMENT text is not preserved.
 */
export function formatCommand(c: ClientCommand, opts: FormatCommandOptions = {}): Result<string> {
  let line: string
  switch (c.verb) {
    case 'TRACK': {
      if (!isUniqueEnvid(c.envid)) return err('envid is not a unique-envid (RFC 3885 §3.2)')
      if (c.secret.length === 0) return err('secret is empty')
      const wrap = opts.bracketEnvid === true || (c.envid.startsWith('<') && c.envid.endsWith('>'))
      const envid = wrap ? `<${c.envid}>` : c.envid
      line = `TRACK ${envid} ${encodeBase64(c.secret, { padding: false })}`
      break
    }
    case 'STARTTLS':
      if (!isDnsName(c.domain, { allowSingleLabel: opts.allowSingleLabelFqdn ?? false })) {
        return err('STARTTLS needs a fully qualified host name') // MTQP-22, AMB-24
      }
      line = `STARTTLS ${c.domain}`
      break
    case 'QUIT':
      line = 'QUIT'
      break
    case 'COMMENT': {
      const text = c.text ?? ''
      if (!PRINTABLE_LINE.test(text)) return err('COMMENT text must be printable ASCII') // MTQP-4
      line = text.length > 0 ? `COMMENT ${text}` : 'COMMENT'
      break
    }
  }
  if (line.length > MAX_LINE_OCTETS) return err('command line longer than 998 octets') // MTQP-4
  return ok(`${line}\r\n`)
}
