// Tracking a message end to end: ask the first server, follow the referrals, build the timelines (URI-4).
import { parseMtqpUri } from '../uri/mtqp-uri'
import { decodeBase64Strict } from '../util/base64'
import { err, ok, type Result } from '../util/result'
import type { HopTarget } from './discovery'
import { followReferrals, type Hop, type HopEvent, type SkipReason } from './follow'
import { mtqpQuerier, type QuerierOptions } from './querier'
import { buildTimelines, overallState, type RecipientState, type RecipientTimeline } from './timeline'
import type { Querier, QueryFailure, TrackRequest } from './types'

export interface TrackOptions extends QuerierOptions {
  /** Most servers asked along one path, the first included (MTQPC-6). Default 10. */
  maxHops?: number
  /** false: ask the first server only. Default true. */
  follow?: boolean
  /** The transport; default mtqpQuerier(these options). Messages tracked in one call share it, so TRACKs for the
   *  same server are pipelined (MTQPC-8). */
  querier?: Querier
  /** Hears each hop of each message (its index in the list) as it is asked and as it settles. Must not throw. */
  progress?: (event: HopEvent & { message: number }) => void
}

export interface TrackingReport {
  /** The envid asked about, as sent (xtext). */
  envid: string
  /** The message as a whole (overallState): the most pressing state of its recipients. */
  state: RecipientState
  recipients: RecipientTimeline[]
  /** Every server asked or passed over, in the order they were scheduled. */
  hops: Hop[]
  /** Why nothing at all is known, when the first server gave no tracking status. */
  failure?: { failure: QueryFailure | SkipReason; reason: string }
}

/** One message to track: where to start and what to ask. */
export interface TrackTarget {
  target: HopTarget
  request: TrackRequest
}

/**
 * Tracks several messages at once; the first hops (and any shared later ones) are pipelined per server. Resolves
 * with one report per message, failures included; rejects only with MtqpOptionError for an unusable option value.
 */
export async function trackMessages(
  messages: readonly TrackTarget[],
  opts: TrackOptions = {},
): Promise<TrackingReport[]> {
  const query = opts.querier ?? mtqpQuerier(opts)
  return Promise.all(
    messages.map(async ({ target, request }, message) => {
      const { progress } = opts
      const hops = await followReferrals(target, {
        request,
        query,
        maxHops: opts.maxHops,
        follow: opts.follow,
        ...(progress === undefined ? {} : { progress: (e: HopEvent) => progress({ ...e, message }) }),
      })
      return reportOf(request.envid, hops)
    }),
  )
}

/** Tracks one message. */
export async function trackMessage(
  target: HopTarget,
  request: TrackRequest,
  opts: TrackOptions = {},
): Promise<TrackingReport> {
  const [report] = await trackMessages([{ target, request }], opts)
  return report!
}

/** The server, envid and secret an mtqp URI names (URI-4, AMB-31: its authority is used directly). */
export function uriTarget(uri: string): Result<TrackTarget> {
  const u = parseMtqpUri(uri)
  if (!u.ok) return u
  const secret = decodeBase64Strict(u.value.secret, { allowPadding: true })
  if (secret === null) return err('the secret of the mtqp URI is not base64') // AMB-3
  const target: HopTarget = { kind: 'server', host: u.value.host }
  if (u.value.port !== undefined) target.port = u.value.port
  return ok({ target, request: { envid: u.value.envid, secret } })
}

export function reportOf(envid: string, hops: Hop[]): TrackingReport {
  const recipients = buildTimelines(hops)
  const report: TrackingReport = { envid, state: overallState(recipients), recipients, hops }
  const first = hops[0]?.outcome
  if (first !== undefined && first.kind === 'failed')
    report.failure = { failure: first.failure, reason: first.reason }
  if (first !== undefined && first.kind === 'skipped')
    report.failure = { failure: first.why, reason: first.reason }
  return report
}
