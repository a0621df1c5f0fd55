// The part of Haraka 3.3's plugin API this plugin uses, typed. Haraka ships no types; these describe what
// docs/haraka-internals.md records as verified, and nothing more.

import type { EnvelopeAddress } from '../model/note'

export interface HarakaLogger {
  logdebug(...args: unknown[]): void
  loginfo(...args: unknown[]): void
  lognotice(...args: unknown[]): void
  logwarn(...args: unknown[]): void
  logerror(...args: unknown[]): void
}

/** A `haraka-dsn` reply object: Haraka answers with its code and text when a hook passes one to next(). */
export interface DsnReply {
  code: number
  reply: string
}

export type Next = (code?: number, msg?: string | DsnReply) => void

export interface HarakaConfig {
  get(name: string, opts?: { booleans?: string[] } | string, cb?: () => void): unknown
  get(name: string, cb: () => void): unknown
}

export interface HarakaPlugin extends HarakaLogger {
  name: string
  config: HarakaConfig
  register_hook(hook: string, method: string, priority?: number): void
  haraka_require(name: string): unknown
}

/** @haraka/email-address Address: `address` is a getter (HRK-9); `host` is lower-case ASCII. */
export interface HarakaAddress extends EnvelopeAddress {
  isNull(): boolean
}

export interface HarakaNotes {
  [key: string]: unknown
}

export interface HarakaResults {
  get(name: string): unknown
}

export interface HarakaTransaction {
  uuid: string
  notes: HarakaNotes
  rcpt_to: HarakaAddress[]
  mail_from: HarakaAddress | null
  /** Set by Haraka when the queue answered: 'accepted', 'rejected' or 'deferred' (connection.js). */
  msg_status?: string
  results: HarakaResults
  /** The parsed header of the message once DATA ended (haraka-email-message Header); get() answers '' for an absent field. */
  header?: { lines(): string[]; get(name: string): string }
}

export interface ConnectionLogger {
  logdebug(plugin: unknown, msg: string): void
  loginfo(plugin: unknown, msg: string): void
  lognotice(plugin: unknown, msg: string): void
  logwarn(plugin: unknown, msg: string): void
  logerror(plugin: unknown, msg: string): void
}

export interface HarakaConnection extends ConnectionLogger {
  uuid: string
  /** The command line being processed; stable while its hooks run (Haraka pauses the session). */
  current_line: string | null
  relaying: boolean
  transaction: HarakaTransaction | null
  capabilities: string[]
  /** The client: `remote.ip` as Haraka normalised it (an IPv4-mapped IPv6 address as IPv4). */
  remote?: { ip?: string }
  /** What EHLO/HELO said: `hello.host`. */
  hello?: { host?: string | null }
}

// Outbound (outbound/hmail.js, outbound/todo.js): what the delivery hooks and the outbound seam read.

/** An outbound recipient. Haraka sets the dsn_* fields when a next hop's reply refused it (hmail.js:715-790). */
export interface OutboundRecipient extends HarakaAddress {
  format(usePunycode?: boolean): string
  dsn_smtp_code?: string
  dsn_smtp_extc?: string
  dsn_smtp_response?: string
}

/** The queue file header of one delivery: one destination domain (outbound/todo.js). */
export interface TodoItem {
  /** `<transaction uuid>.<n>`, shared by the hmails a split makes. */
  uuid: string
  domain: string
  /** ms since the epoch the message entered the queue. */
  queue_time?: number
  mail_from: HarakaAddress
  rcpt_to: OutboundRecipient[]
  /** transaction.notes, persisted in the queue file. */
  notes: HarakaNotes
}

/** An HMailItem: one queue file being delivered. */
export interface HMailItem extends ConnectionLogger {
  todo: TodoItem
  /** Temporary failures so far; incremented before the `deferred` hook runs. */
  num_failures: number
  /** The queue file's name: `arrival_nextattempt_attempts_pid_uid_counter_host`. */
  filename: string
  /** The message as stored in the queue file (dot-stuffed), from data_start to file_size (hmail.js data_stream). */
  data_stream(): NodeJS.ReadableStream
  /** Octets of the queue file, and where the message starts in it. */
  file_size: number
  data_start: number
}

/** A next hop as get_mx returned it (haraka-net-utils HarakaMx). */
export interface HarakaMx {
  exchange?: string
  /** The MX host name when `exchange` is an address it resolved to. */
  from_dns?: string
  port?: number
  using_lmtp?: boolean
}

/** Haraka's outbound socket: a pluggable stream that emits one `line` event per reply line. */
export interface OutboundSocket {
  on(event: 'line', listener: (line: string) => void): unknown
  write(data: unknown, ...rest: unknown[]): boolean
}

/** `delivered` hook parameters (hmail.js:1318). */
export type DeliveredParams = [
  host: string,
  ip: string,
  response: string,
  delay: number,
  port: number,
  mode: 'SMTP' | 'LMTP',
  ok_recips: OutboundRecipient[],
  secured: boolean,
  authenticated: boolean,
]

/** `deferred` hook parameters: fail_recips and mx only when some recipients were refused (hmail.js:626-632). */
export interface DeferredParams {
  delay: number
  err: string
  fail_recips?: OutboundRecipient[]
  mx?: HarakaMx
}

/** `bounce` hook parameter (hmail.js:1246-1255). */
export interface BounceError extends Error {
  mx?: HarakaMx
  bounced_rcpt?: OutboundRecipient[]
  deferred_rcpt?: OutboundRecipient[]
}

/**
 * Haraka's Server object as the `init_http` hook receives it (server.js setup_http_listeners): `http.app` is the
 * express application of config/http.ini's listener; a handler added with `use` sees every request before Haraka's
 * static files and 404.
 */
export interface HarakaHttpServer {
  http?: {
    app?: {
      use(
        handler: (
          req: import('node:http').IncomingMessage,
          res: import('node:http').ServerResponse,
          next: (err?: unknown) => void,
        ) => void,
      ): unknown
    }
  }
}
