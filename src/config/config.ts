// config/mtrk.ini as typed options. Pure: Haraka's config loader hands us the parsed ini; every bad value is
// reported with its section and key, and replaced by its default so a typo never stops mail.
import { isIP } from 'node:net'
import { isDnsName } from '../util/dns-name'
import { type Endpoint, parseEndpoint, parseEndpointList } from './listen'

export type IniValue = string | number | boolean | null | undefined
export type IniSections = Record<string, Record<string, IniValue> | undefined>

export interface MainConfig {
  /** Seconds of retention when MTRK has no timeout (MTRK-9). */
  defaultRetention: number
  /** Upper bound on any requested retention, silently applied (MTRK-8). */
  maxRetention: number
  /** MTRK without a unique-envid ENVID: 501, or accept and ignore MTRK (AMB-9, AMB-10). */
  mtrkWithoutEnvid: 'reject' | 'ignore'
  /** Answer 555 to MAIL/RCPT parameters nobody implements (RFC 5321 §4.1.1.11). */
  rejectUnknownParams: boolean
  /** Parameters of other extensions that pass untouched, upper case. */
  allowedParams: ReadonlySet<string>
  /** Reporting-MTA name; null means Haraka's own host name (`me`). */
  reportingMta: string | null
  /** Attempts kept per recipient for the admin view. */
  historyLimit: number
  /** Seconds tracking data outlives the queue's give-up time, so it never expires while queued (MTRK-10). */
  queuedGrace: number
}

export interface RedisConfig {
  host: string
  port: number
  db: number
  username: string | null
  password: string | null
  /** Unix socket path; when set, host and port are not used. */
  socket: string | null
  /** Prefix of every key this plugin writes. */
  prefix: string
  /** Sentinel endpoints; when set, the master named `sentinelName` is used. */
  sentinels: Endpoint[] | null
  sentinelName: string
  /** Redis Cluster seed nodes; when set, a cluster client is used. */
  cluster: Endpoint[] | null
  /** ms to establish a connection. */
  connectTimeout: number
  /** ms before a command is abandoned, so a slow Redis never holds up mail. */
  commandTimeout: number
}

/** [mtqp] starttls: never offer it, offer it when a certificate is installed, or also demand it (MTQP-13, MTQP-21). */
export type StarttlsMode = 'off' | 'on' | 'required'

/** RFC 8996: TLS 1.0 and 1.1 are not allowed, so these are the only choices. */
export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const
export type TlsVersion = (typeof TLS_VERSIONS)[number]

export interface MtqpConfig {
  /** Run the listener at all. */
  enabled: boolean
  listen: Endpoint
  /** Keep listening but greet every client with -TEMP/MTQP/admin (MTQP-11): the service is down for admin. */
  suspended: boolean
  /**
   * ms of client silence (no complete command) before the server hangs up (MTQP-28). From `inactivity_timeout`
   * in seconds, default and minimum 600 as the RFC requires; only `test_inactivity_timeout_ms` can go lower.
   */
  inactivityTimeoutMs: number
  /** Concurrent connections; beyond it a client is greeted -TEMP/MTQP/unavailable/... and dropped (MTQP-29). */
  maxConnections: number
  /** Concurrent connections from one client address (an IPv6 /64 counts as one address). */
  maxConnectionsPerIp: number
  /** -BAD replies in one connection before it is closed (MTQP-29). */
  maxBadCommands: number
  /** TRACKs answered -ERR/noinfo per client address and window before TRACK is refused with -TEMP; 0: no limit. */
  failedTrackLimit: number
  /** Seconds of the failed-TRACK window. */
  failedTrackWindow: number
  starttls: StarttlsMode
  /** Lowest TLS version the handshake accepts (RFC 8996). */
  minTlsVersion: TlsVersion
  /** Lowest TLS version deemed adequate; a lower one gets the insecure_tls treatment (MTQP-25). */
  adequateTlsVersion: TlsVersion
  /** MTQP-25 for an inadequate session: answer everything but QUIT with -ERR/insecure (SHOULD), or hang up (MAY). */
  insecureTls: 'refuse' | 'close'
  /** Accept a STARTTLS host name without a dot (AMB-24). For tests on single-label names only. */
  allowSingleLabelFqdn: boolean
  /**
   * ms after a TRACK arrives before -ERR/noinfo is sent, so an unknown envid and a known one with a wrong secret
   * take the same time (AMB-12, AMB-13); it also slows guessing down.
   */
  noinfoDelayMs: number
  /** Chaining gateway (MTQP-30): ask the next hops of transferred recipients and append their reports. */
  chaining: boolean
  /** ms a chained TRACK may take; then the answer is this server's own report only (MTQP-31, AMB-25). */
  chainTimeoutMs: number
  /** Most servers asked beyond this one along one chained path. */
  chainMaxHops: number
  /** Replaces this server's name and the names of the hosts it chains to in answers (MTQP-30, MTQP-33). */
  chainPublicName: string | null
  /** PEM file of the authorities trusted for the next hops' certificates; null: the system's. */
  chainCaFile: string | null
  /** Name servers (`ip`, `ip:port`, `[v6]:port`) for finding the next hops; null: the system's. */
  chainDnsServers: string[] | null
  // Issue 14 (abuse and faults).
  /** Failed TRACKs of all clients together per minute, counted in Redis across every node; 0: no ceiling. */
  failedTrackGlobalLimit: number
  /**
   * ms without a complete command after which a connection gives up its slot to a newcomer when all
   * max_connections are taken (oldest idle first), so slow clients cannot lock others out.
   */
  slotIdleTimeoutMs: number
}

