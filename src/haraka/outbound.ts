// What this plugin reads from and changes in Haraka's outbound internals. Isolated here so a Haraka upgrade breaks
// one file: the retry schedule, the outbound seam (HRK-16), and the shapes of the delivery hooks' arguments.
import { isIP } from 'node:net'
import { type Forwarder, type HopRecord, HopSession } from '../relay/session'
import type { HarakaMx, HarakaPlugin, HMailItem, OutboundSocket } from './types'

/** Haraka's default schedule when outbound.ini sets nothing: 2^(n+5) s for n = 1..maxTempFailures-1 (13). */
const DEFAULT_INTERVALS = Array.from({ length: 12 }, (_, i) => 2 ** (i + 6))

/**
 * The outbound queue's retry intervals in seconds, as the running Haraka applies them (outbound.ini
 * temp_fail_intervals, or the schedule maxTempFailures implies); the default schedule when that module cannot be
 * reached (as under haraka-test-fixtures, whose haraka_require does not resolve outbound modules).
 */
export function retrySchedule(plugin: HarakaPlugin): number[] {
  const intervals = outboundConfig(plugin)?.cfg?.temp_fail_intervals
  return Array.isArray(intervals) && intervals.every((n) => typeof n === 'number')
    ? intervals
    : DEFAULT_INTERVALS
}

type OutboundConfig = { cfg?: { temp_fail_intervals?: unknown } }

/**
 * Haraka's outbound/config module, required once per plugin: a require resolves the path on the file system, which
 * per message cost more than the tracking write. The module re-reads outbound.ini into `cfg` itself.
 */
const outboundConfigs = new WeakMap<HarakaPlugin, OutboundConfig | null>()
function outboundConfig(plugin: HarakaPlugin): OutboundConfig | null {
  let obc = outboundConfigs.get(plugin)
  if (obc === undefined) {
    try {
      obc = plugin.haraka_require('outbound/config') as OutboundConfig
    } catch {
      obc = null
    }
    outboundConfigs.set(plugin, obc)
  }
  return obc
}

/** Seconds the outbound queue keeps retrying a message: the sum of its retry intervals. */
export function queueLifetime(plugin: HarakaPlugin): number {
  return retrySchedule(plugin).reduce((sum, n) => sum + n, 0)
}

/** The next hop's host name, as Haraka names it in the `delivered` hook (hmail.js:641-644): Remote-MTA (AMB-30). */
export function mxName(mx: HarakaMx | undefined): string | null {
  if (!mx?.exchange) return null
  return isIP(mx.exchange) && mx.from_dns && !isIP(mx.from_dns) ? mx.from_dns : mx.exchange
}

/**
 * When the queue file was deferred before the attempt now ending, from what survives a restart (HRK-23): the file's
 * name carries this attempt's time (next_attempt), which that deferral set to its own time plus the interval it was
 * given (outbound/hmail.js deferred_respond; the deferred hook runs before the rename). ms since the epoch; null on a
 * first attempt (num_failures is 1 by the deferred hook) or a name not in Haraka's current seven-part layout.
 */
export function previousDeferral(hmail: HMailItem, schedule: readonly number[]): number | null {
  const parts = hmail.filename.split('_')
  const nextAttempt = parts.length === 7 ? Number(parts[1]) : Number.NaN
  const interval = hmail.num_failures >= 2 ? schedule[hmail.num_failures - 2] : undefined
  return Number.isSafeInteger(nextAttempt) && interval !== undefined ? nextAttempt - interval * 1000 : null
}

/**
 * Identifies one outcome of one delivery attempt of one queue file: a replayed hook gives the same id, another attempt
 * (a retry, or the queue file a split made, which has its own uid) a different one.
 */
export function attemptId(hmail: HMailItem, outcome: string): string {
  // Queue file names are arrival_nextattempt_attempts_pid_uid_counter_host (outbound/qfile.js); the uid is kept
  // across renames.
  const uid = hmail.filename.split('_')[4] ?? hmail.filename
  return `${hmail.todo.uuid}:${uid}:${hmail.num_failures}:${outcome}`
}

// ---------------------------------------------------------------------------------------------------------------
// The outbound seam. Haraka 3.3 sends no MAIL/RCPT parameters but SMTPUTF8 and has no hook to add any, nor does it
// expose the next hop's EHLO keywords (HRK-4). HMailItem.prototype.try_deliver_host_on_socket runs once per
// connection to a next hop, with the socket it will use: wrapping it lets us see every reply line before Haraka does
// and rewrite the MAIL FROM and RCPT TO lines it writes. Everything else on the socket passes untouched.

type TryDeliver = (
  this: HMailItem,
  mx: HarakaMx,
  host: string,
  port: number,
  socket: OutboundSocket,
) => unknown
interface HMailPrototype {
  try_deliver_host_on_socket?: TryDeliver
  [SEAM]?: true
}

