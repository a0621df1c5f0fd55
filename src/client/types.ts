// The vocabulary shared by the client modules: what is asked of a tracking server, and what came back.
import { decodeUtf8Addr, isUtf8AddrType } from '../esmtp/utf8-addr'
import type { TrackingStatus, TypedValue } from '../tsn/types'
import type { HopTarget } from './discovery'

/** One TRACK: the unique-envid as sent (xtext) and the raw octets of the secret A (MTQPC-5). A credential. */
export interface TrackRequest {
  envid: string
  secret: Uint8Array
}

/** The tracking server that answered, or that was tried. */
export interface ServerInfo {
  /** Host name (or address) as discovered: the name TLS checked and the TOFU memory keys on. */
  name: string
  port: number
  /** The address connected to; empty for the local store of a chaining server. */
  address: string
  /** How the server was found; 'local' is a chaining server's own store. */
  via: 'direct' | 'srv' | 'address' | 'local'
  /** The SRV owner name when via is 'srv'. */
  srvName?: string
  /** The negotiated TLS version, or null for plaintext. */
  tls: string | null
  /** TLS only: whether the certificate was verified against the trusted CAs and the server name. */
  verified?: boolean
}

/**
 * Why a query gave no tracking status (MTQPC-9): the hop could not be found ('no-service', 'dns'), reached
 * ('unreachable', 'timeout', 'aborted'), refused the session ('refused'), failed TLS ('tls'), wants TLS
 * ('tls-required'), is temporarily unable ('temporary'), knows nothing ('noinfo'), refused the request
 * ('rejected': -ERR, or -BAD, a client bug), or spoke something that is not MTQP ('protocol').
 */
export type QueryFailure =
  | 'no-service'
  | 'dns'
  | 'unreachable'
  | 'timeout'
  | 'aborted'
  | 'refused'
  | 'tls'
  | 'tls-required'
  | 'temporary'
  | 'noinfo'
  | 'rejected'
  | 'protocol'

export type QueryResult =
  | { kind: 'answered'; server: ServerInfo; parts: TrackingStatus[]; skipped?: string[] }
  | { kind: 'failed'; failure: QueryFailure; reason: string; server?: ServerInfo }

/** Asks the tracking server of a target about one message. Never rejects: failures are results. */
export type Querier = (target: HopTarget, request: TrackRequest) => Promise<QueryResult>

/** A server's name and port as people write it. */
export function serverLabel(server: Pick<ServerInfo, 'name' | 'port'>): string {
  return server.name.includes(':') ? `[${server.name}]:${server.port}` : `${server.name}:${server.port}`
}

/**
 * An address as people read it: one of RFC 6533's `utf-8` type decoded from its 7-bit `\x{HEX}` form (jörg, not
 * j\x{F6}rg); any other as it came. Not yet printable(): controls stay.
 */
export function addressText(a: TypedValue): string {
  return isUtf8AddrType(a.type) ? (decodeUtf8Addr(a.value) ?? a.value) : a.value
}

/**
 * Text made safe to print and to put in an error: what a server chose (greeting, replies, reports) and our own
 * messages alike. Controls (C0, DEL, C1), Unicode format characters (bidi overrides, zero-width), line separators,
 * private-use and unassigned code points become "?", so a hostile server can neither drive the terminal nor make text
 * read in another order; other characters (é, §) stay. Cut at `max` characters.
 */
export function printable(text: string, max = 200): string {
  const safe = text.replace(/[\p{Cc}\p{Cf}\p{Co}\p{Cn}\p{Cs}\p{Zl}\p{Zp}]/gu, '?')
  return safe.length > max ? `${safe.slice(0, max)}...` : safe
}
