// The plugin's per-process state: typed configuration (reloaded when config/mtrk.ini changes) and the tracking store,
// shared by the inbound hooks (./mtrk) and the relaying hooks (./relay).
import { readFileSync } from 'node:fs'
import os from 'node:os'
import { resolve } from 'node:path'
import { dnsServerResolver } from '../client/discovery'
import { applyRedisUrl, type IniSections, type MtrkConfig, parseConfig } from '../config/config'
import { formatEndpoint } from '../config/listen'
import type { ParamPolicy } from '../esmtp/params'
import { queueLifetime } from '../haraka/outbound'
import { harakaTlsProvider } from '../haraka/tls'
import type { HarakaPlugin, Next } from '../haraka/types'
import type { WriteContext } from '../model/tracking'
import { MtqpServer } from '../server/server'
import type { ChainFn } from '../server/session'
import { FailedTrackBudget, type FailedTrackLimits } from '../store/failed-track-budget'
import { OutageJournal } from '../store/journal'
import { createRedisClient } from '../store/redis'
import { type StoreWrite, TrackingStore } from '../store/store'
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
  /** The failed-TRACK budget in the store's Redis, shared by every node (MTQP-29). */
  budget: FailedTrackBudget | null
  /** The MTQP listener: one object for the life of the process, carried over every reload. */
  listener: Listener
  /**
   * Whether the report hooks were registered ([dsn] enabled at start). Haraka registers hooks once, so turning
   * reports on needs a restart; until then neither DSN nor MTRK is advertised (./dsn dsnInEffect).
   */
  reports: boolean
}

/** The MTQP listener of this process, and what it was started with. */
export interface Listener {
  /** Whether this is the process that runs the listener (the only one, or the cluster master; HRK-8). */
  host: boolean
  server: MtqpServer | null
  /** The settings `server` was started with (see listenerSettings); null while none runs. */
  settings: string | null
  /** Starts and stops one after another: two reloads in a row never start two listeners. */
  queue: Promise<void>
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
    budget: previous?.budget ?? null,
    listener: previous?.listener ?? { host: false, server: null, settings: null, queue: Promise.resolve() },
    reports: previous?.reports ?? false,
  }
  if (previous && !previous.reports && config.dsn.enabled && !previous.config.dsn.enabled)
    plugin.logwarn(
      '[dsn] enabled=true takes effect at the next restart: until then this relay sends no reports of its own and ' +
        'advertises neither DSN nor MTRK',
    )
  // A changed Redis endpoint (or journal) takes effect at once; the writes the old store held for an outage go
  // through its journal to the new store.
  const redisChanged =
    JSON.stringify([previous?.config.redis, previous?.config.journal]) !==
    JSON.stringify([config.redis, config.journal])
  if (previous?.store && redisChanged) {
    const old = previous.store
    plugin.mtrk.store = null
    plugin.mtrk.budget = null
    const next = storeOf(plugin)
    void old.close().then(() => next.replay())
  }
  const mtqpChanged = JSON.stringify(previous?.config.mtqp) !== JSON.stringify(config.mtqp)
  if (previous?.budget && !redisChanged && mtqpChanged)
    plugin.mtrk.budget = previous.budget.withLimits(budgetLimits(config))
  if (plugin.mtrk.listener.host) void syncMtqp(plugin)
}

/** The listener takes these when it starts: its options, and the store it reads. */
function listenerSettings(config: MtrkConfig): string {
  return JSON.stringify([config.mtqp, config.redis, config.journal])
}

/**
 * Makes this process the one that runs the MTQP listener (called from init_master), and starts it. A listener that
 * cannot start is logged; it never stops Haraka.
 */
export function hostMtqp(plugin: MtrkPlugin): Promise<void> {
  state(plugin).listener.host = true
  return syncMtqp(plugin)
}

/**
 * Brings the listener in line with the configuration as it is now: started when enabled with valid settings (also
 * after a reload that fixed them), restarted when its settings changed, stopped when turned off. Only in the process
 * that hosts it; queued behind any start or stop still under way.
 */
function syncMtqp(plugin: MtrkPlugin): Promise<void> {
  const listener = state(plugin).listener
  // Never rejects: a reload must not become an unhandled rejection, nor a failure block the starts after it.
  listener.queue = listener.queue
    .then(() => applyMtqp(plugin))
    .catch((e: unknown) =>
      plugin.logerror(`MTQP listener not started: ${e instanceof Error ? e.stack : String(e)}`),
    )
  return listener.queue
}