export interface RelayConfig {
  /**
   * Pass MTRK, ENVID, RET, NOTIFY and ORCPT on to next hops that advertise them (RFC 3885 §3.3, RFC 3461 §5.2).
   * false: none is sent, and relayed recipients are reported `relayed`, never `transferred`.
   */
  forward: boolean
}

// Issue 14 (abuse and faults).
/** [journal]: where tracking writes wait while Redis is unreachable (src/store/journal.ts). */
export interface JournalConfig {
  /** Directory of the journal files; null: `mtrk-journal` in the Haraka instance directory, next to `queue`. */
  dir: string | null
  /** Bytes one Haraka process may hold in its journal; writes beyond are lost, counted and logged. */
  maxBytes: number
  /** ms between an append and its fdatasync: what a machine crash can lose. */
  fsyncMs: number
  /** Writes replayed per batch when Redis is back. */
  replayBatch: number
  /** ms between replay batches, leaving the event loop and Redis to live mail. */
  replayPauseMs: number
}

export interface MtrkConfig {
  main: MainConfig
  redis: RedisConfig
  mtqp: MtqpConfig
  relay: RelayConfig
  journal: JournalConfig
}

/** The booleans to declare to Haraka's config loader, with their defaults (+ true, - false). */
export const INI_BOOLEANS = [
  '+main.reject_unknown_params',
  '+mtqp.enabled',
  '-mtqp.suspended',
  '-mtqp.allow_single_label_fqdn',
  '-mtqp.chaining',
  '+relay.forward',
]

const DAY = 86400

export const DEFAULT_ALLOWED_PARAMS = [
  'SIZE',
  'BODY',
  'SMTPUTF8',
  'AUTH',
  'REQUIRETLS',
  'MT-PRIORITY',
  'RRVS',
]

class SectionReader {
  constructor(
    private readonly ini: IniSections,
    private readonly errors: string[],
  ) {}

  private raw(section: string, key: string): IniValue {
    const value = this.ini[section]?.[key]
    return value === '' ? undefined : value
  }

  private invalid<T>(section: string, key: string, value: IniValue, expected: string, fallback: T): T {
    this.errors.push(
      `[${section}] ${key}: ${expected}, got ${JSON.stringify(value)}; using ${JSON.stringify(fallback)}`,
    )
    return fallback
  }

  int(section: string, key: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
    const value = this.raw(section, key)
    if (value === undefined || value === null) return fallback
    const n = typeof value === 'number' ? value : Number(value)
    if (typeof value === 'boolean' || !Number.isInteger(n) || n < min || n > max) {
      return this.invalid(section, key, value, `must be an integer from ${min} to ${max}`, fallback)
    }
    return n
  }

  bool(section: string, key: string, fallback: boolean): boolean {
    const value = this.raw(section, key)
    if (value === undefined || value === null) return fallback
    if (typeof value === 'boolean') return value
    if (/^(true|yes|on|1)$/i.test(String(value))) return true
    if (/^(false|no|off|0)$/i.test(String(value))) return false
    return this.invalid(section, key, value, 'must be true or false', fallback)
  }

  str(section: string, key: string): string | null {
    const value = this.raw(section, key)
    return value === undefined || value === null ? null : String(value).trim()
  }

  oneOf<T extends string>(section: string, key: string, choices: readonly T[], fallback: T): T {
    const value = this.str(section, key)
    if (value === null) return fallback
    const found = choices.find((c) => c === value.toLowerCase())
    return found ?? this.invalid(section, key, value, `must be one of ${choices.join(', ')}`, fallback)
  }

  parsed<T>(section: string, key: string, parse: (s: string) => T | null, expected: string, fallback: T): T {
    const value = this.str(section, key)
    if (value === null) return fallback
    return parse(value) ?? this.invalid(section, key, value, expected, fallback)
  }
}

