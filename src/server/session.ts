// One MTQP connection as a state machine (RFC 3887 §3-§8): framed lines and TLS events in, wire text and transport
// actions out. No sockets, timers or clock of its own; the store, the clock, randomness and the per-client failure
// budget are injected, so every transcript can be replayed byte for byte in tests.
//
// Decisions:
// - Commands are handled strictly one after another (MTQP-9). TRACK waits for the store, so lines that arrive
//   meanwhile are queued; a command that needs no store is answered at once when nothing is ahead of it.
// - After `+OK` to STARTTLS nothing more is read in plaintext: queued lines are dropped here and the transport is
//   told to drop what it has not framed yet (MTQP-24, MTQP-26). After the handshake the session starts over and
//   greets again, without STARTTLS among the options (MTQP-24). The count of bad commands is not reset: it is the
//   server's defence (MTQP-29), not something the client told us.
// - The command that reaches max_bad_commands is answered `-BAD/too-many-errors` instead of its own -BAD, and the
//   connection is closed (MTQP-29): one reply per command is kept, and the code says why the server hangs up.
// - Unknown envid, expired data and wrong secret all get the one -ERR/noinfo reply (AMB-12, AMB-13, MTQP-18) and
//   count against the client's failed-TRACK budget; once it is spent, TRACK gets -TEMP/too-many-failures whatever
//   it asks, so the refusal says nothing about any envid. Every TRACK reserves a failure before it is answered and
//   gives it back when it succeeds, so concurrent TRACKs cannot overrun the budget; a budget that cannot be asked
//   (Redis down) refuses the TRACK with -TEMP/unavailable: no store, no guessing.
// - A session holds at most one reservation: a TRACK reserves at its turn, not ahead with its prefetched read, so
//   TRACKs that succeed can never fill a client's budget by being pipelined (16 connections of one address with 16
//   TRACKs in flight each would hold 256). The budget batches what all sessions reserve in one event-loop turn.
// - The reservation of a TRACK that succeeded passes to the session's next TRACK when one is already waiting
//   (pipelined), and goes back as soon as the session has nothing left to answer, or after HOLD_MAX_MS. A pipelined
//   batch that succeeds then costs the budget one reservation, not one per TRACK, and a reservation is never held
//   by an idle session: reservations held by sessions whose TRACKs succeed would shrink the budget of their address
//   and the global ceiling for everyone. Every answer has its own reservation: a wrong TRACK spends the one it holds,
//   and the next TRACK reserves anew.
// - Every reply is built here, from the REPLY table or the TRACK report: one place decides what goes on the wire.
// - Chaining (MTQP-30) is an injected function that gets this server's own parts and returns the parts to answer
//   with; it keeps its own deadline (MTQP-31). If it fails anyway, the answer is this server's parts (AMB-25).

import type { MtqpConfig } from '../config/config'
import { decodeXtext } from '../esmtp/xtext'
import type { StoredMessage } from '../model/records'
import type { BadCommand, Command, StarttlsCommand, TrackCommand } from '../mtqp/command'
import { parseCommand } from '../mtqp/command'
import type { FramedLine } from '../mtqp/framing'
import { greetingResponse } from '../mtqp/greeting'
import { formatDataResponse, formatResponse, type MtqpResponse } from '../mtqp/response'
import type { TrackingStatus } from '../tsn/types'
import { boundaryFromBytes, formatTrackingBody } from '../tsn/writer'
import { buildReport } from './report'
import { matchesCertificateName, tlsVersionAtLeast } from './tls'

/** What the transport must do. `start-tls` also means: drop any plaintext received but not yet framed (MTQP-26). */
export type SessionOutput = { kind: 'write'; data: string } | { kind: 'start-tls' } | { kind: 'close' }

/** The part of the tracking store a session reads (TrackingStore fits). */
export interface TrackingSource {
  /** Every stored record for a decoded envid; rejects when the store cannot answer. */
  lookup(envid: string): Promise<StoredMessage[]>
  /** Whether the store is reachable now. */
  readonly available: boolean
}

