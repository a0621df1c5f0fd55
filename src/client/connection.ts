// One MTQP client connection (RFC 3887 §3-§8): greeting, STARTTLS, pipelined TRACKs, QUIT. The wire formats come
// from src/mtqp (commands, the response decoder, the greeting parser) and src/tsn (the tracking status reader).
//
// Decisions:
// - STARTTLS modes (MTQPC-3): 'off' never; 'opportunistic' (default) when the greeting offers it; 'required' fails
//   unless TLS is up before any TRACK. The certificate is verified against the name the client believes it is
//   talking to, which is also the name sent in STARTTLS (MTQP-22); TLS 1.2 is the floor (RFC 8996).
// - A name that is not a fully qualified host name (an IP address, "localhost") cannot be sent in STARTTLS
//   (AMB-24), so opportunistic mode stays in plaintext there, with a note, unless `tlsName` gives the name.
// - TRACKs are written in one batch, with QUIT behind them when the caller is done (MTQPC-8); STARTTLS is only ever
//   sent alone, so it is trivially the last command of its batch (MTQP-26).
// - The inactivity timer is at least 2 minutes, since the server may be chaining (MTQPC-7). An AbortSignal ends
//   everything sooner for callers with a deadline (a chaining server).
// - Error texts never contain a command line: a TRACK line holds the secret (URI-5).
import { isIP, connect as netConnect, type Socket } from 'node:net'
import { type TLSSocket, connect as tlsConnect } from 'node:tls'
import { formatCommand } from '../mtqp/command'
import { type Greeting, parseGreeting } from '../mtqp/greeting'
import { type MtqpResponse, ResponseDecoder } from '../mtqp/response'
import { readTrackingBody } from '../tsn/reader'
import type { TrackingStatus } from '../tsn/types'
import { isDnsName } from '../util/dns-name'
import type { Result } from '../util/result'
import { describeTofuAlarm, type TofuMemory } from './tofu'
import { printable, type QueryFailure, type ServerInfo, serverLabel, type TrackRequest } from './types'

/** When the client uses STARTTLS (MTQPC-3): never, when the server offers it, or always (refusing servers without). */
export type StarttlsPolicy = 'off' | 'opportunistic' | 'required'

/** MTQPC-7: a client inactivity timer must be at least 2 minutes. */
export const MIN_INACTIVITY_TIMEOUT_MS = 120_000

export interface ConnectionOptions {
  /** STARTTLS policy (MTQPC-3). Default 'opportunistic'. */
  starttls?: StarttlsPolicy
  /** Do not verify the certificate (test set-ups only). TLS still encrypts, TOFU still remembers. Default false. */
  insecure?: boolean
  /** PEM certificates to trust instead of the system's CAs. */
  ca?: string | Buffer | Array<string | Buffer>
  /** ms of silence from the server while a response is awaited; at least and by default 120000 (MTQPC-7). */
  inactivityTimeoutMs?: number
  /** ms to establish the TCP connection. Default 30000. */
  connectTimeoutMs?: number
  /** Send the TRACK envid inside "<>" like the RFC examples (AMB-6). Default false: the grammar's bare form. */
  bracketEnvid?: boolean
  /** Aborts connecting and every pending command ('aborted'). */
  signal?: AbortSignal
  /** Remembers STARTTLS offers and certificates, and raises alarms (MTQPC-4). Default none. */
  tofu?: TofuMemory | null
  /** Receives TOFU alarms and notes about the TLS decision. Default: nowhere. */
  warn?: (message: string) => void
}

/** The server to connect to: its name (for TLS, TOFU and messages) and the address and port to use. */
export interface ConnectTarget {
  name: string
  address: string
  port: number
  via?: ServerInfo['via']
  srvName?: string
  /** The name to send in STARTTLS and check the certificate against, when not `name`. */
  tlsName?: string
}

/** A failure of the connection as a whole; `failure` says which kind (MTQPC-9). */
export class MtqpClientError extends Error {
  readonly failure: QueryFailure

