// Per-client limits of the MTQP server (MTQP-29) that outlive a connection: which address a limit counts, and the
// budget of failed TRACKs that slows down guessing of envids and secrets. Pure: the clock is a parameter.
import { isIPv4, isIPv6 } from 'node:net'

/**
 * The key a per-client limit counts: an IPv4 address as is (also when IPv4-mapped), an IPv6 address by its /64,
 * because one IPv6 client commonly holds a whole /64 and could otherwise multiply its budget at will.
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  if (mapped !== null && isIPv4(mapped[1]!)) return mapped[1]!
  const bare = address.replace(/%.*$/, '')
  if (!isIPv6(bare)) return address
  const [head = '', tail] = bare.split('::')
  const groups = (part: string | undefined) => (part ? part.split(':') : [])
  const left = groups(head)
  // Only the first four groups matter, and an embedded IPv4 tail (two groups' worth) never reaches them.
  const right = tail === undefined ? [] : groups(tail).flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]))
  const full = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${full
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`
}

export interface FailedTrackBudgetOptions {
  /** Failed TRACKs allowed per client and window; 0 turns the budget off. */
  limit: number
  /** Length of a window in ms. */
  windowMs: number
  /** Clients remembered at once; beyond it expired entries are swept, then the oldest forgotten. Default 10000. */
  maxClients?: number
}

interface Window {
  start: number
  failures: number
}

/**
 * Counts TRACKs answered -ERR/noinfo per client in fixed windows. Once a client has spent its budget, every TRACK
 * from it is refused until the window ends, whatever envid it names, so the refusal itself reveals nothing (AMB-13).
 * Memory is bounded by maxClients.
 */
export class FailedTrackBudget {
  readonly #limit: number
  readonly #windowMs: number
  readonly #maxClients: number
  readonly #windows = new Map<string, Window>()

  constructor(opts: FailedTrackBudgetOptions) {
    this.#limit = opts.limit
    this.#windowMs = opts.windowMs
    this.#maxClients = opts.maxClients ?? 10000
  }

  /** Whether `client` may TRACK at `now` (ms). */
  allows(client: string, now: number): boolean {
    if (this.#limit === 0) return true
    const w = this.#current(client, now)
    return w === undefined || w.failures < this.#limit
  }

  /** Count one failed TRACK of `client` at `now` (ms). */
  fail(client: string, now: number): void {
    if (this.#limit === 0) return
    const w = this.#current(client, now)
    if (w !== undefined) {
      w.failures++
      return
    }
    if (this.#windows.size >= this.#maxClients) this.#makeRoom(now)
    this.#windows.set(client, { start: now, failures: 1 })
  }

  /** The client's window if it is still running; an ended one is forgotten. */
  #current(client: string, now: number): Window | undefined {
    const w = this.#windows.get(client)
    if (w === undefined || now - w.start < this.#windowMs) return w
    this.#windows.delete(client)
    return undefined
  }

  #makeRoom(now: number): void {
    for (const [client, w] of this.#windows) {
      if (now - w.start >= this.#windowMs) this.#windows.delete(client)
    }
    // Still full: forget the oldest window (Map order is insertion order).
    if (this.#windows.size >= this.#maxClients) {
      const oldest = this.#windows.keys().next()
      if (oldest.done !== true) this.#windows.delete(oldest.value)
    }
  }
}