async function applyMtqp(plugin: MtrkPlugin): Promise<void> {
  const { config, listener } = state(plugin)
  const wanted = listener.host && config.mtqp.enabled ? listenerSettings(config) : null
  if (listener.server && listener.settings === wanted) return
  const old = listener.server
  listener.server = null
  listener.settings = null
  if (old) {
    await old.close()
    plugin.loginfo(
      wanted ? 'MTQP listener stopped, to start again with the new settings' : 'MTQP listener stopped',
    )
  }
  if (wanted) await startMtqp(plugin, wanted)
}

/** Stops the listener for good (Haraka shutting down): no reload starts it again. */
export function stopMtqp(plugin: MtrkPlugin): Promise<void> {
  state(plugin).listener.host = false
  return syncMtqp(plugin)
}

export function storeOf(plugin: MtrkPlugin): TrackingStore {
  const s = state(plugin)
  if (!s.store) {
    const client = createRedisClient(s.config.redis, `haraka-mtrk-${process.pid}`)
    const log = { info: (m: string) => plugin.loginfo(m), warn: (m: string) => plugin.logwarn(m) }
    s.store = new TrackingStore(
      client,
      {
        prefix: s.config.redis.prefix,
        historyLimit: s.config.main.historyLimit,
        journal: new OutageJournal({
          dir: resolve(process.env.HARAKA ?? process.cwd(), s.config.journal.dir ?? 'mtrk-journal'),
          maxBytes: s.config.journal.maxBytes,
          fsyncMs: s.config.journal.fsyncMs,
          batch: s.config.journal.replayBatch,
          pauseMs: s.config.journal.replayPauseMs,
          log,
        }),
      },
      log,
    )
    s.budget = new FailedTrackBudget(client, budgetLimits(s.config))
  }
  return s.store
}

function budgetLimits(config: MtrkConfig): FailedTrackLimits {
  return {
    prefix: config.redis.prefix,
    perClient: config.mtqp.failedTrackLimit,
    windowMs: config.mtqp.failedTrackWindow * 1000,
    perMinute: config.mtqp.failedTrackGlobalLimit,
  }
}

/** The failed-TRACK budget, in the Redis of the store, shared by the MTQP listener and the pages of every node. */
export function budgetOf(plugin: MtrkPlugin): FailedTrackBudget {
  storeOf(plugin)
  return state(plugin).budget as FailedTrackBudget
}

async function startMtqp(plugin: MtrkPlugin, settings: string): Promise<void> {
  const s = state(plugin)
  if (s.config.mtqp.inactivityTimeoutMs < 600_000) {
    plugin.logwarn('[mtqp] test_inactivity_timeout_ms is set: below the 10 minutes RFC 3887 §2.5 requires')
  }
  const chain = s.config.mtqp.chaining ? chainer(plugin, s) : undefined
  const server = new MtqpServer({
    config: s.config.mtqp,
    store: storeOf(plugin),
    budget: budgetOf(plugin),
    proxyBudget: budgetOf(plugin).scoped('global'),
    tls: harakaTlsProvider(plugin),
    log: { debug: (m) => plugin.logdebug(m), info: (m) => plugin.loginfo(m), warn: (m) => plugin.logwarn(m) },
    ...(chain === undefined ? {} : { chain }),
  })
  const where = formatEndpoint(s.config.mtqp.listen)
  try {
    await server.listen()
    s.listener.server = server
    s.listener.settings = settings
    plugin.loginfo(`MTQP listening on ${where}`)
  } catch (e) {
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
  build: () => StoreWrite | null | ReadonlyArray<StoreWrite | null>,
): void {
  let writes: ReadonlyArray<StoreWrite | null> = []
  try {
    const built = build()
    writes = Array.isArray(built) ? built : [built as StoreWrite | null]
  } catch (e) {
    logError(`tracking not recorded: ${e instanceof Error ? e.stack : String(e)}`)
  }
  next()
  try {
    // Submitted in one tick: a tracking write and its trace write leave in one network write.
    for (const write of writes) if (write) storeOf(plugin).submit(write)
  } catch (e) {
    logError(`tracking not recorded: ${e instanceof Error ? e.message : String(e)}`)
  }
}
