// The chaining gateway (RFC 3887 §2.4, MTQP-30..33): for recipients this server reports as `transferred`, it asks
// the next hops itself with the client library and answers with their reports after its own, one
// message/tracking-status part per reporting MTA. Plugged into the session as its ChainFn.
//
// Decisions:
// - The whole chain has one deadline (chain_timeout, at most 115 s: MTQP-31's 2 minutes minus time to answer).
//   When it passes, the answer is this server's own report alone (AMB-25), so the client can go on by itself.
// - MTQP-32: when the client's session is protected by TLS, the next hops must be too (STARTTLS required, the
//   certificate verified); otherwise STARTTLS is used when offered.
// - A downstream part this server could not write back (a peer's sloppy status code) is left out and logged; it
//   must not cost the client the whole answer.
// - With a public name set, this server's name and every name learned by chaining (the hosts asked and the
//   Reporting-MTAs they answered with) become that name (RFC 3887 example #12). Names outside, such as the mailer
//   an inner host relayed to, stay as they are.

import type { DnsResolver } from '../client/discovery'
import { followFrom, type Hop, hostKey, referrals } from '../client/follow'
import { mtqpQuerier, type QuerierOptions } from '../client/querier'
import { TofuMemory } from '../client/tofu'
import type { Querier } from '../client/types'
import type { ChainFn, MtqpLog } from '../server/session'
import type { TrackingStatus, TypedValue } from '../tsn/types'
import { formatTrackingStatus } from '../tsn/writer'

export interface ChainerOptions {
  /** This server's Reporting-MTA name: where every chain starts, and where a loop would come back to. */
  reportingMta: string
  timeoutMs: number
  /** Most servers asked beyond this one along one path. */
  maxHops: number
  publicName: string | null
  /** PEM authorities for the next hops' certificates; default the system's. */
  ca?: string
  /** Default: the system's resolver. */
  resolver?: DnsResolver
  log: Pick<MtqpLog, 'info' | 'warn'>
  /** The transport for given options; default mtqpQuerier. Tests inject a fake. */
  querier?: (opts: QuerierOptions) => Querier
}

export function createChainer(opts: ChainerOptions): ChainFn {
  // RFC 3887 §11 alarms for the next hops, for as long as the server runs.
  const tofu = new TofuMemory()
  const makeQuerier = opts.querier ?? mtqpQuerier
  return async ({ envid, secret, parts, tls }) => {
    const next = referrals(parts)
    if (next.length === 0) return parts
    const controller = new AbortController()
    const query = makeQuerier({
      starttls: tls ? 'required' : 'opportunistic', // MTQP-32
      ...(opts.ca === undefined ? {} : { ca: opts.ca }),
      ...(opts.resolver === undefined ? {} : { resolver: opts.resolver }),
      signal: controller.signal,
      tofu,
      warn: (m) => opts.log.warn(`MTQP chaining ${envid}: ${m}`),
    })
    const hops = followFrom(opts.reportingMta, parts, {
      request: { envid, secret },
      query,
      maxHops: opts.maxHops + 1,
    })
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<null>((resolve) => {
      timer = setTimeout(() => resolve(null), opts.timeoutMs)
    })
    const done = await Promise.race([hops, deadline])
    clearTimeout(timer)
    if (done === null) {
      controller.abort()
      opts.log.info(
        `MTQP chaining ${envid}: no answer within ${opts.timeoutMs} ms; answering with this server's report`, // AMB-25
      )
      return disguise(parts, new Set([opts.reportingMta, ...next].map(hostKey)), opts.publicName)
    }
    for (const hop of done.slice(1)) {
      if (hop.outcome.kind !== 'answered')
        opts.log.info(`MTQP chaining ${envid}: ${hop.target.host}: ${hop.outcome.reason}`)
    }
    const downstream = done
      .slice(1)
      .flatMap((hop) => (hop.outcome.kind === 'answered' ? hop.outcome.parts : []))
    const writable = downstream.filter((p) => {
      const checked = formatTrackingStatus(p)
      if (!checked.ok)
        opts.log.warn(`MTQP chaining ${envid}: report of ${p.reportingMta.value} left out: ${checked.error}`)
      return checked.ok
    })
    return disguise([...parts, ...writable], internalNames(opts.reportingMta, done), opts.publicName)
  }
}

/** This server and every name learned by chaining: the hosts asked and the Reporting-MTAs of their answers. */
function internalNames(own: string, hops: readonly Hop[]): Set<string> {
  const names = new Set([hostKey(own)])
  for (const hop of hops.slice(1)) {
    names.add(hostKey(hop.target.host))
    if (hop.outcome.kind === 'answered')
      for (const p of hop.outcome.parts) names.add(hostKey(p.reportingMta.value))
  }
  return names
}

/** MTQP-30, MTQP-33: inner names replaced by the public one in Reporting-MTA and Remote-MTA. */
function disguise(
  parts: TrackingStatus[],
  internal: ReadonlySet<string>,
  publicName: string | null,
): TrackingStatus[] {
  if (publicName === null) return parts
  const swap = (v: TypedValue): TypedValue =>
    v.type === 'dns' && internal.has(hostKey(v.value)) ? { type: 'dns', value: publicName } : v
  return parts.map((p) => ({
    ...p,
    reportingMta: swap(p.reportingMta),
    recipients: p.recipients.map((r) =>
      r.remoteMta === undefined ? r : { ...r, remoteMta: swap(r.remoteMta) },
    ),
  }))
}
