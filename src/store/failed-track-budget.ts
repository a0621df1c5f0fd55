// The failed-TRACK budget (MTQP-29, RFC 3887 §11), kept in Redis so that every node of a mail system (and every
// process of one node) draws on the same budget: per client address and a global ceiling per minute.
//
// Decisions:
// - A TRACK reserves one failure before it is answered, atomically in Lua (check both counters, then count both);
//   a TRACK that succeeds gives its reservation back. Checking first and counting after the answer would let
//   concurrent TRACKs (pipelined, many connections, many nodes) all pass the check before any failure is counted.
// - Batched: the reservations and releases of one event-loop turn (every TRACK that arrived in one poll phase, every
//   pipelined TRACK of one read) go to Redis as one Lua call, releases first, then each reservation checked against
//   its limits in the order asked, as if it came alone. A TRACK then costs a share of one call instead of two calls.
//   Nobody waits for a release: it rides with the next batch of reservations, or goes alone RELEASE_WAIT_MS later;
//   a reservation of the same client's counters meanwhile takes its place without asking Redis (the two net to
//   nothing). So a client asking again and again costs no call at all, and a reservation is held by an idle
//   connection for RELEASE_WAIT_MS at most: about as long as a TRACK takes.
// - Counters expire by themselves (PEXPIRE set when a window opens): nothing to sweep, no table to evict from, so
//   one wrong TRACK from each of many other addresses cannot make Redis forget an exhausted one.
// - Cluster: every key carries the hash tag `{failed-track}`, so all keys of one call are in one slot (and every
//   budget key lives on one node). When the prefix has a hash tag of its own, Redis uses that one: still one slot.
// - Redis down or slow: reserve() rejects, and the MTQP server answers -TEMP (fail closed): no Redis, no guesses.
// - A reservation may count one of the two counters only (BudgetScope): a tracking page holds each person to the
//   per-address budget, and its own listener, asked by the page for all of them, holds the page to the global one.
import type { Result } from 'ioredis'
import type { RedisClient } from './redis'

/**
 * Every reservation and release of one event-loop turn, in the order they were asked for.
 * KEYS[1] the global counter, KEYS[2..] the client counters the batch names.
 * ARGV: one group of 5 per operation: 'g' (give back) or 'r' (reserve); the index in KEYS of the client's counter;
 * failures allowed per client and window (0: the client counter is not counted); the client window in ms; failures
 * allowed in all per minute (0: the global counter is not counted).
 * Returns one integer per 'r', in order: 1 when a failure was reserved (its counters counted), 0 when a limit is
 * reached (nothing counted). A 'g' gives back the counters its limits name; one that expired meanwhile is left alone
 * (DECR keeps TTLs).
 */
