// The tracking API's data, pure: what a POST to api/track may hold, and the JSON lines streamed back (README
// "Tracking page": the JSON API). The report is the one `mtqp track --json` prints, without the raw parts of each
// answer (its timelines carry them, read).
import type { Hop, HopEvent } from '../client/follow'
import type { TrackingReport, TrackTarget } from '../client/track'
import { uriTarget } from '../client/track'
import type { ServerInfo } from '../client/types'
import { decodeBase64Strict } from '../util/base64'
import { err, ok, type Result } from '../util/result'

/** RFC 3461 §4.4: an ENVID is at most 100 characters; room for xtext. A URI holds it, the secret and a host. */
const MAX_ENVID = 300
const MAX_URI = 1000

/** The tracking server asked when the page is given an envid and secret without a URI: this relay's own. */
export interface OwnServer {
  host: string
  port: number
}

/**
 * The message a POST body names: `{"uri": "mtqp://..."}`, or `{"envid": ..., "secret": ...}` for this relay's own
 * tracking server. Errors say what is wrong without repeating the input (it may hold the secret).
 */
export function trackTargetOf(body: unknown, own: OwnServer): Result<TrackTarget> {
  if (typeof body !== 'object' || body === null) return err('the request must be a JSON object')
  const { uri, envid, secret } = body as Record<string, unknown>
  if (typeof uri === 'string' && uri.trim() !== '') {
    if (uri.length > MAX_URI) return err('the tracking link is too long')
    const t = uriTarget(uri.trim())
    return t.ok ? t : err(`the tracking link is not a valid mtqp:// URI: ${t.error}`)
  }
  if (typeof envid !== 'string' || envid.trim() === '' || typeof secret !== 'string' || secret.trim() === '')
    return err('give the tracking link, or both the envid and the secret')
  if (envid.length > MAX_ENVID || !/^[\x21-\x7e]+$/.test(envid.trim()))
    return err('the envid must be printable ASCII without spaces, as sent in ENVID=')
  const octets = decodeBase64Strict(secret.trim(), { allowPadding: true })
  if (octets === null || octets.length === 0) return err('the secret is not base64')
  return ok({
    target: { kind: 'server', host: own.host, port: own.port },
    request: { envid: envid.trim(), secret: octets },
  })
}

export interface ServerView {
  name: string
  port: number
  via: ServerInfo['via']
  tls: string | null
  verified?: boolean
}

export type OutcomeView =
  | { kind: 'answered'; server: ServerView; reports: number }
  | { kind: 'failed'; failure: string; reason: string; server?: ServerView }
  | { kind: 'skipped'; why: string; reason: string }

export interface HopView {
  id: number
  host: string
  port?: number
  parent: number | null
  depth: number
  /** Absent while the hop is being asked. */
  outcome?: OutcomeView
}

function serverView(s: ServerInfo): ServerView {
  const v: ServerView = { name: s.name, port: s.port, via: s.via, tls: s.tls }
  if (s.verified !== undefined) v.verified = s.verified
  return v
}

export function hopView(hop: Readonly<Hop>, settled = true): HopView {
  const t = hop.target
  const v: HopView = { id: hop.id, host: t.host, parent: hop.parent, depth: hop.depth }
  if (t.kind === 'server' && t.port !== undefined) v.port = t.port
  if (!settled) return v
  const o = hop.outcome
  if (o.kind === 'answered')
    v.outcome = { kind: 'answered', server: serverView(o.server), reports: o.parts.length }
  else if (o.kind === 'skipped') v.outcome = { kind: 'skipped', why: o.why, reason: o.reason }
  else {
    v.outcome = { kind: 'failed', failure: o.failure, reason: o.reason }
    if (o.server !== undefined) v.outcome.server = serverView(o.server)
  }
  return v
}

/** One line of the stream: a hop being asked or settled, then the report, or an error that ended the tracking. */
export type StreamEvent =
  | { event: 'hop'; phase: HopEvent['phase']; hop: HopView }
  | { event: 'report'; report: ReportView }
  | { event: 'error'; error: string }

export interface ReportView extends Omit<TrackingReport, 'hops'> {
  hops: HopView[]
}

export function reportView(r: TrackingReport): ReportView {
  return { ...r, hops: r.hops.map((h) => hopView(h)) }
}

export function progressEvent(e: HopEvent): StreamEvent {
  return { event: 'hop', phase: e.phase, hop: hopView(e.hop, e.phase === 'done') }
}
