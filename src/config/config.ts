// config/mtrk.ini as typed options. Pure: the option table (./options) says what each key holds; this module adds the
// rules that tie options together. Every bad value is reported with its section and key and leaves a safe value, so a
// typo never stops mail.
import { isIP } from 'node:net'
import type { Endpoint } from './listen'
import { OPTIONS, type Options, type SectionValues, TLS_VERSIONS } from './options'
import { type IniSections, readOptions } from './read'

export { TLS_VERSIONS } from './options'
export type { IniSections, IniValue } from './read'

export type MainConfig = SectionValues<Options['main']>
export type RedisConfig = SectionValues<Options['redis']>
export type MtqpConfig = SectionValues<Options['mtqp']>
export type RelayConfig = SectionValues<Options['relay']>
export type TraceConfig = SectionValues<Options['trace']>
export type WebConfig = SectionValues<Options['web']>
export type MtrkConfig = { [S in keyof Options]: SectionValues<Options[S]> }

/** [mtqp] starttls: never offer it, offer it when a certificate is installed, or also demand it (MTQP-13, MTQP-21). */
export type StarttlsMode = MtqpConfig['starttls']
export type TlsVersion = (typeof TLS_VERSIONS)[number]

/** Turns the ini Haraka loaded into typed options; `errors` names every key that was ignored and why. */
export function parseConfig(ini: IniSections): { config: MtrkConfig; errors: string[] } {
  const { values: config, errors, given, invalid } = readOptions(OPTIONS, ini)
  const { main, redis, mtqp } = config
  // MTRK-8: no default retention above the maximum; an unset one follows a lower maximum silently.
  if (main.defaultRetention > main.maxRetention) {
    if (given.has('main.default_retention')) {
      errors.push(
        `[main] default_retention: ${main.defaultRetention} is above max_retention; using ${main.maxRetention}`,
      )
    }
    main.defaultRetention = main.maxRetention
  }
  if (redis.sentinels && redis.cluster)
    errors.push('[redis] sentinels and cluster are exclusive; using cluster')
  // A listener that cannot be placed where asked is not placed anywhere else (every interface, say).
  if (invalid.has('mtqp.listen')) mtqp.enabled = false
  if (mtqp.testInactivityTimeoutMs !== null) mtqp.inactivityTimeoutMs = mtqp.testInactivityTimeoutMs
  const order = (v: TlsVersion) => TLS_VERSIONS.indexOf(v)
  if (!given.has('mtqp.adequate_tls_version')) mtqp.adequateTlsVersion = mtqp.minTlsVersion
  else if (order(mtqp.adequateTlsVersion) < order(mtqp.minTlsVersion)) {
    errors.push(
      `[mtqp] adequate_tls_version: ${mtqp.adequateTlsVersion} is below min_tls_version; using ${mtqp.minTlsVersion}`,
    )
    mtqp.adequateTlsVersion = mtqp.minTlsVersion
  }
  // The tracking page asks this relay's own listener for everyone: it counts each person's failed TRACKs itself.
  if (!given.has('mtqp.failed_track_proxies')) {
    const { host } = pageTrackingServer(config)
    mtqp.failedTrackProxies = config.web.enabled && config.web.server === null && isIP(host) ? [host] : []
  }
  return { config, errors }
}

/**
 * The tracking server the tracking page asks for an envid and secret given without a link: [web] server, else this
 * relay's MTQP listener as a client on this host reaches it (on loopback when it listens on every address; a
 * connection to an address of this host comes from that same address).
 */
export function pageTrackingServer(config: MtrkConfig): Endpoint {
  if (config.web.server !== null) return config.web.server
  const { host, port } = config.mtqp.listen
  const any = host === '' || host === '0.0.0.0' || host === '::'
  return { host: any ? (host === '::' ? '::1' : '127.0.0.1') : host, port }
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
    return { redis, error: `MTRK_REDIS_URL must look like redis://host:port/db, got ${shown}` }
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
