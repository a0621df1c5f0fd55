// config/mtrk.ini as typed options. Pure: Haraka's config loader hands us the parsed ini; every bad value is
// reported with its section and key, and replaced by its default so a typo never stops mail.
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

export interface MtqpConfig {
  enabled: boolean
  listen: Endpoint
}

export interface RelayConfig {
  /**
   * Pass MTRK, ENVID, RET, NOTIFY and ORCPT on to next hops that advertise them (RFC 3885 §3.3, RFC 3461 §5.2).
   * false: none is sent, and relayed recipients are reported `relayed`, never `transferred`.
   */
  forward: boolean
}

export interface MtrkConfig {
  main: MainConfig
  redis: RedisConfig
  mtqp: MtqpConfig
  relay: RelayConfig
}

/** The booleans to declare to Haraka's config loader, with their defaults (+ true, - false). */
export const INI_BOOLEANS = ['+main.reject_unknown_params', '+mtqp.enabled', '+relay.forward']

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

function parseMtqp(r: SectionReader): MtqpConfig {
  return {
    enabled: r.bool('mtqp', 'enabled', true),
    listen: r.parsed('mtqp', 'listen', parseEndpoint, 'host:port', { host: '::', port: 1038 }),
  }
}

function parseRelay(r: SectionReader): RelayConfig {
  return { forward: r.bool('relay', 'forward', true) }
}

/** Turns the ini Haraka loaded into typed options; `errors` names every key that was ignored and why. */
export function parseConfig(ini: IniSections): { config: MtrkConfig; errors: string[] } {
  const errors: string[] = []
  const r = new SectionReader(ini, errors)
  const config = { main: parseMain(r), redis: parseRedis(r), mtqp: parseMtqp(r), relay: parseRelay(r) }
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
  try {
    u = new URL(url)
  } catch {
    return { redis, error: `MTRK_REDIS_URL is not a URL: ${url}` }
  }
  const port = Number(u.port || 6379)
  const db = Number(u.pathname.replace(/^\//, '') || 0)
  if (u.protocol !== 'redis:' || !u.hostname || !Number.isInteger(port) || !Number.isInteger(db)) {
    return { redis, error: `MTRK_REDIS_URL must look like redis://host:port/db, got ${url}` }
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