  constructor(failure: QueryFailure, message: string) {
    super(message)
    this.name = 'MtqpClientError'
    this.failure = failure
  }
}

/** An option value the client cannot work with; thrown (or the promise rejected) before any connection is made. */
export class MtqpOptionError extends RangeError {
  /** The option's name, e.g. `inactivityTimeoutMs`. */
  readonly option: string

  constructor(option: string, message: string) {
    super(message)
    this.name = 'MtqpOptionError'
    this.option = option
  }
}

/** Checks the options every connection uses (MTQPC-7); the problem as an MtqpOptionError, or null. */
export function checkConnectionOptions(opts: ConnectionOptions): MtqpOptionError | null {
  const inactivity = opts.inactivityTimeoutMs ?? MIN_INACTIVITY_TIMEOUT_MS
  if (!(inactivity >= MIN_INACTIVITY_TIMEOUT_MS)) {
    return new MtqpOptionError(
      'inactivityTimeoutMs',
      `inactivityTimeoutMs must be at least ${MIN_INACTIVITY_TIMEOUT_MS} (a server may be asking the next relays), not ${inactivity}`,
    )
  }
  const connect = opts.connectTimeoutMs ?? 30_000
  if (!(connect > 0 && connect <= 2 ** 31 - 1)) {
    return new MtqpOptionError(
      'connectTimeoutMs',
      `connectTimeoutMs must be a positive number of ms, not ${connect}`,
    )
  }
  return null
}

/** The answer to one TRACK. */
export type TrackAnswer =
  | {
      kind: 'answered'
      parts: TrackingStatus[]
      /** What of the answer could not be read and was skipped or repaired (readTrackingBody). */
      skipped?: string[]
    }
  | { kind: 'failed'; failure: QueryFailure; reason: string }

export class MtqpClient {
  readonly server: ServerInfo
  #greeting: Greeting | null = null
  #socket: Socket
  #decoder = new ResponseDecoder()
  #queue: Result<MtqpResponse>[] = []
  #wake: (() => void) | null = null
  #failure: MtqpClientError | null = null
  /** Bumped when the transport changes (STARTTLS), so events of the old socket are ignored. */
  #generation = 0
  readonly #opts: ConnectionOptions
  readonly #label: string

