// The MTQP listener (RFC 3887 §2): node:net sockets wired to LineDecoder and MtqpSession, STARTTLS on the same
// socket, connection limits and the inactivity timer. Everything the protocol decides lives in session.ts; this
// file only moves bytes, keeps time and counts connections.
//
// Decisions:
// - Haraka dies on an uncaught exception (HRK-11), so the server and every socket get an 'error' listener
//   and no event handler lets an exception out: anything unexpected is logged and that connection destroyed.
// - TLS material comes from an injected provider, asked once per connection (so renewed certificates are picked up
//   without a restart). The server builds the secure context itself, because TLSSocket ignores `minVersion` when it
//   is handed a ready context, and RFC 8996 must hold in the handshake: min_tls_version is applied, or the
//   material's own minVersion when that is newer. Contexts are cached per material object.
// - The inactivity timer (MTQP-28) restarts on every complete command line, not on partial data, so trickling
//   bytes does not keep a connection open.
// - Fair slots: when every slot is taken, a newcomer is not refused while some connection has completed no command
//   for slot_idle_timeout and is answering nothing; the one idle longest is closed and the newcomer served. So slow
//   clients (one byte every few seconds never completes a line) and idle ones cannot lock others out, while the
//   inactivity timer itself stays at the RFC's 10 minutes when slots are free. max_connections_per_ip still holds.
// - Reading pauses while more than MAX_BACKLOG lines wait for an answer, or while answers wait in the socket's
//   buffer for a client that does not read them: a client pipelining faster than Redis answers, or than it reads,
//   is held back by TCP instead of filling memory.

import { randomBytes as cryptoRandomBytes } from 'node:crypto'
import { type AddressInfo, createServer, type Server, type Socket } from 'node:net'
import { performance } from 'node:perf_hooks'
import { createSecureContext, type SecureContext, type SecureContextOptions, TLSSocket } from 'node:tls'
import type { MtqpConfig } from '../config/config'
import type { Endpoint } from '../config/listen'
import { LineDecoder } from '../mtqp/framing'
import { clientKey, idlestSlot, type SlotUse } from './limits'
import {
  type ChainFn,
  connectionLimitGreeting,
  type MtqpLog,
  MtqpSession,
  type SessionOutput,
  type TrackBudget,
  type TrackingSource,
} from './session'
import { certificateDnsNames, newerTlsVersion } from './tls'

/**
 * The key, certificate and other secure-context options (for Haraka: tls_socket's certsByHost['*'], HRK-17),
 * or null when no certificate is installed. Return the same object while the material is unchanged: contexts are
 * cached per object.
 */
export type TlsProvider = () => Promise<SecureContextOptions | null>

export interface MtqpServerOptions {
  config: MtqpConfig
  store: TrackingSource
  /** The failed-TRACK budget, shared with every other node through the store (MTQP-29). */
  budget: TrackBudget
  tls: TlsProvider
  log: MtqpLog
  /** ms since the epoch; default Date.now. */
  now?: () => number
  /** Default crypto.randomBytes. */
  randomBytes?: (n: number) => Uint8Array
  /** Makes this server a chaining gateway (MTQP-30); see src/plugin/chain.ts. */
  chain?: ChainFn
}

/** A secure context and the names its certificate answers to (MTQP-23). */
interface TlsMaterial {
  context: SecureContext
  names: string[]
}

/** Random octets fetched from the system at a time: one system call per TRACK costs more than the rest of it. */
const RANDOM_POOL_OCTETS = 4096
let randomPool = Buffer.alloc(0)

/** crypto.randomBytes, served from a pool refilled in large blocks. */
function pooledRandomBytes(n: number): Uint8Array {
  if (n > RANDOM_POOL_OCTETS) return cryptoRandomBytes(n)
  if (randomPool.length < n) randomPool = cryptoRandomBytes(RANDOM_POOL_OCTETS)
  const out = randomPool.subarray(0, n)
  randomPool = randomPool.subarray(n)
  return out
}

/** An open connection's hold on a slot. */
interface Slot extends SlotUse {
  client: string
  socket: Socket
  /** Gives the slot back; only the first call counts. */
  release(): void
}

/** Lines waiting for an answer before the socket stops being read. */
const MAX_BACKLOG = 64

/** ms a closing socket may take to flush before it is destroyed. */
const LINGER_MS = 5000

export class MtqpServer {
  readonly #o: MtqpServerOptions
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  /** Open sessions per client key, for max_connections_per_ip. */
  readonly #perClient = new Map<string, number>()
  readonly #slots = new Set<Slot>()
  readonly #contexts = new WeakMap<SecureContextOptions, TlsMaterial | null>()