/** The failed-TRACK budget shared by all connections and nodes (src/store/failed-track-budget.ts fits). */
export interface TrackBudget {
  /** Reserve one failed TRACK for `client`: false when its budget or the global one is spent; rejects when unknown. */
  reserve(client: string): Promise<boolean>
  /** Give back the reservation of a TRACK that succeeded. Never throws. */
  release(client: string): void
}

/** What a chaining server needs to ask the next hops about a TRACK it has answered from its own store. */
export interface ChainRequest {
  /** The envid as the client sent it (xtext), to send on unchanged. */
  envid: string
  /** The raw octets of the secret A. A credential: never log it. */
  secret: Uint8Array
  /** This server's own parts, from the store. */
  parts: TrackingStatus[]
  /** The client's session is protected by TLS, so the next hops should be too (MTQP-32). */
  tls: boolean
}

/** MTQP-30..33: the parts to answer with, this server's own first. Must settle within the 2-minute limit. */
export type ChainFn = (request: ChainRequest) => Promise<TrackingStatus[]>

export interface MtqpLog {
  /** Every answered TRACK: at 10^4 TRACKs a second, a line each at info level would cost more than the answer. */
  debug(msg: string): void
  info(msg: string): void
  warn(msg: string): void
}

export type SessionConfig = Pick<
  MtqpConfig,
  | 'suspended'
  | 'starttls'
  | 'adequateTlsVersion'
  | 'insecureTls'
  | 'maxBadCommands'
  | 'allowSingleLabelFqdn'
  | 'noinfoDelayMs'
>

export interface SessionOptions {
  config: SessionConfig
  /** subjectAltName dNSNames of the installed certificate; null when none is installed (MTQP-13, MTQP-23). */
  certificateNames: readonly string[] | null
  /** The client as the failed-TRACK budget counts it (see clientKey). */
  client: string
  store: TrackingSource
  budget: TrackBudget
  /** ms since the epoch */
  now(): number
  /** Monotonic ms with sub-millisecond resolution (performance.now): the clock of the noinfo deadline. */
  monotonic(): number
  randomBytes(n: number): Uint8Array
  /** Resolves once monotonic() has reached `deadline`, at once if it has already (the noinfo deadline). */
  sleepUntil(deadline: number): Promise<void>
  log: MtqpLog
  output(o: SessionOutput): void
  /** Chaining gateway (MTQP-30): absent, the answer is this server's own parts. */
  chain?: ChainFn
}

/** Store reads one session may have in flight ahead of its replies. */
const MAX_PREFETCH = 16

/**
 * How long a reservation is passed on at most, in ms: then it goes back and the next TRACK reserves anew, so that a
 * release lands in the counter's window (one minute for the global ceiling) about as surely as a TRACK's own.
 */
const HOLD_MAX_MS = 10_000

/** Octets of randomness in a TRACK body's MIME boundary. */
const BOUNDARY_OCTETS = 16

const reply = (indicator: MtqpResponse['indicator'], codes: string[], text: string): MtqpResponse => ({
  indicator,
  codes,
  text,
})

