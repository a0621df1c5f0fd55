// The failed-TRACK budget (MTQP-29, RFC 3887 §11), kept in Redis so that every node of a mail system (and every
// process of one node) draws on the same budget: per client address and a global ceiling per minute.
//
// Decisions:
// - A TRACK reserves one failure before it is answered, atomically in one Lua call (check both counters, then count
//   both); a TRACK that succeeds gives its reservation back. Checking first and counting after the answer would let
//   concurrent TRACKs (pipelined, many connections, many nodes) all pass the check before any failure is counted.
// - Counters expire by themselves (PEXPIRE set when a window opens): nothing to sweep, no table to evict from, so
//   one wrong TRACK from each of many other addresses cannot make Redis forget an exhausted one.
// - Cluster: every key carries the hash tag `{failed-track}`, so both keys of one call are in one slot (and every
//   budget key lives on one node). When the prefix has a hash tag of its own, Redis uses that one: still one slot.
// - Redis down or slow: reserve() rejects, and the MTQP server answers -TEMP (fail closed): no Redis, no guesses.
import type { Result } from 'ioredis'
import type { RedisClient } from './redis'

/**
 * KEYS[1] the client's counter, KEYS[2] the global counter.
 * ARGV[1] failures allowed per client and window (0: no per-client limit), ARGV[2] the client window in ms,
 * ARGV[3] failures allowed in all per minute (0: no global limit).
 * Returns 1 when a failure was reserved (both counters counted), 0 when a limit is reached (nothing counted).
 */
const RESERVE = `
local perClient = tonumber(ARGV[1])
local perMinute = tonumber(ARGV[3])
if perClient > 0 and tonumber(redis.call('GET', KEYS[1]) or '0') >= perClient then return 0 end
if perMinute > 0 and tonumber(redis.call('GET', KEYS[2]) or '0') >= perMinute then return 0 end
if perClient > 0 and redis.call('INCR', KEYS[1]) == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
if perMinute > 0 and redis.call('INCR', KEYS[2]) == 1 then redis.call('PEXPIRE', KEYS[2], 60000) end
return 1
`

/** KEYS as for RESERVE. Gives one reservation back; a counter that expired meanwhile is left alone (DECR keeps TTLs). */
const RELEASE = `
for _, key in ipairs(KEYS) do
  if tonumber(redis.call('GET', key) or '0') > 0 then redis.call('DECR', key) end
end
return 1
`

declare module 'ioredis' {
  interface RedisCommander<Context> {
    mtrkFailedTrackReserve(
      clientKey: string,
      globalKey: string,
      perClient: number,
      windowMs: number,
      perMinute: number,
    ): Result<number, Context>
    mtrkFailedTrackRelease(clientKey: string, globalKey: string): Result<number, Context>
  }
}

const defined = new WeakSet<RedisClient>()

/** ioredis loads each script once per connection (EVALSHA, falling back to EVAL) and pipelines it like any command. */
function defineScripts(client: RedisClient): void {
  if (defined.has(client)) return
  client.defineCommand('mtrkFailedTrackReserve', { numberOfKeys: 2, lua: RESERVE })
  client.defineCommand('mtrkFailedTrackRelease', { numberOfKeys: 2, lua: RELEASE })
  defined.add(client)
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

/** The failed-TRACK budget shared through Redis by every node (src/mtqp/session.ts TrackBudget fits). */
export class FailedTrackBudget {
  readonly #client: RedisClient
  readonly #limits: FailedTrackLimits

  constructor(client: RedisClient, limits: FailedTrackLimits) {
    this.#client = client
    this.#limits = limits
    defineScripts(client)
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
   * Reserves one failed TRACK for `client` (a clientKey) in one round trip: true when within both limits, false when
   * a limit is reached. Rejects when Redis cannot answer; the caller then refuses the TRACK (fail closed).
   */
  async reserve(client: string): Promise<boolean> {
    const { perClient, windowMs, perMinute } = this.#limits
    if (perClient === 0 && perMinute === 0) return true
    const got = await this.#client.mtrkFailedTrackReserve(
      this.clientKey(client),
      this.globalKey,
      perClient,
      windowMs,
      perMinute,
    )
    return got === 1
  }

  /** Gives back the reservation of a TRACK that succeeded. Never fails: a lost release only costs one guess. */
  release(client: string): void {
    const { perClient, perMinute } = this.#limits
    if (perClient === 0 && perMinute === 0) return
    this.#client.mtrkFailedTrackRelease(this.clientKey(client), this.globalKey).catch(() => {})
  }
}
