// The plugin's per-process state: typed configuration (reloaded when config/mtrk.ini changes) and the tracking store,
// shared by the inbound hooks (./mtrk) and the relaying hooks (./relay).
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { dnsServerResolver } from '../client/discovery'
import { applyRedisUrl, type IniSections, type MtrkConfig, parseConfig } from '../config/config'
import { formatEndpoint } from '../config/listen'
import type { ParamPolicy } from '../esmtp/params'
import { queueLifetime } from '../haraka/outbound'
import { harakaTlsProvider } from '../haraka/tls'
import type { HarakaPlugin, Next } from '../haraka/types'
import type { RecordWrite } from '../model/records'
import type { WriteContext } from '../model/tracking'
import { MtqpServer } from '../server/server'
import type { ChainFn } from '../server/session'
import { createRedisClient } from '../store/redis'
import { TrackingStore } from '../store/store'
import { createChainer } from './chain'

/**
 * Our hooks run before other plugins' (lower priority runs first): a plugin that accepts a recipient with OK ends the
 * rcpt hook chain, so parameter checks (DSN-3, DSN-4) and observations placed after it would never run.
 */
export const EARLY = -50

export interface PluginState {
  config: MtrkConfig
  policy: ParamPolicy
  reportingMta: string
  store: TrackingStore | null
  /** The MTQP listener, in the one process that runs it (the master in cluster mode). */
  mtqp: MtqpServer | null
}

export type MtrkPlugin = HarakaPlugin & { mtrk?: PluginState }

export function state(plugin: MtrkPlugin): PluginState {
  if (!plugin.mtrk) loadConfig(plugin)
  return plugin.mtrk as PluginState
}

export function loadConfig(plugin: MtrkPlugin): void {
  // No `booleans` option: Haraka would read a mistyped true/false as false; the option table reports it instead.
  const ini = plugin.config.get('mtrk.ini', () => loadConfig(plugin)) as IniSections
  const { config, errors } = parseConfig(ini ?? {})
  const fromEnv = applyRedisUrl(config.redis, process.env.MTRK_REDIS_URL)
  for (const e of fromEnv.error ? [...errors, fromEnv.error] : errors) plugin.logerror(`config/mtrk.ini ${e}`)
  config.redis = fromEnv.redis

  const me = plugin.config.get('me')
  const previous = plugin.mtrk
  plugin.mtrk = {
    config,
    policy: {
      allowed: config.main.allowedParams,
      rejectUnknown: config.main.rejectUnknownParams,
      mtrkWithoutEnvid: config.main.mtrkWithoutEnvid,
    },
    reportingMta: config.main.reportingMta ?? ((typeof me === 'string' && me.trim()) || os.hostname()),
    store: previous?.store ?? null,
    mtqp: previous?.mtqp ?? null,
  }
  // A changed Redis endpoint takes effect at once; writes the old client held for an outage go to the new one.
  const redisChanged = JSON.stringify(previous?.config.redis) !== JSON.stringify(config.redis)
  if (previous?.store && redisChanged) {
    const carried = previous.store.takePending()
    void previous.store.close()
    plugin.mtrk.store = null
    const next = storeOf(plugin)
    for (const write of carried) next.submit(write)
  }
  // The listener takes its options when it starts: restart it when they, or the store it reads, changed.
  const mtqpChanged = JSON.stringify(previous?.config.mtqp) !== JSON.stringify(config.mtqp)
  if (previous?.mtqp && (redisChanged || mtqpChanged)) void restartMtqp(plugin, previous.mtqp)
}

export function storeOf(plugin: MtrkPlugin): TrackingStore {
  const s = state(plugin)
  if (!s.store) {
    const client = createRedisClient(s.config.redis, `haraka-mtrk-${process.pid}`)
    s.store = new TrackingStore(
      client,
      { prefix: s.config.redis.prefix, historyLimit: s.config.main.historyLimit, pendingLimit: 10000 },
      { info: (m) => plugin.loginfo(m), warn: (m) => plugin.logwarn(m) },
    )
  }
  return s.store
}