function parseMain(r: SectionReader): MainConfig {
  const maxRetention = r.int('main', 'max_retention', 30 * DAY, DAY, 999999999)
  const defaultRetention = r.int(
    'main',
    'default_retention',
    Math.min(10 * DAY, maxRetention),
    DAY,
    maxRetention,
  )
  const allowed = r.str('main', 'allowed_params')
  return {
    defaultRetention,
    maxRetention,
    mtrkWithoutEnvid: r.oneOf('main', 'mtrk_without_envid', ['reject', 'ignore'] as const, 'reject'),
    rejectUnknownParams: r.bool('main', 'reject_unknown_params', true),
    allowedParams: new Set(
      (allowed === null ? DEFAULT_ALLOWED_PARAMS : allowed.split(/[\s,]+/))
        .filter(Boolean)
        .map((p) => p.toUpperCase()),
    ),
    reportingMta: r.str('main', 'reporting_mta'),
    historyLimit: r.int('main', 'history_limit', 20, 1, 1000),
    queuedGrace: r.int('main', 'queued_grace', DAY, 0, 365 * DAY),
  }
}

function parseRedis(r: SectionReader): RedisConfig {
  const hostPort = 'a comma-separated list of host:port'
  return {
    host: r.str('redis', 'host') ?? '127.0.0.1',
    port: r.int('redis', 'port', 6379, 1, 65535),
    db: r.int('redis', 'db', r.int('redis', 'database', 0, 0, 1000), 0, 1000),
    username: r.str('redis', 'username'),
    password: r.str('redis', 'password'),
    socket: r.str('redis', 'socket'),
    prefix: r.str('redis', 'prefix') ?? 'mtrk:',
    sentinels: r.parsed('redis', 'sentinels', parseEndpointList, hostPort, null),
    sentinelName: r.str('redis', 'sentinel_name') ?? 'mymaster',
    cluster: r.parsed('redis', 'cluster', parseEndpointList, hostPort, null),
    connectTimeout: r.int('redis', 'connect_timeout', 2000, 50, 60000),
    commandTimeout: r.int('redis', 'command_timeout', 500, 10, 60000),
  }
}

/** MTQP-28: an inactivity timer, if any, is at least 10 minutes. */
const MIN_INACTIVITY_TIMEOUT = 600

/**
 * MTQP-31: a chaining server answers within 2 minutes. The chain gets at most 115 s of them, leaving time for the
 * store look-up and the answer itself.
 */
const MAX_CHAIN_TIMEOUT = 115

/** `ip`, `ip:port` or `[v6]:port` items, comma or space separated, as dns.setServers takes them; null if any is not. */
function parseDnsServers(text: string): string[] | null {
  const items = text.split(/[\s,]+/).filter(Boolean)
  const ok = items.every((item) => {
    const endpoint = parseEndpoint(item)
    return endpoint === null ? isIP(item) !== 0 : isIP(endpoint.host) !== 0
  })
  return ok && items.length > 0 ? items : null
}

function parseTlsVersion(s: string): TlsVersion | null {
  return TLS_VERSIONS.find((v) => v.toLowerCase() === s.toLowerCase()) ?? null
}