  private constructor(socket: Socket, server: ServerInfo, opts: ConnectionOptions) {
    this.#socket = socket
    this.server = server
    this.#opts = opts
    this.#label = serverLabel(server)
    this.#attach(socket)
    opts.signal?.addEventListener('abort', this.#onAbort, { once: true })
    socket.once('close', () => opts.signal?.removeEventListener('abort', this.#onAbort))
    if (opts.signal?.aborted === true) this.#onAbort()
  }

  /** The greeting in force: after STARTTLS, the one sent over TLS (MTQPC-3). */
  get greeting(): Greeting {
    if (this.#greeting === null) throw new Error('not greeted yet')
    return this.#greeting
  }

  /** Connects, reads the greeting and negotiates TLS as `opts.starttls` says. */
  static async connect(target: ConnectTarget, opts: ConnectionOptions = {}): Promise<MtqpClient> {
    const bad = checkConnectionOptions(opts)
    if (bad !== null) throw bad
    const inactivity = opts.inactivityTimeoutMs ?? MIN_INACTIVITY_TIMEOUT_MS
    const server: ServerInfo = {
      name: target.name,
      port: target.port,
      address: target.address,
      via: target.via ?? 'direct',
      tls: null,
    }
    if (target.srvName !== undefined) server.srvName = target.srvName
    const socket = await openSocket(target, opts)
    const client = new MtqpClient(socket, server, { ...opts, inactivityTimeoutMs: inactivity })
    try {
      await client.#start(target)
    } catch (e) {
      client.close()
      throw e
    }
    return client
  }

  /**
   * Sends the TRACKs in one batch, with QUIT behind them when `quit` is set (MTQPC-8), and returns one answer per
   * request in order. Never rejects: a broken connection fails the requests it did not answer.
   */
  async track(requests: readonly TrackRequest[], opts: { quit?: boolean } = {}): Promise<TrackAnswer[]> {
    const lines = requests.map((r) =>
      formatCommand(
        { verb: 'TRACK', envid: r.envid, secret: r.secret },
        { bracketEnvid: this.#opts.bracketEnvid },
      ),
    )
    const batch = lines.flatMap((l) => (l.ok ? [l.value] : []))
    if (opts.quit === true) batch.push('QUIT\r\n')
    if (batch.length > 0) this.#write(batch.join(''))
    const answers: TrackAnswer[] = []
    for (const line of lines) {
      if (!line.ok) {
        answers.push({ kind: 'failed', failure: 'rejected', reason: `not sent: ${line.error}` })
        continue
      }
      try {
        answers.push(answerOf(await this.#next(), this.#label))
      } catch (e) {
        answers.push(failed(e))
      }
    }
    if (opts.quit === true) await this.#finish()
    return answers
  }

  /** QUIT (MTQP-27) and close. */
  async quit(): Promise<void> {
    this.#write('QUIT\r\n')
    await this.#finish()
  }

  /** Drops the connection at once. */
  close(): void {
    this.#socket.destroy()
  }

  async #start(target: ConnectTarget): Promise<void> {
    const first = await this.#greet()
    const mode = this.#opts.starttls ?? 'opportunistic'
    if (mode === 'off' || !first.starttls) {
      if (mode === 'required') {
        await this.quit()
        throw new MtqpClientError('tls', `${this.#label} does not offer STARTTLS, and STARTTLS is required`)
      }
      return
    }
    const name = target.tlsName ?? target.name
    // AMB-24: the client always sends a fully qualified name, which is also what the certificate must name.
    if (isIP(name) !== 0 || !isDnsName(name, { allowSingleLabel: false })) {
      const why = `${name} is not a fully qualified host name to send in STARTTLS and check the certificate against`
      if (mode === 'required') {
        await this.quit()
        throw new MtqpClientError(
          'tls',
          `cannot start TLS with ${this.#label}: ${why} (give tlsName, --tls-name: the dotted name the server's certificate holds)`,
        )
      }
      this.#opts.warn?.(`not using TLS with ${this.#label}: ${why}`)
      return
    }
    await this.#starttls(name, mode)
  }

  /** Reads a greeting (MTQPC-2); a negative one ends the session. */
  async #greet(): Promise<Greeting> {
    const g = parseGreeting(await this.#next())
    if (!g.ok) {
      const e = g.error
      const status = `${e.indicator}${e.codes.map((c) => `/${c}`).join('')} ${printable(e.text)}`
      throw new MtqpClientError(
        e.temporary ? 'temporary' : 'refused',
        `${this.#label} refused the session: ${status.trim()}${e.temporary ? ' (try again later)' : ''}`,
      )
    }
    this.#greeting = g.value
    // RFC 3887 §11: a server that offered STARTTLS before and does not now may be under attack.
    if (this.server.tls === null)
      this.#alarm(this.#opts.tofu?.greeting(this.#label, g.value.starttls) ?? null)
    return g.value
  }

  async #starttls(name: string, mode: StarttlsPolicy): Promise<void> {
    const command = formatCommand({ verb: 'STARTTLS', domain: name })
    if (!command.ok)
      throw new MtqpClientError('tls', `cannot start TLS with ${this.#label}: ${command.error}`)
    this.#write(command.value)
    const r = await this.#next()
    if (r.indicator !== '+OK') {
      const why = `${this.#label} refused STARTTLS ${name}: ${statusText(r)}`
      if (mode === 'required') {
        await this.quit()
        throw new MtqpClientError('tls', why)
      }
      this.#opts.warn?.(`${why}; going on without TLS`)
      return
    }
    // MTQP-24: the handshake starts at once; nothing received before it counts (RFC 3887 §11).
    const plain = this.#socket
    this.#generation++
    plain.setTimeout(0)
    this.#decoder = new ResponseDecoder()
    this.#queue = []
    const secure = tlsConnect({
      socket: plain,
      servername: name,
      ca: this.#opts.ca,
      rejectUnauthorized: this.#opts.insecure !== true,
      minVersion: 'TLSv1.2',
    })
    this.#socket = secure
    this.#attach(secure)
    await this.#handshake(secure)
    this.server.tls = secure.getProtocol()
    this.server.verified = secure.authorized
    const fingerprint = secure.getPeerCertificate().fingerprint256
    if (fingerprint) this.#alarm(this.#opts.tofu?.certificate(this.#label, fingerprint) ?? null)
    // MTQPC-3: the options of the first greeting are discarded; the new greeting is the one in force.
    await this.#greet()
  }

  #handshake(secure: TLSSocket): Promise<void> {
    return new Promise((resolve, reject) => {
      secure.once('secureConnect', () => resolve())
      secure.once('error', (e: Error) => {
        reject(
          new MtqpClientError(
            'tls',
            `TLS with ${this.#label} failed: ${e.message}. Trust its certificate authority with the ca option ` +
              '(--ca FILE), or skip verification with insecure (--insecure) in test set-ups only',
          ),
        )
      })
      secure.once('close', () =>
        reject(
          this.#failure ??
            new MtqpClientError('tls', `${this.#label} closed the connection during the TLS handshake`),
        ),
      )
    })
  }

  #alarm(alarm: ReturnType<TofuMemory['greeting']>): void {
    if (alarm !== null) this.#opts.warn?.(describeTofuAlarm(alarm))
  }

  #attach(socket: Socket): void {
    const generation = this.#generation
    const current = () => generation === this.#generation
    socket.on('data', (chunk: Buffer) => {
      if (!current()) return
      this.#queue.push(...this.#decoder.push(chunk))
      this.#notify()
    })
    socket.on('error', (e: Error) => {
      if (current()) this.#fail(new MtqpClientError('unreachable', `${this.#label}: ${e.message}`))
    })
    socket.on('close', () => {
      if (!current()) return
      this.#queue.push(...this.#decoder.end())
      this.#fail(new MtqpClientError('unreachable', `${this.#label} closed the connection`))
    })
    // MTQPC-7: silence while waiting for an answer; the server may be chaining, so never under 2 minutes.
    socket.setTimeout(this.#opts.inactivityTimeoutMs ?? MIN_INACTIVITY_TIMEOUT_MS, () => {
      if (!current()) return
      const seconds = Math.round((this.#opts.inactivityTimeoutMs ?? MIN_INACTIVITY_TIMEOUT_MS) / 1000)
      this.#fail(new MtqpClientError('timeout', `${this.#label} sent nothing for ${seconds} s`))
      socket.destroy()
    })
  }

  readonly #onAbort = (): void => {
    this.#fail(new MtqpClientError('aborted', `query of ${this.#label} abandoned: out of time`))
    this.#socket.destroy()
  }

  #fail(e: MtqpClientError): void {
    this.#failure ??= e
    this.#notify()
  }

  #notify(): void {
    const wake = this.#wake
    this.#wake = null
    wake?.()
  }