/** Starts the MTQP listener. A listener that cannot start is logged; it never stops Haraka. */
export async function startMtqp(plugin: MtrkPlugin): Promise<void> {
  const s = state(plugin)
  if (!s.config.mtqp.enabled) return
  if (s.config.mtqp.inactivityTimeoutMs < 600_000) {
    plugin.logwarn('[mtqp] test_inactivity_timeout_ms is set: below the 10 minutes RFC 3887 §2.5 requires')
  }
  const chain = s.config.mtqp.chaining ? chainer(plugin, s) : undefined
  const server = new MtqpServer({
    config: s.config.mtqp,
    store: storeOf(plugin),
    tls: harakaTlsProvider(plugin),
    log: { debug: (m) => plugin.logdebug(m), info: (m) => plugin.loginfo(m), warn: (m) => plugin.logwarn(m) },
    ...(chain === undefined ? {} : { chain }),
  })
  s.mtqp = server
  const where = formatEndpoint(s.config.mtqp.listen)
  try {
    await server.listen()
    plugin.loginfo(`MTQP listening on ${where}`)
  } catch (e) {
    s.mtqp = null
    plugin.logerror(
      `MTQP listener could not start on ${where}: ${e instanceof Error ? e.message : String(e)}`,
    )
  }
}

/** MTQP-30: the chaining gateway of [mtqp] chaining=true, asking the next hops with the client library. */
function chainer(plugin: MtrkPlugin, s: PluginState): ChainFn {
  const c = s.config.mtqp
  let ca: string | undefined
  if (c.chainCaFile !== null) {
    try {
      ca = readFileSync(c.chainCaFile, 'utf8')
    } catch (e) {
      plugin.logerror(`[mtqp] chain_ca ${c.chainCaFile} cannot be read, using the system's authorities: ${e}`)
    }
  }
  plugin.loginfo(
    `MTQP chaining on: next hops asked within ${c.chainTimeoutMs} ms, at most ${c.chainMaxHops} deep` +
      (c.chainPublicName === null ? '' : `, inner names shown as ${c.chainPublicName}`),
  )
  return createChainer({
    reportingMta: s.reportingMta,
    timeoutMs: c.chainTimeoutMs,
    maxHops: c.chainMaxHops,
    publicName: c.chainPublicName,
    ...(ca === undefined ? {} : { ca }),
    ...(c.chainDnsServers === null ? {} : { resolver: dnsServerResolver(c.chainDnsServers) }),
    log: { info: (m) => plugin.loginfo(m), warn: (m) => plugin.logwarn(m) },
  })
}

async function restartMtqp(plugin: MtrkPlugin, old: MtqpServer): Promise<void> {
  await old.close()
  state(plugin).mtqp = null
  await startMtqp(plugin)
}

export function writeContext(plugin: MtrkPlugin, txn: string): WriteContext {
  const s = state(plugin)
  return {
    txn,
    reportingMta: s.reportingMta,
    now: Date.now(),
    queueLifetime: queueLifetime(plugin),
    queuedGrace: s.config.main.queuedGrace,
  }
}

/**
 * Continues the hook (CONT) at once, then records without waiting: mail never waits for tracking. Failures are
 * logged with `logError`, never thrown into Haraka's hook runner (which would report the plugin as failed).
 */
export function recordAfter(
  plugin: MtrkPlugin,
  next: Next,
  logError: (msg: string) => void,
  build: () => RecordWrite | null,
): void {
  let write: RecordWrite | null = null
  try {
    write = build()
  } catch (e) {
    logError(`tracking not recorded: ${e instanceof Error ? e.stack : String(e)}`)
  }
  next()
  if (!write) return
  try {
    storeOf(plugin).submit(write)
  } catch (e) {
    logError(`tracking not recorded: ${e instanceof Error ? e.message : String(e)}`)
  }
}
