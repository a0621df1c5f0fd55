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