  #write(data: string): void {
    if (this.#socket.writable) this.#socket.write(data, 'latin1')
  }

  /** The next response, in order; rejects once the connection is gone and nothing is left to read. */
  async #next(): Promise<MtqpResponse> {
    for (;;) {
      const r = this.#queue.shift()
      if (r !== undefined) {
        if (!r.ok)
          throw new MtqpClientError(
            'protocol',
            `${this.#label} sent something that is not MTQP: ${printable(r.error)}`,
          )
        return r.value
      }
      if (this.#failure !== null) throw this.#failure
      await new Promise<void>((resolve) => {
        this.#wake = resolve
      })
    }
  }

  /** Waits for the answer to QUIT (or the end of the connection), then closes. */
  async #finish(): Promise<void> {
    try {
      await this.#next()
    } catch {
      // The session is over either way.
    }
    this.#socket.end()
    this.#socket.destroy()
  }
}

function openSocket(target: ConnectTarget, opts: ConnectionOptions): Promise<Socket> {
  const label = serverLabel(target)
  return new Promise((resolve, reject) => {
    if (opts.signal?.aborted === true) {
      reject(new MtqpClientError('aborted', `query of ${label} abandoned: out of time`))
      return
    }
    const socket = netConnect({ host: target.address, port: target.port })
    const done = (e: MtqpClientError | null) => {
      clearTimeout(timer)
      opts.signal?.removeEventListener('abort', onAbort)
      socket.removeListener('error', onError)
      if (e === null) {
        resolve(socket)
        return
      }
      socket.destroy()
      reject(e)
    }
    const where = target.address === target.name ? label : `${label} (${target.address})`
    const onError = (e: Error) =>
      done(new MtqpClientError('unreachable', `cannot connect to ${where}: ${e.message}`))
    const onAbort = () => done(new MtqpClientError('aborted', `query of ${label} abandoned: out of time`))
    const ms = opts.connectTimeoutMs ?? 30_000
    const timer = setTimeout(
      () => done(new MtqpClientError('timeout', `cannot connect to ${where} within ${ms} ms`)),
      ms,
    )
    socket.once('error', onError)
    socket.once('connect', () => done(null))
    opts.signal?.addEventListener('abort', onAbort, { once: true })
  })
}

