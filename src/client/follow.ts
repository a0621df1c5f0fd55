// Following referrals hop by hop (MTQPC-6, RFC 3888 "request referrals"): every recipient a server reports as
// `transferred` names the next MTA in Remote-MTA, whose tracking server is asked the same TRACK. The network is an
// injected Querier, so this file is pure logic: tests drive it with a fake transport.
//
// Decisions:
// - A referral is not followed when a chained part of the same answer already covers it: another part whose
//   Reporting-MTA is that Remote-MTA (MTQPC-6, MTQP-33). A recipient transferred to the very MTA that reports it
//   is a gateway hiding its inner hosts (RFC 3887 example #12): there is nobody else to ask.
// - Every host is asked at most once per message: branches that meet share the answer, and a host already on the
//   path (as a queried name or as the Reporting-MTA of an answer on it) is a loop, recorded and not asked again.
// - At most `maxHops` servers along one path, the first included. Independent branches are asked in parallel.
// - Hops are numbered when they are scheduled, not when they answer, and referrals are taken in host-name order, so
//   the numbering depends neither on timing nor on the order a server lists its recipients in.
import type { TrackingStatus } from '../tsn/types'
import type { HopTarget } from './discovery'
import type { Querier, QueryResult, TrackRequest } from './types'

/** MTQPC-6 [impl]: the default cap on servers asked along one path. */
export const DEFAULT_MAX_HOPS = 10

export interface FollowOptions {
  request: TrackRequest
  query: Querier
  /** Most servers asked along one path, the first included. Default 10. */
  maxHops?: number
  /** false: ask the first server only and record the referrals as not followed. Default true. */
  follow?: boolean
  /** Hears every hop as it is asked and as it settles, for showing progress while hops answer. Must not throw. */
  progress?: (event: HopEvent) => void
}

/** A hop about to be asked ('asking'), or settled: answered, failed or not asked ('done'). */
export interface HopEvent {
  phase: 'asking' | 'done'
  hop: Readonly<Hop>
}

export type SkipReason = 'loop' | 'hop-limit' | 'not-followed'

export type HopOutcome = QueryResult | { kind: 'skipped'; why: SkipReason; reason: string }

export interface Hop {
  /** Its index in the list. */
  id: number
  target: HopTarget
  /** The hop whose answer named this one; null for the first. */
  parent: number | null
  /** 1 for the first server. */
  depth: number
  /** Until the server answers: 'aborted', which is what it stays when the caller gives up waiting. */
  outcome: HopOutcome
}

/** DNS names compare case-insensitively, with or without the root dot. */
export function hostKey(name: string): string {
  return name.toLowerCase().replace(/\.$/, '')
}

/** The MTAs the recipients of an answer were transferred to that must be asked about them (MTQPC-6), by name. */
export function referrals(parts: readonly TrackingStatus[]): string[] {
  const out = new Map<string, string>()
  for (const part of parts) {
    for (const r of part.recipients) {
      const remote = r.remoteMta
      if (r.action !== 'transferred' || remote === undefined || remote.type !== 'dns') continue
      const key = hostKey(remote.value)
      if (key === hostKey(part.reportingMta.value)) continue
      if (parts.some((q) => q !== part && hostKey(q.reportingMta.value) === key)) continue
      if (!out.has(key)) out.set(key, remote.value)
    }
  }
  return [...out.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, host]) => host)
}

/** Asks `first` and follows every referral; the hops in the order they were scheduled. */
export function followReferrals(first: HopTarget, opts: FollowOptions): Promise<Hop[]> {
  return new Follower(opts).start(first, null)
}

/**
 * Follows the referrals of an answer already in hand: a chaining server's own parts, reported as `name`
 * (MTQP-30). Hop 0 is that answer.
 */
export function followFrom(name: string, parts: TrackingStatus[], opts: FollowOptions): Promise<Hop[]> {
  const own: QueryResult = {
    kind: 'answered',
    server: { name, port: 0, address: '', via: 'local', tls: null },
    parts,
  }
  return new Follower(opts).start({ kind: 'mta', host: name }, own)
}

class Follower {
  readonly #opts: FollowOptions
  readonly #hops: Hop[] = []
  /** Hosts asked, or being asked (hostKey). */
  readonly #asked = new Set<string>()
  readonly #pending = new Set<Promise<void>>()

  constructor(opts: FollowOptions) {
    this.#opts = opts
  }

  async start(first: HopTarget, answered: QueryResult | null): Promise<Hop[]> {
    this.#asked.add(hostKey(first.host))
    if (answered === null) this.#schedule(this.#ask(first, null, 1, new Set()))
    else this.#expand(this.#settled(this.#add(first, null, 1, answered)), new Set())
    // Branches that meet are not awaited by each other (they could wait in a circle); everything is awaited here.
    while (this.#pending.size > 0) await Promise.all(this.#pending)
    return this.#hops
  }

  #add(target: HopTarget, parent: number | null, depth: number, outcome: HopOutcome): Hop {
    const hop: Hop = { id: this.#hops.length, target, parent, depth, outcome }
    this.#hops.push(hop)
    return hop
  }

  #skip(target: HopTarget, parent: number, depth: number, outcome: HopOutcome): void {
    this.#settled(this.#add(target, parent, depth, outcome))
  }

  #settled(hop: Hop): Hop {
    this.#opts.progress?.({ phase: 'done', hop })
    return hop
  }

  #schedule(work: Promise<void>): void {
    this.#pending.add(work)
    void work.finally(() => this.#pending.delete(work))
  }

  async #ask(
    target: HopTarget,
    parent: number | null,
    depth: number,
    path: ReadonlySet<string>,
  ): Promise<void> {
    const hop = this.#add(target, parent, depth, {
      kind: 'failed',
      failure: 'aborted',
      reason: 'no answer in time',
    })
    this.#opts.progress?.({ phase: 'asking', hop })
    hop.outcome = await this.#opts.query(target, this.#opts.request)
    this.#expand(this.#settled(hop), path)
  }

  #expand(hop: Hop, ancestors: ReadonlySet<string>): void {
    if (hop.outcome.kind !== 'answered') return
    const parts = hop.outcome.parts
    const path = new Set([
      ...ancestors,
      hostKey(hop.target.host),
      ...parts.map((p) => hostKey(p.reportingMta.value)),
    ])
    const maxHops = this.#opts.maxHops ?? DEFAULT_MAX_HOPS
    for (const host of referrals(parts)) {
      const key = hostKey(host)
      const target: HopTarget = { kind: 'mta', host }
      const depth = hop.depth + 1
      if (path.has(key)) {
        this.#skip(target, hop.id, depth, {
          kind: 'skipped',
          why: 'loop',
          reason: `${host} was already asked on this path`,
        })
      } else if (this.#asked.has(key)) {
        // Another branch reached the same host: its answer serves both.
      } else if (this.#opts.follow === false) {
        this.#skip(target, hop.id, depth, {
          kind: 'skipped',
          why: 'not-followed',
          reason: 'following referrals is off',
        })
      } else if (depth > maxHops) {
        this.#skip(target, hop.id, depth, {
          kind: 'skipped',
          why: 'hop-limit',
          reason: `the limit of ${maxHops} hops was reached`,
        })
      } else {
        this.#asked.add(key)
        this.#schedule(this.#ask(target, hop.id, depth, path))
      }
    }
  }
}
