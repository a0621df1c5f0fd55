// The real Querier: discovery (MTQPC-1), connection with fail-over between SRV targets and addresses (RFC 2782),
// and pipelining of every TRACK for the same server asked in the same turn of the event loop (MTQPC-8).
import { type ConnectionOptions, checkConnectionOptions, MtqpClient, MtqpClientError } from './connection'
import {
  type DnsResolver,
  discoverServers,
  endpointAddresses,
  type HopTarget,
  type ServerEndpoint,
  systemResolver,
} from './discovery'
import type { Querier, QueryFailure, QueryResult, ServerInfo, TrackRequest } from './types'

export interface QuerierOptions extends ConnectionOptions {
  /** DNS for SRV and address look-ups. Default: the system's (systemResolver). */
  resolver?: DnsResolver
  /** Randomness for the SRV weight order, [0, 1). Default Math.random. */
  random?: () => number
}

interface Batch {
  target: HopTarget
  items: Array<{ request: TrackRequest; resolve: (r: QueryResult) => void }>
}

/** Failures after which the next SRV target or address is tried; TLS and protocol failures are reported instead. */
const TRY_NEXT: ReadonlySet<QueryFailure> = new Set(['unreachable', 'timeout', 'refused', 'temporary'])

/**
 * The Querier over MTQP. Throws MtqpOptionError at once for an option value no connection could use, so a bad
 * option is one typed error rather than a failure per query.
 */
export function mtqpQuerier(opts: QuerierOptions = {}): Querier {
  const bad = checkConnectionOptions(opts)
  if (bad !== null) throw bad
  const resolver = opts.resolver ?? systemResolver()
  const batches = new Map<string, Batch>()
  return (target, request) =>
    new Promise((resolve) => {
      const key =
        target.kind === 'server'
          ? `server ${target.host}:${target.port ?? ''}`
          : `mta ${target.host.toLowerCase()}`
      let batch = batches.get(key)
      if (batch === undefined) {
        const fresh: Batch = { target, items: [] }
        batches.set(key, fresh)
        setImmediate(() => {
          batches.delete(key)
          const settle = (results: QueryResult[]) => {
            for (const [i, item] of fresh.items.entries()) item.resolve(results[i]!)
          }
          // A Querier never rejects (types.ts): anything unexpected is this server's failure, not a lost promise.
          queryServer(
            fresh.target,
            fresh.items.map((i) => i.request),
            resolver,
            opts,
          ).then(settle, (e: unknown) => {
            const reason = `query failed: ${e instanceof Error ? e.message : String(e)}`
            settle(fresh.items.map(() => ({ kind: 'failed', failure: 'protocol', reason })))
          })
        })
        batch = fresh
      }
      batch.items.push({ request, resolve })
    })
}

/** Every request answered by the first server of the target that can be reached, in order. */
async function queryServer(
  target: HopTarget,
  requests: readonly TrackRequest[],
  resolver: DnsResolver,
  opts: QuerierOptions,
): Promise<QueryResult[]> {
  const all = (r: QueryResult) => requests.map(() => r)
  const found = await discoverServers(target, resolver, opts.random)
  if (!found.ok) return all({ kind: 'failed', failure: found.error.failure, reason: found.error.reason })
  const problems: string[] = []
  let failure: QueryFailure = 'dns'
  let tried: ServerInfo | undefined
  for (const endpoint of found.value) {
    const addresses = await endpointAddresses(endpoint.host, resolver)
    if (!addresses.ok) {
      problems.push(addresses.error)
      continue
    }
    for (const address of addresses.value) {
      tried = untried(endpoint, address)
      let client: MtqpClient
      try {
        client = await MtqpClient.connect(connectTarget(endpoint, address), opts)
      } catch (e) {
        if (!(e instanceof MtqpClientError)) throw e
        problems.push(e.message)
        failure = e.failure
        if (TRY_NEXT.has(e.failure) && opts.signal?.aborted !== true) continue
        return all({ kind: 'failed', failure, reason: problems.join('; '), server: tried })
      }
      const answers = await client.track(requests, { quit: true })
      return answers.map((a) => ({ ...a, server: client.server }))
    }
  }
  const how =
    found.value[0]?.via === 'address'
      ? ` (no SRV record for ${target.host}; tried its addresses on port 1038)`
      : ''
  const result: QueryResult = { kind: 'failed', failure, reason: `${problems.join('; ')}${how}` }
  if (tried !== undefined) result.server = tried
  return all(result)
}

function connectTarget(endpoint: ServerEndpoint, address: string) {
  return {
    name: endpoint.host,
    address,
    port: endpoint.port,
    via: endpoint.via,
    ...(endpoint.srvName === undefined ? {} : { srvName: endpoint.srvName }),
    ...(endpoint.tlsName === undefined ? {} : { tlsName: endpoint.tlsName }),
  }
}

/** The server a failed attempt was aimed at, for the report. */
function untried(endpoint: ServerEndpoint, address: string): ServerInfo {
  const server: ServerInfo = {
    name: endpoint.host,
    port: endpoint.port,
    address,
    via: endpoint.via,
    tls: null,
  }
  if (endpoint.srvName !== undefined) server.srvName = endpoint.srvName
  return server
}