/** The fixed replies. Texts are for logs only (MTQP-6) and never echo the client's input, which may hold A. */
const REPLY = {
  admin: reply('-TEMP', ['MTQP', 'admin'], 'Service down for admin, call back later'), // MTQP-11
  storeDown: reply('-TEMP', ['MTQP', 'unavailable'], 'Tracking store unavailable, call back later'), // MTQP-11
  tlsMissing: reply('-TEMP', ['MTQP', 'unavailable'], 'TLS is required but not available, call back later'),
  insecureGreeting: reply('-ERR', ['MTQP', 'insecure'], 'TLS protection inadequate'), // MTQP-25 (MAY abort)
  tooManyConnections: reply(
    '-TEMP',
    ['MTQP', 'unavailable', 'too-many-connections'],
    'Too many connections, call back later',
  ),
  tooManyFromClient: reply(
    '-TEMP',
    ['MTQP', 'unavailable', 'too-many-connections'],
    'Too many connections from your address, call back later',
  ),
  comment: reply('+OK', [], ''), // MTQP-20
  bye: reply('+OK', [], 'bye'), // MTQP-27
  tlsGo: reply('+OK', [], 'Begin TLS negotiation'), // MTQP-24
  tlsUnsupported: reply('-ERR', ['unsupported'], 'TLS not available'), // MTQP-23
  tlsInProgress: reply('-BAD', ['tls-in-progress'], 'TLS already active'), // MTQP-23
  badFqdn: reply('-BAD', ['bad-fqdn'], 'host name matches no name of the certificate'), // MTQP-23
  insecure: reply('-ERR', ['insecure'], 'TLS protection inadequate'), // MTQP-25
  tlsRequired: reply('-ERR', ['tls-required'], 'TLS required, use STARTTLS first'), // MTQP-8, MTQP-17
  tooManyFailures: reply('-TEMP', ['too-many-failures'], 'Too many failed TRACK requests, call back later'),
  noinfo: reply('-ERR', ['noinfo'], 'No tracking information available'), // MTQP-18, AMB-12, AMB-13
  trackStoreDown: reply('-TEMP', ['unavailable'], 'Tracking store unavailable, call back later'), // MTQP-17
  tooManyErrors: reply('-BAD', ['too-many-errors'], 'Too many bad commands, closing'), // MTQP-29
  overlong: reply('-BAD', [], 'command line longer than 998 octets'), // MTQP-4
  tracking: reply('+OK+', [], 'Tracking information follows'), // AMB-26: no codes on success
} as const

/** Wire text of a fixed reply; formatResponse accepts every entry of REPLY. */
function wire(r: MtqpResponse): string {
  const w = formatResponse(r)
  return w.ok ? w.value : ''
}

/** The greeting for a connection beyond a connection limit (MTQP-11, MTQP-29); the transport then hangs up. */
export function connectionLimitGreeting(scope: 'total' | 'client'): string {
  return wire(scope === 'total' ? REPLY.tooManyConnections : REPLY.tooManyFromClient)
}

type Phase = 'command' | 'handshake' | 'closed'

/** A line waiting for its answer: parsed once on arrival (null: overlong), with its TRACK's store read once started. */
interface Queued {
  cmd: Command | null
  read?: Promise<StoredMessage[]>
}

export class MtqpSession {
  readonly #o: SessionOptions
  #phase: Phase = 'command'
  #tlsActive = false
  /** MTQP-25: TLS is up but below adequate_tls_version. */
  #insecure = false
  #badCommands = 0
  readonly #queue: Queued[] = []
  /** A TRACK is waiting for the store. */
  #busy = false
  /**
   * Queued TRACKs whose store read started ahead (Queued.read). MTQP-9 orders the replies, not the reads: a pipelined
   * batch then costs about one store round trip instead of one per TRACK.
   */
  #prefetched = 0
  #idleWaiters: Array<() => void> = []
  /** The reservation of the last TRACK, which succeeded: the next queued TRACK's (see HOLD_MAX_MS). */
  #held = false
  /** When the held reservation was taken (monotonic ms). */
  #reservedAt = 0

  constructor(opts: SessionOptions) {
    this.#o = opts
  }

  /** Lines received but not answered yet, counting the one being answered: for the transport's backpressure. */
  get backlog(): number {
    return this.#queue.length + (this.#busy ? 1 : 0)
  }