  constructor(opts: MtqpServerOptions) {
    this.#o = opts
    // No Nagle: pipelined answers leave in several writes, and waiting for the client's delayed ACK between them
    // would stall every batch by tens of milliseconds.
    this.#server = createServer({ noDelay: true }, (socket) =>
      this.#guard(socket, () => this.#accept(socket)),
    )
    this.#server.on('error', (e) => opts.log.warn(`MTQP listener: ${e.message}`))
  }

  /** Open sessions (connections refused at a limit are not counted). */
  get sessions(): number {
    return this.#slots.size
  }

  /** Listen on `endpoint` (default: the configured one); resolves with the bound address. */
  listen(endpoint: Endpoint = this.#o.config.listen): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const failed = (e: Error) => reject(e)
      this.#server.once('error', failed)
      this.#server.listen(endpoint.port, endpoint.host, () => {
        this.#server.removeListener('error', failed)
        resolve(this.#server.address() as AddressInfo)
      })
    })
  }

  /** Stop listening and drop every open connection at once; resolves when all are gone. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.#server.listening) {
        for (const s of this.#sockets) s.destroy()
        resolve()
        return
      }
      this.#server.close(() => resolve())
      for (const s of this.#sockets) s.destroy()
    })
  }

  /** Run a socket handler so that nothing escapes it: an unexpected error costs that connection only. */
  #guard(socket: Socket, fn: () => void): void {
    try {
      fn()
    } catch (e) {
      this.#o.log.warn(`MTQP ${socket.remoteAddress}: ${e instanceof Error ? e.stack : e}`)
      socket.destroy()
    }
  }

  #accept(socket: Socket): void {
    socket.on('error', (e) => this.#o.log.info(`MTQP ${socket.remoteAddress}: ${e.message}`))
    this.#sockets.add(socket)
    socket.once('close', () => this.#sockets.delete(socket))
    const client = clientKey(socket.remoteAddress ?? '')
    const { maxConnections, maxConnectionsPerIp, slotIdleTimeoutMs } = this.#o.config
    const fromClient = this.#perClient.get(client) ?? 0
    if (fromClient < maxConnectionsPerIp && this.#slots.size >= maxConnections) {
      const idle = idlestSlot(this.#slots, performance.now(), slotIdleTimeoutMs)
      if (idle !== undefined) {
        this.#o.log.info(`MTQP ${idle.client}: idle connection closed to make room for ${client}`)
        idle.release()
        idle.socket.destroy()
      }
    }
    // MTQP-29: refuse with a negative greeting (MTQP-11) rather than a silent reset, so the client knows to retry.
    if (this.#slots.size >= maxConnections || fromClient >= maxConnectionsPerIp) {
      const scope = fromClient >= maxConnectionsPerIp ? 'client' : 'total'
      this.#o.log.info(`MTQP ${client}: connection refused, too many connections (${scope})`)
      socket.write(connectionLimitGreeting(scope), 'latin1')
      hangUp(socket)
      return
    }
    this.#perClient.set(client, fromClient + 1)
    let held = true
    const slot: Slot = {
      client,
      socket,
      lastCommand: performance.now(),
      busy: false,
      release: () => {
        if (!held) return
        held = false
        this.#slots.delete(slot)
        const left = (this.#perClient.get(client) ?? 1) - 1
        if (left > 0) this.#perClient.set(client, left)
        else this.#perClient.delete(client)
      },
    }
    this.#slots.add(slot)
    socket.once('close', slot.release)
    this.#material().then(
      (material) => this.#guard(socket, () => this.#serve(socket, slot, material)),
      (e: unknown) => this.#guard(socket, () => this.#serve(socket, slot, null, e)),
    )
  }

  /** The TLS material of the moment, or null when there is none or it is unusable. */
  async #material(): Promise<TlsMaterial | null> {
    const options = await this.#o.tls()
    if (options === null) return null
    const cached = this.#contexts.get(options)
    if (cached !== undefined) return cached
    let material: TlsMaterial | null = null
    try {
      const cert = Array.isArray(options.cert) ? options.cert[0] : options.cert
      material = {
        context: createSecureContext({
          ...options,
          minVersion: newerTlsVersion(this.#o.config.minTlsVersion, options.minVersion), // RFC 8996
        }),
        names:
          cert === undefined ? [] : certificateDnsNames(typeof cert === 'string' ? cert : Buffer.from(cert)),
      }
    } catch (e) {
      this.#o.log.warn(`MTQP: TLS key or certificate unusable, STARTTLS disabled: ${e}`)
    }
    this.#contexts.set(options, material)
    return material
  }

  #serve(socket: Socket, slot: Slot, material: TlsMaterial | null, failure?: unknown): void {
    if (failure !== undefined) this.#o.log.warn(`MTQP: TLS provider failed, STARTTLS disabled: ${failure}`)
    if (socket.destroyed) return
    new Connection(socket, slot, material, this.#o).start()
  }
}

/** One accepted connection: its transport (plain, later TLS), framing, timer and session. */
class Connection {
  #socket: Socket
  readonly #decoder = new LineDecoder()
  readonly #session: MtqpSession
  readonly #timer: NodeJS.Timeout
  readonly #log: MtqpLog
  readonly #client: string
  readonly #slot: Slot
  readonly #material: TlsMaterial | null

  constructor(socket: Socket, slot: Slot, material: TlsMaterial | null, o: MtqpServerOptions) {
    this.#socket = socket
    this.#slot = slot
    const client = slot.client
    this.#client = client
    this.#material = material
    this.#log = o.log
    this.#session = new MtqpSession({
      config: o.config,
      certificateNames: material === null ? null : material.names,
      client,
      store: o.store,
      budget: o.budget,
      now: o.now ?? Date.now,
      randomBytes: o.randomBytes ?? pooledRandomBytes,
      monotonic: () => performance.now(),
      sleepUntil,
      log: o.log,
      output: (out) => this.#output(out),
      ...(o.chain === undefined ? {} : { chain: o.chain }),
    })
    // MTQP-28: hang up on a client silent for inactivity_timeout; the socket, not the timer, keeps Node running.
    this.#timer = setTimeout(() => this.#timeout(), o.config.inactivityTimeoutMs)
    this.#timer.unref()
    socket.once('close', () => {
      clearTimeout(this.#timer)
      this.#session.closed()
    })
  }

  start(): void {
    this.#session.start()
    this.#socket.on('data', this.#onData)
  }

  readonly #onData = (chunk: Buffer): void => {
    this.#guard(() => {
      const items = this.#decoder.push(chunk)
      if (items.length === 0) return
      this.#timer.refresh()
      this.#slot.lastCommand = performance.now()
      this.#session.receive(items)
      this.#noteBusy()
      const socket = this.#socket
      if (this.#session.backlog > MAX_BACKLOG) {
        socket.pause()
        this.#session.whenIdle().then(() => socket.resume())
      } else if (socket.writableNeedDrain) {
        socket.pause()
        socket.once('drain', () => socket.resume())
      }
    })
  }

  /** Marks the slot busy while commands are being answered; their completion counts as activity. */
  #noteBusy(): void {
    if (this.#slot.busy || this.#session.backlog === 0) return
    this.#slot.busy = true
    this.#session.whenIdle().then(() => {
      this.#slot.busy = false
      this.#slot.lastCommand = performance.now()
    })
  }

  #output(out: SessionOutput): void {
    switch (out.kind) {
      case 'write':
        if (!this.#socket.writable) return
        // Answers produced in one tick (a pipelined batch) leave in one write system call.
        if (this.#socket.writableCorked === 0) {
          const socket = this.#socket
          socket.cork()
          process.nextTick(() => socket.uncork())
        }
        this.#socket.write(out.data, 'latin1')
        return
      case 'close':
        clearTimeout(this.#timer)
        hangUp(this.#socket)
        return
      case 'start-tls':
        this.#startTls()
        return
    }
  }

  /** MTQP-24: after the +OK, stop reading plaintext, drop what was not framed (MTQP-26), and hand over to TLS. */
  #startTls(): void {
    const material = this.#material
    const plain = this.#socket
    plain.removeListener('data', this.#onData)
    this.#decoder.discardBuffered()
    if (material === null) {
      // The session only accepts STARTTLS when a certificate is installed.
      plain.destroy()
      return
    }
    const secure = new TLSSocket(plain, { isServer: true, secureContext: material.context })
    this.#socket = secure
    // MTQP-24: a failed handshake SHOULD drop the connection; the error destroys the socket.
    secure.on('error', (e) => {
      this.#log.info(`MTQP ${this.#client}: TLS: ${e.message}`)
      secure.destroy()
    })
    secure.once('secure', () =>
      this.#guard(() => {
        this.#timer.refresh()
        this.#session.tlsEstablished(secure.getProtocol())
      }),
    )
    secure.on('data', this.#onData)
  }

  #timeout(): void {
    this.#guard(() => {
      this.#log.info(`MTQP ${this.#client}: inactivity timeout, closing`)
      this.#session.closed()
      hangUp(this.#socket)
    })
  }

  #guard(fn: () => void): void {
    try {
      fn()
    } catch (e) {
      this.#log.warn(`MTQP ${this.#client}: ${e instanceof Error ? e.stack : e}`)
      this.#socket.destroy()
    }
  }
}

/**
 * Resolves at the first timer tick at or after `deadline` (performance.now ms). Timers take whole milliseconds and
 * may fire early by a fraction of one, so it waits again until the deadline has really passed.
 */
function sleepUntil(deadline: number): Promise<void> {
  return new Promise((resolve) => {
    const check = () => {
      const left = deadline - performance.now()
      if (left <= 0) resolve()
      else setTimeout(check, Math.ceil(left))
    }
    check()
  })
}

/** End politely (flush, FIN or TLS close_notify), and destroy if the peer does not let the socket close in time. */
function hangUp(socket: Socket): void {
  socket.end()
  const linger = setTimeout(() => socket.destroy(), LINGER_MS)
  linger.unref()
  socket.once('close', () => clearTimeout(linger))
}