/** MTQPC-9: what a TRACK reply means for the user. */
function answerOf(r: MtqpResponse, label: string): TrackAnswer {
  switch (r.indicator) {
    case '+OK+': {
      // MTQPC-5: read what can be read; one bad part or field never hides the rest.
      const { value: parts, skipped } = readTrackingBody((r.lines ?? []).join('\r\n'))
      if (parts.length > 0)
        return skipped.length > 0 ? { kind: 'answered', parts, skipped } : { kind: 'answered', parts }
      return {
        kind: 'failed',
        failure: 'protocol',
        reason: `${label} sent tracking status that cannot be read: ${printable(skipped.join('; '), 1000)}`,
      }
    }
    case '+OK':
      return {
        kind: 'failed',
        failure: 'protocol',
        reason: `${label} answered TRACK without tracking status`,
      }
    case '-TEMP':
      return {
        kind: 'failed',
        failure: 'temporary',
        reason: `${label} cannot answer now (${statusText(r)}); try again later`,
      }
    case '-ERR':
      if (r.codes.includes('noinfo')) {
        return {
          kind: 'failed',
          failure: 'noinfo',
          reason: `${label} has no information about this message (-ERR/noinfo)`,
        }
      }
      if (r.codes.includes('tls-required')) {
        return {
          kind: 'failed',
          failure: 'tls-required',
          reason: `${label} answers only over TLS (${statusText(r)})`,
        }
      }
      if (r.codes.includes('insecure')) {
        return {
          kind: 'failed',
          failure: 'tls',
          reason: `${label} finds the TLS protection inadequate (${statusText(r)})`,
        }
      }
      return {
        kind: 'failed',
        failure: 'rejected',
        reason: `${label} refused the request (${statusText(r)})`,
      }
    case '-BAD':
      return {
        kind: 'failed',
        failure: 'rejected',
        reason: `${label} says the TRACK command is malformed (${statusText(r)}): a client bug, or an envid it cannot read`,
      }
  }
}

/** The status line of a reply as people read it: `-TEMP/unavailable Tracking store unavailable`. */
function statusText(r: MtqpResponse): string {
  return printable(`${r.indicator}${r.codes.map((c) => `/${c}`).join('')} ${r.text}`.trim())
}

function failed(e: unknown): TrackAnswer {
  if (e instanceof MtqpClientError) return { kind: 'failed', failure: e.failure, reason: e.message }
  return { kind: 'failed', failure: 'protocol', reason: String(e) }
}
