// The part of Haraka 3.3's plugin API this plugin uses, typed. Haraka ships no types; these describe what
// ../shared/spec/haraka.md verified, and nothing more.

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

/** @haraka/email-address Address: `address` is a getter (haraka.md §0.2); `host` is lower-case ASCII. */
export interface HarakaAddress {
  user: string
  host: string
  readonly address: string
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
}