const SEAM = Symbol.for('haraka-plugin-mtrk.try_deliver_host_on_socket')

/** Chooses what to forward for a queued message; null when it has nothing to forward. */
export type Planner = (hmail: HMailItem) => Forwarder | null

/** The latest registration's: the wrap is installed once per process, its behaviour follows the plugin. */
let planner: Planner = () => null
let reportError: (e: unknown) => void = () => {}

/** The hop of each hmail's current delivery attempt. Kept in memory, not in the hmail's notes: see hopOf. */
const hops = new WeakMap<HMailItem, HopRecord>()

/** The prototype when the running Haraka has the method the seam wraps, with the arity this code relies on. */
export function seamPrototype(hmailModule: unknown): HMailPrototype | null {
  const proto = (hmailModule as { prototype?: HMailPrototype } | null)?.prototype
  const fn = proto?.try_deliver_host_on_socket
  return proto && typeof fn === 'function' && fn.length === 4 ? proto : null
}

/**
 * Wraps try_deliver_host_on_socket once per process (master and cluster workers each load the plugin). Returns false
 * when the seam is missing: nothing is forwarded then, and no recipient can be reported `transferred`.
 */
export function installOutboundSeam(
  plugin: HarakaPlugin,
  plan: Planner,
  onError: (e: unknown) => void,
): boolean {
  planner = plan
  reportError = onError
  let proto: HMailPrototype | null
  try {
    proto = seamPrototype(plugin.haraka_require('outbound/hmail'))
  } catch {
    proto = null
  }
  if (!proto?.try_deliver_host_on_socket) return false
  if (proto[SEAM]) return true
  const original = proto.try_deliver_host_on_socket
  proto.try_deliver_host_on_socket = function (this: HMailItem, mx, host, port, socket) {
    try {
      watch(this, mx, host, socket)
    } catch (e) {
      reportError(e)
    }
    return original.call(this, mx, host, port, socket)
  }
  proto[SEAM] = true
  return true
}

function watch(hmail: HMailItem, mx: HarakaMx, host: string, socket: OutboundSocket): void {
  const session = new HopSession(mxName(mx) ?? host, planner(hmail))
  hops.set(hmail, session.record)
  // Added before Haraka's own listener, so the session knows the EHLO keywords when Haraka answers with MAIL FROM.
  socket.on('line', (line) => {
    try {
      session.reply(line)
    } catch (e) {
      reportError(e)
    }
  })
  // Per socket instance; it survives STARTTLS, which swaps the stream underneath (tls_socket.js pluggableStream).
  const write = socket.write
  socket.write = function (this: OutboundSocket, data: unknown, ...rest: unknown[]) {
    let out = data
    if (typeof data === 'string') {
      try {
        out = session.command(data)
      } catch (e) {
        reportError(e)
      }
    }
    return write.call(this, out, ...rest)
  }
}

/**
 * The next hop of the hmail's current attempt, if it reached one. In memory, keyed by the hmail object: the hooks of
 * an attempt run on the object that made it, in the same process; nothing connection-specific leaks into the queue
 * file (todo.notes, copied into split queue files and read after a restart) or into hmail.notes (for a fresh message
 * that is the transaction's notes, shared by the hmails of every destination domain).
 */
export function hopOf(hmail: HMailItem): HopRecord | undefined {
  return hops.get(hmail)
}

/** A new delivery attempt begins: the last one's hop no longer describes it. */
export function forgetHop(hmail: HMailItem): void {
  hops.delete(hmail)
}

// ---------------------------------------------------------------------------------------------------------------
// Delivery status notifications: reading the queued message back, and queueing a report (outbound.send_email).

export interface QueuedMessage {
  /** What was read, dot-stuffing undone. */
  content: string
  /** `content` is the whole message. */
  complete: boolean
  /** Octets of the message in the queue file. */
  size: number
}

/**
 * Reads a queued message back, at most `limit` octets; with `headersOnly`, stops once the header block ended. A queue
 * file that cannot be read gives what was read so far (possibly nothing): a report never waits on a broken file.
 */