const BATCH = `
local seen = {}
local function count(key)
  local c = seen[key]
  if c == nil then
    c = tonumber(redis.call('GET', key) or '0')
    seen[key] = c
  end
  return c
end
local function take(key, ms)
  local c = redis.call('INCR', key)
  if c == 1 then redis.call('PEXPIRE', key, ms) end
  seen[key] = c
end
local function give(key)
  if count(key) > 0 then seen[key] = redis.call('DECR', key) end
end
local out = {}
for i = 1, #ARGV, 5 do
  local client = KEYS[tonumber(ARGV[i + 1])]
  local perClient, perMinute = tonumber(ARGV[i + 2]), tonumber(ARGV[i + 4])
  if ARGV[i] == 'g' then
    if perClient > 0 then give(client) end
    if perMinute > 0 then give(KEYS[1]) end
  elseif (perClient > 0 and count(client) >= perClient) or (perMinute > 0 and count(KEYS[1]) >= perMinute) then
    out[#out + 1] = 0
  else
    if perClient > 0 then take(client, ARGV[i + 3]) end
    if perMinute > 0 then take(KEYS[1], 60000) end
    out[#out + 1] = 1
  end
end
return out
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    mtrkFailedTrackBatch(numberOfKeys: number, ...keysAndArgs: (string | number)[]): Result<number[], Context>
  }
}

/** Operations per Lua call: a bigger batch is split, so that one call never holds Redis up for long. */
const MAX_BATCH = 256

/**
 * How long a release waits for a batch of reservations to ride with, in ms. While it waits it still counts against
 * its client and the global ceiling, so it is kept to a few ms: about as long as a TRACK holds its reservation.
 */
const RELEASE_WAIT_MS = 5

interface Operation {
  /** 'r' reserve, 'g' give back. */
  op: 'r' | 'g'
  clientKey: string
  perClient: number
  windowMs: number
  perMinute: number
  /** A reservation's caller; absent for a release, which nobody waits for. */
  settle?: { resolve(reserved: boolean): void; reject(e: unknown): void }
}

/** Whether two operations count the same counters: the same client's, and the global one, or not. */
function sameCounters(a: Operation, b: Operation): boolean {
  return (
    a.clientKey === b.clientKey && a.perClient > 0 === b.perClient > 0 && a.perMinute > 0 === b.perMinute > 0
  )
}

/**
 * Collects the operations on one global counter for the rest of this event-loop turn (all TRACKs that arrived in
 * one poll phase, all pipelined TRACKs of one read) and sends them as one Lua call: releases first, then reservations
 * in the order they were asked for, each checked against its limits as if it came alone.
 */
class Batcher {
  readonly #client: RedisClient
  readonly #globalKey: string
  #releases: Operation[] = []
  #reserves: Operation[] = []
  #scheduled = false
  #releaseTimer: NodeJS.Timeout | null = null

  constructor(client: RedisClient, globalKey: string) {
    this.#client = client
    this.#globalKey = globalKey
  }

  add(operation: Operation): void {
    if (operation.op === 'g') {
      this.#releases.push(operation)
      if (this.#scheduled || this.#releaseTimer !== null) return
      this.#releaseTimer = setTimeout(() => this.#flush(), RELEASE_WAIT_MS)
      // A release lost at exit only costs one guess: it must not keep a closing process alive.
      this.#releaseTimer.unref()
      return
    }
    // A release still waiting and a reservation of the same counters net to nothing, and the reservation always fits
    // (the counters held the released one): a client asking again within RELEASE_WAIT_MS costs Redis no call.
    // Only while connected: without Redis, a reservation fails closed whatever was given back.
    const same =
      this.#client.status === 'ready' ? this.#releases.findIndex((g) => sameCounters(g, operation)) : -1
    if (same >= 0) {
      this.#releases.splice(same, 1)
      operation.settle?.resolve(true)
      return
    }
    this.#reserves.push(operation)
    if (this.#scheduled) return
    this.#scheduled = true
    // setImmediate, not a microtask: it runs after the poll phase, so every connection read in it joins the batch.
    setImmediate(() => this.#flush())
  }

  #flush(): void {
    this.#scheduled = false
    if (this.#releaseTimer !== null) clearTimeout(this.#releaseTimer)
    this.#releaseTimer = null
    const all = this.#releases.concat(this.#reserves)
    this.#releases = []
    this.#reserves = []
    for (let i = 0; i < all.length; i += MAX_BATCH) this.#send(all.slice(i, i + MAX_BATCH))
  }

  #send(batch: Operation[]): void {
    const keys = [this.#globalKey]
    const index = new Map<string, number>()
    const args: (string | number)[] = []
    for (const o of batch) {
      let k = index.get(o.clientKey)
      if (k === undefined) {
        k = keys.push(o.clientKey)
        index.set(o.clientKey, k)
      }
      args.push(o.op, k, o.perClient, o.windowMs, o.perMinute)
    }
    const waiting = batch.flatMap((o) => (o.settle === undefined ? [] : [o.settle]))
    this.#client.mtrkFailedTrackBatch(keys.length, ...keys, ...args).then(
      (reserved) => {
        for (const [i, w] of waiting.entries()) w.resolve(reserved[i] === 1)
      },
      // A lost release only costs one guess; a reservation that cannot be vouched for refuses its TRACK.
      (e: unknown) => {
        for (const w of waiting) w.reject(e)
      },
    )
  }
}

const batchers = new WeakMap<RedisClient, Map<string, Batcher>>()

/** The batcher of `globalKey` on `client`; ioredis loads the script once per connection (EVALSHA, then EVAL). */
function batcherOf(client: RedisClient, globalKey: string): Batcher {
  let byKey = batchers.get(client)
  if (byKey === undefined) {
    client.defineCommand('mtrkFailedTrackBatch', { lua: BATCH })
    byKey = new Map()
    batchers.set(client, byKey)
  }
  let batcher = byKey.get(globalKey)
  if (batcher === undefined) {
    batcher = new Batcher(client, globalKey)
    byKey.set(globalKey, batcher)
  }
  return batcher
}

export interface FailedTrackLimits {
  /** Key prefix of the plugin ([redis] prefix). */
  prefix: string
  /** Failed TRACKs per client address and window; 0: no per-address limit. */
  perClient: number
  /** Length of a client's window in ms; it opens with the client's first failure. */
  windowMs: number
  /** Failed TRACKs of all clients together per minute; 0: no global ceiling. */
  perMinute: number
}

/**
 * Which counters a reservation counts: `both` (a client asking for itself), `client` (a tracking page, for the person
 * it asks for: the global ceiling is its listener's to count), `global` (a client in [mtqp] failed_track_proxies).
 */
export type BudgetScope = 'both' | 'client' | 'global'

/** The failed-TRACK budget shared through Redis by every node (src/mtqp/session.ts TrackBudget fits). */
export class FailedTrackBudget {
  readonly #client: RedisClient
  readonly #limits: FailedTrackLimits
  readonly #batcher: Batcher

  constructor(client: RedisClient, limits: FailedTrackLimits) {
    this.#client = client
    this.#limits = limits
    this.#batcher = batcherOf(client, this.globalKey)
  }

  /** The same budget in the same Redis, counted against other limits (after a configuration reload). */
  withLimits(limits: FailedTrackLimits): FailedTrackBudget {
    return new FailedTrackBudget(this.#client, limits)
  }

  /** `<prefix>{failed-track}:client:<client>`: one counter per client address (an IPv6 /64, see clientKey). */
  clientKey(client: string): string {
    return `${this.#limits.prefix}{failed-track}:client:${client}`
  }

  /** `<prefix>{failed-track}:all`: failed TRACKs of every client in the current minute. */
  get globalKey(): string {
    return `${this.#limits.prefix}{failed-track}:all`
  }

  /**
   * Reserves one failed TRACK for `client` (a clientKey) on the counters of `scope`, in the Lua call of this
   * event-loop turn: true when within their limits, false when one is reached (nothing counted then). Rejects when
   * Redis cannot answer; the caller then refuses the TRACK (fail closed).
   */
  reserve(client: string, scope: BudgetScope = 'both'): Promise<boolean> {
    const counted = this.#operation('r', client, scope)
    if (counted === null) return Promise.resolve(true)
    return new Promise((resolve, reject) => this.#batcher.add({ ...counted, settle: { resolve, reject } }))
  }

  /**
   * Gives back the reservation (of the same scope) of a TRACK that succeeded, with the next batch. Never fails: a
   * lost release only costs one guess.
   */
  release(client: string, scope: BudgetScope = 'both'): void {
    const counted = this.#operation('g', client, scope)
    if (counted !== null) this.#batcher.add(counted)
  }

  /** This budget with every reservation of `scope` (src/server/session.ts TrackBudget fits). */
  scoped(scope: BudgetScope): { reserve(client: string): Promise<boolean>; release(client: string): void } {
    return {
      reserve: (client) => this.reserve(client, scope),
      release: (client) => this.release(client, scope),
    }
  }

  /** The operation on the counters `scope` counts (a limit of 0 leaves its counter alone); null when none is. */
  #operation(op: 'r' | 'g', client: string, scope: BudgetScope): Operation | null {
    const { windowMs } = this.#limits
    const perClient = scope === 'global' ? 0 : this.#limits.perClient
    const perMinute = scope === 'client' ? 0 : this.#limits.perMinute
    if (perClient === 0 && perMinute === 0) return null
    return { op, clientKey: this.clientKey(client), perClient, windowMs, perMinute }
  }
}