function parseMtqp(r: SectionReader): MtqpConfig {
  const inactivity = r.int('mtqp', 'inactivity_timeout', MIN_INACTIVITY_TIMEOUT, MIN_INACTIVITY_TIMEOUT, DAY)
  // Below the RFC's minimum on purpose, so the name says it is for tests (short timers in end-to-end tests).
  const testInactivityMs = r.int('mtqp', 'test_inactivity_timeout_ms', 0, 1, MIN_INACTIVITY_TIMEOUT * 1000)
  const tlsVersions = `one of ${TLS_VERSIONS.join(', ')} (RFC 8996 forbids older versions)`
  const minTlsVersion = r.parsed('mtqp', 'min_tls_version', parseTlsVersion, tlsVersions, 'TLSv1.2')
  const adequate = (s: string) => {
    const v = parseTlsVersion(s)
    return v !== null && TLS_VERSIONS.indexOf(v) >= TLS_VERSIONS.indexOf(minTlsVersion) ? v : null
  }
  return {
    enabled: r.bool('mtqp', 'enabled', true),
    listen: r.parsed('mtqp', 'listen', parseEndpoint, 'host:port', { host: '::', port: 1038 }),
    suspended: r.bool('mtqp', 'suspended', false),
    inactivityTimeoutMs: testInactivityMs > 0 ? testInactivityMs : inactivity * 1000,
    maxConnections: r.int('mtqp', 'max_connections', 100, 1, 100000),
    maxConnectionsPerIp: r.int('mtqp', 'max_connections_per_ip', 10, 1, 100000),
    maxBadCommands: r.int('mtqp', 'max_bad_commands', 10, 1, 1000),
    failedTrackLimit: r.int('mtqp', 'failed_track_limit', 20, 0, 1000000),
    failedTrackWindow: r.int('mtqp', 'failed_track_window', 3600, 1, 7 * DAY),
    starttls: r.oneOf('mtqp', 'starttls', ['off', 'on', 'required'] as const, 'on'),
    minTlsVersion,
    adequateTlsVersion: r.parsed(
      'mtqp',
      'adequate_tls_version',
      adequate,
      `${tlsVersions}, not below min_tls_version`,
      minTlsVersion,
    ),
    insecureTls: r.oneOf('mtqp', 'insecure_tls', ['refuse', 'close'] as const, 'refuse'),
    allowSingleLabelFqdn: r.bool('mtqp', 'allow_single_label_fqdn', false),
    noinfoDelayMs: r.int('mtqp', 'noinfo_delay', 250, 0, 10000),
    chaining: r.bool('mtqp', 'chaining', false),
    chainTimeoutMs: r.int('mtqp', 'chain_timeout', 100, 1, MAX_CHAIN_TIMEOUT) * 1000,
    chainMaxHops: r.int('mtqp', 'chain_max_hops', 5, 1, 20),
    chainPublicName: r.parsed(
      'mtqp',
      'chain_public_name',
      (s) => (isDnsName(s, { allowSingleLabel: false }) ? s : null),
      'a fully qualified host name',
      null,
    ),
    chainCaFile: r.str('mtqp', 'chain_ca'),
    chainDnsServers: r.parsed(
      'mtqp',
      'chain_dns_servers',
      parseDnsServers,
      'a list of ip[:port] or [ipv6]:port',
      null,
    ),
    // Issue 14 (abuse and faults).
    failedTrackGlobalLimit: r.int('mtqp', 'failed_track_global_limit', 600, 0, 1000000),
    slotIdleTimeoutMs: r.int('mtqp', 'slot_idle_timeout', 10, 1, MIN_INACTIVITY_TIMEOUT) * 1000,
  }
}

function parseRelay(r: SectionReader): RelayConfig {
  return { forward: r.bool('relay', 'forward', true) }
}

// Issue 14 (abuse and faults).
function parseJournal(r: SectionReader): JournalConfig {
  return {
    dir: r.str('journal', 'dir'),
    maxBytes: r.int('journal', 'max_size', 1024, 1, 1024 * 1024) * 1024 * 1024,
    fsyncMs: r.int('journal', 'fsync_interval', 1000, 1, 60000),
    replayBatch: r.int('journal', 'replay_batch', 100, 1, 10000),
    replayPauseMs: r.int('journal', 'replay_pause', 10, 0, 10000),
  }
}

/** Turns the ini Haraka loaded into typed options; `errors` names every key that was ignored and why. */
export function parseConfig(ini: IniSections): { config: MtrkConfig; errors: string[] } {
  const errors: string[] = []
  const r = new SectionReader(ini, errors)
  const config = {
    main: parseMain(r),
    redis: parseRedis(r),
    mtqp: parseMtqp(r),
    relay: parseRelay(r),
    journal: parseJournal(r),
  }
  if (config.redis.sentinels && config.redis.cluster)
    errors.push('[redis] sentinels and cluster are exclusive; using cluster')
  return { config, errors }
}

/**
 * MTRK_REDIS_URL=redis://[user:password@]host:port[/db] overrides [redis] endpoint settings. The start script uses it
 * to point the dev relay at the private Redis it started, without rewriting the user's config.
 */
export function applyRedisUrl(
  redis: RedisConfig,
  url: string | undefined,
): { redis: RedisConfig; error?: string } {
  if (!url) return { redis }
  let u: URL
  // Errors name the URL without its user and password: they end up in logs.
  const shown = url.replace(/\/\/[^@/]*@/, '//***@')
  try {
    u = new URL(url)
  } catch {
    return { redis, error: `MTRK_REDIS_URL is not a URL: ${shown}` }
  }
  const port = Number(u.port || 6379)
  const db = Number(u.pathname.replace(/^\//, '') || 0)
  if (u.protocol !== 'redis:' || !u.hostname || !Number.isInteger(port) || !Number.isInteger(db)) {
    return { redis, error: `MTRK_REDIS_URL must look like redis://host:port/db, got ${shown}` }
  }
  return {
    redis: {
      ...redis,
      host: u.hostname.replace(/^\[|\]$/g, ''),
      port,
      db,
      username: u.username ? decodeURIComponent(u.username) : redis.username,
      password: u.password ? decodeURIComponent(u.password) : redis.password,
      socket: null,
      sentinels: null,
      cluster: null,
    },
  }
}