export function readQueuedMessage(
  hmail: HMailItem,
  limit: number,
  headersOnly: boolean,
): Promise<QueuedMessage> {
  const size = Math.max(0, hmail.file_size - hmail.data_start)
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let read = 0
    let settled = false
    const finish = (complete: boolean) => {
      if (settled) return
      settled = true
      // The queue file is dot-stuffed for SMTP (outbound/index.js process_delivery).
      const text = Buffer.concat(chunks).subarray(0, limit).toString('utf8')
      resolve({ content: text.replace(/(^|\n)\.\./g, '$1.'), complete: complete && read <= limit, size })
    }
    let stream: NodeJS.ReadableStream
    try {
      stream = hmail.data_stream()
    } catch {
      finish(false)
      return
    }
    let tail = ''
    stream.on('data', (chunk: Buffer | string) => {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : chunk
      chunks.push(b)
      read += b.length
      // The empty line that ends the header block may straddle two chunks: look at this one and the last few octets.
      const seen = tail + b.toString('latin1')
      tail = seen.slice(-3)
      const headersDone = headersOnly && /\r?\n\r?\n/.test(seen)
      if (read > limit || headersDone) {
        ;(stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.()
        finish(false)
      }
    })
    stream.on('end', () => finish(true))
    stream.on('error', () => finish(false))
    // Closed without an end (destroyed elsewhere, a file removed under it): settled all the same, never left hanging.
    stream.on('close', () => finish(false))
  })
}

interface OutboundModule {
  send_email(
    from: string,
    to: string,
    contents: string,
    next: (code: number, msg?: string) => void,
    options?: { origin?: unknown },
  ): void
}

/**
 * Queues a report with MAIL FROM:<> to one recipient through Haraka's outbound queue (RFC 3461 §6.1). Resolves with
 * null once queued, else with the reason it was not (a refused address, a queue that cannot write).
 */
export function queueReport(
  plugin: HarakaPlugin,
  to: string,
  text: string,
  ok: number,
): Promise<string | null> {
  return new Promise((resolve) => {
    try {
      const outbound = plugin.haraka_require('outbound') as OutboundModule
      outbound.send_email(
        '<>',
        `<${to}>`,
        text,
        (code, msg) => resolve(code === ok ? null : String(msg ?? code)),
        {
          origin: plugin,
        },
      )
    } catch (e) {
      // One log line: a module error's message goes on with its require stack.
      resolve((e instanceof Error ? e.message : String(e)).split('\n')[0] ?? 'unknown error')
    }
  })
}

// ---------------------------------------------------------------------------------------------------------------
// Why no next hop could be reached. Haraka's reason is only "Tried all MXs" (hmail.js try_deliver); the connection
// errors are logged, never passed on. Wrapping client_pool.get_client sees each connection's error, and wrapping
// HMailItem.prototype.try_deliver sees which next hop each queue file is about to try (its first, before the shift).

const CONNECT_SEAM = Symbol.for('haraka-plugin-mtrk.connect-errors')

type GetClient = (mx: HarakaMx, cb: (err: unknown, socket: unknown) => void) => unknown
interface Seamed {
  [CONNECT_SEAM]?: true
}

/** The last connection error per next hop object, and the next hop each queue file tried last. */
const connectErrors = new WeakMap<HarakaMx, string>()
const lastTried = new WeakMap<HMailItem, HarakaMx>()

/** Installs both wraps once per process; false when this Haraka lacks either (the reason then stays Haraka's). */
export function watchConnections(plugin: HarakaPlugin): boolean {
  try {
    const pool = plugin.haraka_require('outbound/client_pool') as Seamed & { get_client?: GetClient }
    const proto = (
      plugin.haraka_require('outbound/hmail') as { prototype?: Seamed & { try_deliver?: unknown } }
    ).prototype
    const getClient = pool.get_client
    const tryDeliver = proto?.try_deliver
    if (!proto || typeof getClient !== 'function' || typeof tryDeliver !== 'function') return false
    if (!pool[CONNECT_SEAM]) {
      pool.get_client = function (this: unknown, mx, cb) {
        return getClient.call(this, mx, (err, socket) => {
          if (err) connectErrors.set(mx, `${mxName(mx) ?? 'next hop'}: ${String(err).split('\n')[0]}`)
          else connectErrors.delete(mx)
          cb(err, socket)
        })
      }
      pool[CONNECT_SEAM] = true
    }
    if (!proto[CONNECT_SEAM]) {
      proto.try_deliver = function (this: HMailItem & { mxlist?: HarakaMx[] }, ...args: unknown[]) {
        const mx = this.mxlist?.[0]
        if (mx) lastTried.set(this, mx)
        return (tryDeliver as (...a: unknown[]) => unknown).apply(this, args)
      }
      proto[CONNECT_SEAM] = true
    }
    return true
  } catch {
    return false
  }
}

/**
 * Haraka's reason, with the connection error of the last next hop tried when Haraka only says it tried them all:
 * `Tried all MXs (mx.far.test: connect ECONNREFUSED 192.0.2.1:25)`, so the sender sees why (AMB-40).
 */
export function explainedReason(hmail: HMailItem, reason: string): string {
  const mx = lastTried.get(hmail)
  const why = mx ? connectErrors.get(mx) : undefined
  return why !== undefined && /^(?:Too many failures \()?Tried all MXs/.test(reason)
    ? `${reason} (${why})`
    : reason
}
