// Tracking status parts and a fake network for the client's unit tests.
import type { HopTarget } from '../../src/client/discovery'
import type { Querier, QueryResult, TrackRequest } from '../../src/client/types'
import type { Action, RecipientStatus, TrackingStatus } from '../../src/tsn/types'

export const ENVID = 'm1.abc@sender.test'
export const REQUEST: TrackRequest = { envid: ENVID, secret: Buffer.alloc(24, 7) }
export const T0 = Date.UTC(2026, 0, 12, 10, 0, 0)

const STATUS: Record<Action, string> = {
  delivered: '2.5.0',
  expanded: '2.5.0',
  transferred: '2.4.0',
  relayed: '2.1.9',
  delayed: '4.4.1',
  failed: '5.2.2',
  opaque: '2.0.0',
}

export interface RcptSpec {
  /** Final-Recipient; Original-Recipient too unless `original` is given. */
  to: string
  action: Action
  /** Remote-MTA (dns). */
  remote?: string
  original?: string
  status?: string
}

export function rcpt(to: string, action: Action, remote?: string, more: Partial<RcptSpec> = {}): RcptSpec {
  return { to, action, ...(remote === undefined ? {} : { remote }), ...more }
}

/** One message/tracking-status part reported by `reporter`, arrived `minutes` after T0. */
export function part(reporter: string, recipients: RcptSpec[], minutes = 0): TrackingStatus {
  return {
    originalEnvelopeId: ENVID,
    reportingMta: { type: 'dns', value: reporter },
    arrivalDate: new Date(T0 + minutes * 60_000),
    recipients: recipients.map((r): RecipientStatus => {
      const out: RecipientStatus = {
        originalRecipient: { type: 'rfc822', value: r.original ?? r.to },
        finalRecipient: { type: 'rfc822', value: r.to },
        action: r.action,
        status: r.status ?? STATUS[r.action],
      }
      if (r.remote !== undefined) {
        out.remoteMta = { type: 'dns', value: r.remote }
        out.lastAttemptDate = new Date(T0 + (minutes + 1) * 60_000)
      }
      return out
    }),
  }
}

export function answered(host: string, ...parts: TrackingStatus[]): QueryResult {
  return {
    kind: 'answered',
    server: {
      name: `mtqp.${host}`,
      port: 1038,
      address: '127.0.0.1',
      via: 'srv',
      tls: 'TLSv1.3',
      verified: true,
    },
    parts,
  }
}

export function failed(
  failure: 'unreachable' | 'temporary' | 'noinfo' | 'rejected',
  reason: string,
): QueryResult {
  return { kind: 'failed', failure, reason }
}

export interface FakeNetwork {
  query: Querier
  /** Hosts asked, in order. */
  asked: string[]
  /** Most queries in flight at once. */
  maxInFlight: number
}

/**
 * A fake transport: each host answers from the table (an unknown host is unreachable) after `delayMs`.
 * Records who was asked and how many queries overlapped, to see branches asked in parallel.
 */
export function fakeNetwork(table: Record<string, QueryResult>, delayMs = 5): FakeNetwork {
  const net: FakeNetwork = { asked: [], maxInFlight: 0, query: async () => failed('unreachable', 'unused') }
  let inFlight = 0
  net.query = async (target: HopTarget, request: TrackRequest) => {
    if (request.envid !== ENVID) throw new Error('wrong envid asked')
    net.asked.push(target.host)
    inFlight++
    net.maxInFlight = Math.max(net.maxInFlight, inFlight)
    await new Promise((r) => setTimeout(r, delayMs))
    inFlight--
    return (
      table[target.host] ?? failed('unreachable', `cannot connect to ${target.host}:1038: connection refused`)
    )
  }
  return net
}