  /** Resolves once every received line is answered, or the session is over. */
  whenIdle(): Promise<void> {
    if (this.backlog === 0 || this.#phase === 'closed') return Promise.resolve()
    return new Promise((resolve) => this.#idleWaiters.push(resolve))
  }

  /** Send the greeting (MTQP-10, MTQP-11). */
  start(): void {
    this.#greet()
  }

  /** Lines framed by LineDecoder, in order. Ignored while TLS is being negotiated (MTQP-26) or after the end. */
  receive(items: readonly FramedLine[]): void {
    if (this.#phase !== 'command') return
    const { config } = this.#o
    for (const item of items)
      this.#queue.push({ cmd: item.kind === 'overlong' ? null : parseCommand(item.line, config) })
    // Lines that arrive while a TRACK waits start their reads now, not when that TRACK is answered.
    if (this.#busy) this.#prefetch()
    else this.#pump()
  }

  /** The TLS handshake after STARTTLS completed with `protocol` (as TLSSocket.getProtocol() names it). */
  tlsEstablished(protocol: string | null): void {
    if (this.#phase !== 'handshake') return
    this.#phase = 'command'
    this.#tlsActive = true
    this.#insecure = !tlsVersionAtLeast(protocol, this.#o.config.adequateTlsVersion)
    if (this.#insecure)
      this.#o.log.info(`MTQP ${this.#o.client}: TLS ${protocol} is below the adequate version`)
    // MTQP-24: start over and greet again; the queue was already emptied when STARTTLS was accepted.
    this.#greet()
  }

  /** The transport is gone: stop answering. */
  closed(): void {
    this.#end()
  }

  #greet(): void {
    const refusal = this.#refusal()
    if (refusal !== null) {
      this.#send(refusal)
      this.#close()
      return
    }
    const { starttls } = this.#o.config
    // MTQP-13: offer STARTTLS when enabled and a certificate is installed; never again once TLS is up (MTQP-24).
    const options = this.#canStartTls() ? [starttls === 'required' ? 'STARTTLS required' : 'STARTTLS'] : []
    this.#send(greetingResponse({ options })) // AMB-27: +OK/MTQP without options, +OK+/MTQP with
  }

  /** A negative greeting, when the service cannot be offered (MTQP-11). */
  #refusal(): MtqpResponse | null {
    const { config, store, certificateNames, log, client } = this.#o
    if (config.suspended) return REPLY.admin
    if (!store.available) return REPLY.storeDown
    if (config.starttls === 'required' && certificateNames === null && !this.#tlsActive) {
      log.warn(`MTQP ${client}: starttls=required but no certificate is installed; refusing the session`)
      return REPLY.tlsMissing
    }
    if (this.#insecure && config.insecureTls === 'close') return REPLY.insecureGreeting
    return null
  }

  #canStartTls(): boolean {
    return this.#o.config.starttls !== 'off' && this.#o.certificateNames !== null && !this.#tlsActive
  }

  /** Answer queued lines in order until one has to wait for the store (MTQP-9). */
  #pump(): void {
    while (!this.#busy && this.#phase === 'command') {
      const queued = this.#queue.shift()
      if (queued === undefined) break
      if (queued.read !== undefined) this.#prefetched--
      const pending = this.#handle(queued)
      if (pending !== undefined) {
        this.#busy = true
        this.#prefetch()
        pending.then(
          () => this.#resume(),
          (e: unknown) => {
            // #track catches what it expects; anything else is a bug, and a silent connection would be worse.
            this.#o.log.warn(`MTQP ${this.#o.client}: TRACK failed unexpectedly: ${String(e)}`)
            this.#send(REPLY.trackStoreDown)
            this.#resume()
          },
        )
      }
    }
    if (this.backlog === 0) {
      this.#wakeIdle()
      this.#releaseHeld()
    }
  }

  #releaseHeld(): void {
    if (!this.#held) return
    this.#held = false
    this.#o.budget.release(this.#o.client)
  }

  /** Keeps the reservation of a TRACK that succeeded for the next one; gives it back if the session is over. */
  #keep(): void {
    this.#held = true
    if (this.#phase === 'closed') this.#releaseHeld()
  }

  #resume(): void {
    this.#busy = false
    this.#pump()
  }

  /** Starts the store reads of the next few queued TRACKs that will be answered in this phase. */
  #prefetch(): void {
    const { config, store } = this.#o
    if (this.#insecure || (config.starttls === 'required' && !this.#tlsActive)) return
    for (const queued of this.#queue) {
      if (this.#prefetched >= MAX_PREFETCH) return
      const { cmd } = queued
      // Nothing after STARTTLS or QUIT is answered in this phase.
      if (cmd?.verb === 'STARTTLS' || cmd?.verb === 'QUIT') return
      if (cmd?.verb !== 'TRACK' || queued.read !== undefined) continue
      // One read per TRACK, also for the same envid: each answer reflects the store after its command arrived.
      queued.read = store.lookup(decodeXtext(cmd.envid) ?? cmd.envid)
      queued.read.catch(() => {}) // a failure is reported when this TRACK's turn comes
      this.#prefetched++
    }
  }

  /** Answer one line; returns a promise when the answer has to wait for the store. */
  #handle({ cmd, read }: Queued): Promise<void> | undefined {
    // MTQP-25: an inadequately protected session answers everything but QUIT with -ERR/insecure.
    if (this.#insecure && cmd?.verb !== 'QUIT') return this.#send(REPLY.insecure)
    if (cmd === null) return this.#bad(REPLY.overlong) // MTQP-4
    switch (cmd.verb) {
      case 'bad':
        return this.#bad(badReply(cmd)) // MTQP-8
      case 'COMMENT':
        return this.#send(REPLY.comment)
      case 'QUIT':
        this.#send(REPLY.bye)
        return this.#close()
      case 'STARTTLS':
        return this.#starttls(cmd)
      case 'TRACK':
        return this.#track(cmd, read)
    }
  }

  #bad(r: MtqpResponse): undefined {
    this.#badCommands++
    if (this.#badCommands < this.#o.config.maxBadCommands) return this.#send(r)
    this.#o.log.info(`MTQP ${this.#o.client}: ${this.#badCommands} bad commands, closing`)
    this.#send(REPLY.tooManyErrors)
    return this.#close()
  }

  #starttls(cmd: StarttlsCommand): undefined {
    if (this.#tlsActive) return this.#bad(REPLY.tlsInProgress)
    const names = this.#o.certificateNames
    if (!this.#canStartTls() || names === null) return this.#send(REPLY.tlsUnsupported)
    if (!matchesCertificateName(cmd.domain, names)) return this.#bad(REPLY.badFqdn)
    this.#send(REPLY.tlsGo)
    // MTQP-24, MTQP-26: nothing the client sent after STARTTLS in plaintext is processed.
    this.#phase = 'handshake'
    this.#queue.length = 0
    this.#prefetched = 0
    this.#o.output({ kind: 'start-tls' })
    return undefined
  }

  #track(cmd: TrackCommand, prefetched: Promise<StoredMessage[]> | undefined): Promise<void> | undefined {
    if (this.#o.config.starttls === 'required' && !this.#tlsActive) return this.#send(REPLY.tlsRequired)
    // AMB-7: the store is keyed by the decoded envid. The parser only accepts xtext, so decoding succeeds.
    const envid = decodeXtext(cmd.envid) ?? cmd.envid
    return this.#answerTrack(envid, cmd, this.#o.now(), this.#o.monotonic(), prefetched)
  }

  /**
   * `now` (epoch ms) dates the report; `arrived` (monotonic ms) is when the TRACK's turn came; `prefetched` is the
   * store read started ahead for this TRACK, if any.
   */
  async #answerTrack(
    envid: string,
    cmd: TrackCommand,
    now: number,
    arrived: number,
    prefetched: Promise<StoredMessage[]> | undefined,
  ): Promise<void> {
    const { store, log, client, budget } = this.#o
    // Logs name the envid as sent: xtext is printable, while the decoded form could hold CR LF and forge log lines.
    const name = `MTQP ${client}: TRACK ${cmd.envid}`
    if (this.#o.monotonic() - this.#reservedAt >= HOLD_MAX_MS) this.#releaseHeld()
    if (!this.#held) this.#reservedAt = this.#o.monotonic()
    // Null: this TRACK answers on the reservation the session holds. Issued in the same tick, a reservation and the
    // read share one write to Redis: the reservation first, so that its batch is sent before the reads'
    // auto-pipeline leaves (both wait for the end of the poll phase).
    const reserved = this.#held ? null : budget.reserve(client)
    this.#held = false
    const read = prefetched ?? store.lookup(envid)
    read.catch(() => {}) // reported below, when it matters
    let allowed: boolean
    try {
      allowed = reserved === null || (await reserved)
    } catch (e) {
      log.warn(`${name}: failed-TRACK budget unavailable: ${e instanceof Error ? e.message : e}`)
      this.#send(REPLY.trackStoreDown)
      return
    }
    if (!allowed) {
      this.#send(REPLY.tooManyFailures)
      return
    }
    let records: StoredMessage[]
    try {
      records = await read
    } catch (e) {
      this.#keep() // not spent: nothing was answered from the store
      log.warn(`${name}: tracking store failed: ${e instanceof Error ? e.message : e}`)
      this.#send(REPLY.trackStoreDown)
      return
    }
    const report = buildReport({ envid, records, secret: cmd.secret, now })
    // A TRACK the secret opened is no failure, also when its client hung up before the answer: a pipelining client
    // closing with TRACKs in flight would otherwise spend its budget, and everyone's, on TRACKs that succeeded.
    // Its reservation goes to the next TRACK, or back when the session is over. A wrong guess abandoned early stays
    // counted.
    if (report.parts.length > 0) this.#keep()
    if (this.#phase !== 'command') return
    for (const note of report.notes) log.warn(`${name}: ${note}`)
    if (report.parts.length === 0) {
      log.info(`${name}: noinfo`)
      // AMB-13: whatever the store held, the refusal leaves at one deadline after the command's turn came, on a
      // sub-millisecond monotonic clock: rounding to whole ms or a wall-clock step would let the paths differ.
      await this.#o.sleepUntil(arrived + this.#o.config.noinfoDelayMs)
      this.#send(REPLY.noinfo)
      return
    }
    // Without chaining, no promise to wait for: one microtask less per answer.
    const { chain } = this.#o
    const parts = chain === undefined ? report.parts : await this.#chained(chain, report.parts, cmd, name)
    if (this.#phase !== 'command') return
    const body = formatTrackingBody(parts, boundaryFromBytes(this.#o.randomBytes(BOUNDARY_OCTETS)))
    // The body ends in CRLF; its lines are the data lines (MTQP-16).
    const answer = body.ok ? formatDataResponse(REPLY.tracking, body.value) : body
    if (!answer.ok) {
      log.warn(`${name}: answer cannot be written: ${answer.error}`)
      this.#send(REPLY.trackStoreDown)
      return
    }
    log.debug(`${name}: ${parts.length} part(s)`)
    this.#o.output({ kind: 'write', data: answer.value })
  }

  /** This server's parts with the chained ones after them (MTQP-33); its own alone if chaining fails (AMB-25). */
  async #chained(
    chain: ChainFn,
    parts: TrackingStatus[],
    cmd: TrackCommand,
    name: string,
  ): Promise<TrackingStatus[]> {
    try {
      return await chain({ envid: cmd.envid, secret: cmd.secret, parts, tls: this.#tlsActive })
    } catch (e) {
      this.#o.log.warn(`${name}: chaining failed, answering with this server's report: ${String(e)}`)
      return parts
    }
  }

  #send(r: MtqpResponse): undefined {
    if (this.#phase === 'closed') return undefined
    this.#o.output({ kind: 'write', data: wire(r) })
    return undefined
  }

  #close(): undefined {
    if (this.#phase === 'closed') return undefined
    this.#end()
    this.#o.output({ kind: 'close' })
    return undefined
  }

  #end(): void {
    this.#phase = 'closed'
    this.#releaseHeld()
    this.#queue.length = 0
    this.#prefetched = 0
    this.#wakeIdle()
  }

  #wakeIdle(): void {
    const waiters = this.#idleWaiters
    this.#idleWaiters = []
    for (const w of waiters) w()
  }
}

/** -BAD with the parser's codes (e.g. bad-fqdn for a STARTTLS name without a dot) and its fixed reason (MTQP-8). */
function badReply(cmd: BadCommand): MtqpResponse {
  return reply('-BAD', cmd.codes ?? [], cmd.reason)
}
