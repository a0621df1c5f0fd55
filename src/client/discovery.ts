// Finding the tracking server of a hop (RFC 3887 §2, MTQPC-1, AMB-29, AMB-31). DNS goes through an injectable
// resolver, so tests can use a real local DNS server or a stub; the SRV ordering is pure, randomness injected.
//
// Decisions:
// - A server named by a URI authority or --server is used as it is, on its port or 1038 (AMB-31: no SRV).
// - A mail host learned from a Remote-MTA is looked up as SRV `_mtqp._tcp.<host>` first (AMB-29); only "no such
//   record" (NODATA, NXDOMAIN) falls back to the host's own addresses on 1038. Any other DNS failure is reported:
//   guessing a server when DNS is broken would hide the real problem.
// - A lone SRV target "." (Node returns it as "") means the domain has no tracking service (RFC 2782).

import { Resolver as DnsPromisesResolver, lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { MTQP_DEFAULT_PORT } from '../uri/mtqp-uri'
import { err, ok, type Result } from '../util/result'

/** One SRV answer, as node:dns returns it. */
export interface SrvRecord {
  name: string
  port: number
  priority: number
  weight: number
}

/** The DNS look-ups discovery needs. Rejections carry node:dns error codes (`ENODATA`, `ENOTFOUND`, ...). */
export interface DnsResolver {
  resolveSrv(name: string): Promise<SrvRecord[]>
  /** IPv4 and IPv6 addresses of a host name. */
  resolveAddresses(host: string): Promise<string[]>
}

/** Where a hop's tracking server is to be found. */
export type HopTarget =
  /** A server named by an mtqp URI or by the user: connect to it directly (AMB-31). */
  | { kind: 'server'; host: string; port?: number; tlsName?: string }
  /** A mail host (Remote-MTA, Reporting-MTA): SRV first, then its addresses on 1038 (MTQPC-1, AMB-29). */
  | { kind: 'mta'; host: string }

/** A tracking server to try. */
export interface ServerEndpoint {
  /** Host name or address to connect to; also the name TLS checks and the TOFU memory keys on. */
  host: string
  port: number
  /** How it was found. `srvName` is the SRV owner name when `via` is 'srv'. */
  via: 'direct' | 'srv' | 'address'
  srvName?: string
  /** The name to send in STARTTLS and check the certificate against, when not `host`. */
  tlsName?: string
}

export interface DiscoveryFailure {
  failure: 'no-service' | 'dns'
  reason: string
}

/** The SRV name of a mail host's tracking service (RFC 3887 §2). */
export function srvName(host: string): string {
  return `_mtqp._tcp.${host.replace(/\.$/, '')}`
}

/** node:dns codes that mean "no such record", after which the address fallback applies (MTQPC-1). */
const NO_RECORD = new Set(['ENODATA', 'ENOTFOUND'])

function dnsCode(e: unknown): string {
  return e instanceof Error && 'code' in e ? String(e.code) : String(e)
}

/** The servers to try for a target, best first. */
export async function discoverServers(
  target: HopTarget,
  resolver: DnsResolver,
  random: () => number = Math.random,
): Promise<Result<ServerEndpoint[], DiscoveryFailure>> {
  if (target.kind === 'server') {
    const endpoint: ServerEndpoint = {
      host: target.host,
      port: target.port ?? MTQP_DEFAULT_PORT,
      via: 'direct',
    }
    if (target.tlsName !== undefined) endpoint.tlsName = target.tlsName
    return ok([endpoint])
  }
  const name = srvName(target.host)
  let records: SrvRecord[]
  try {
    records = await resolver.resolveSrv(name)
  } catch (e) {
    const code = dnsCode(e)
    if (!NO_RECORD.has(code))
      return err({ failure: 'dns', reason: `DNS look-up of ${name} failed (${code})` })
    records = []
  }
  if (records.length === 0) return ok([{ host: target.host, port: MTQP_DEFAULT_PORT, via: 'address' }])
  const usable = records.filter((r) => !isRootTarget(r.name))
  if (usable.length === 0) {
    return err({
      failure: 'no-service',
      reason: `${name} says there is no tracking service (SRV target ".")`,
    })
  }
  return ok(
    orderSrvRecords(usable, random).map((r) => ({
      host: r.name.replace(/\.$/, ''),
      port: r.port,
      via: 'srv',
      srvName: name,
    })),
  )
}

function isRootTarget(name: string): boolean {
  return name === '' || name === '.'
}

/**
 * RFC 2782 "Usage rules": lowest priority first; within one priority, a weighted random order: repeatedly sum the
 * weights of the records not yet taken (weight 0 first in the list), draw an integer from 0 to that sum inclusive,
 * and take the first record whose running sum reaches it. `random` returns [0, 1) like Math.random.
 */
export function orderSrvRecords(records: readonly SrvRecord[], random: () => number): SrvRecord[] {
  const priorities = [...new Set(records.map((r) => r.priority))].sort((a, b) => a - b)
  const out: SrvRecord[] = []
  for (const priority of priorities) {
    const left = records.filter((r) => r.priority === priority)
    // RFC 2782: "all those with weight 0 are placed at the beginning of the list".
    left.sort((a, b) => (a.weight === 0 ? 0 : 1) - (b.weight === 0 ? 0 : 1))
    while (left.length > 0) {
      const sum = left.reduce((s, r) => s + r.weight, 0)
      const draw = Math.min(sum, Math.floor(random() * (sum + 1)))
      let running = 0
      const index = left.findIndex((r) => {
        running += r.weight
        return running >= draw
      })
      out.push(...left.splice(index, 1))
    }
  }
  return out
}

/** Addresses to connect to for an endpoint: an IP literal as it is, a name through the resolver. */
export async function endpointAddresses(host: string, resolver: DnsResolver): Promise<Result<string[]>> {
  if (isIP(host) !== 0) return ok([host])
  try {
    const addresses = await resolver.resolveAddresses(host)
    return addresses.length > 0 ? ok(addresses) : err(`${host} has no address`)
  } catch (e) {
    return err(`${host} has no address (${dnsCode(e)})`)
  }
}

/** The system's resolver: SRV from the configured name servers, addresses as the OS finds them (/etc/hosts too). */
export function systemResolver(): DnsResolver {
  const resolver = new DnsPromisesResolver({ timeout: 5000, tries: 2 })
  return {
    resolveSrv: (name) => resolver.resolveSrv(name),
    async resolveAddresses(host) {
      const found = await lookup(host, { all: true })
      return found.map((a) => a.address)
    },
  }
}

/**
 * A resolver that asks the given name servers only (`ip`, `ip:port` or `[ipv6]:port`, as dns.setServers takes
 * them), for both SRV and addresses: a split-horizon DNS inside a firewall, or a local test server.
 */
export function dnsServerResolver(servers: readonly string[]): DnsResolver {
  const resolver = new DnsPromisesResolver({ timeout: 5000, tries: 2 })
  resolver.setServers([...servers])
  return {
    resolveSrv: (name) => resolver.resolveSrv(name),
    async resolveAddresses(host) {
      const settled = await Promise.allSettled([resolver.resolve4(host), resolver.resolve6(host)])
      const found = settled.flatMap((s) => (s.status === 'fulfilled' ? s.value : []))
      const failure = settled.find((s) => s.status === 'rejected')
      if (found.length === 0 && failure?.status === 'rejected') throw failure.reason
      return found
    },
  }
}
