// The plugin's per-process state: typed configuration (reloaded when config/mtrk.ini changes) and the tracking store,
// shared by the inbound hooks (./mtrk) and the relaying hooks (./relay).
import os from 'node:os'
import { applyRedisUrl, INI_BOOLEANS, type IniSections, type MtrkConfig, parseConfig } from '../config/config'
import type { ParamPolicy } from '../esmtp/params'
import { queueLifetime } from '../haraka/outbound'
import type { HarakaPlugin } from '../haraka/types'
import { createRedisClient } from '../store/redis'
import { TrackingStore } from '../store/store'
import type { WriteContext } from './tracking'

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
}

export type MtrkPlugin = HarakaPlugin & { mtrk?: PluginState }

export function state(plugin: MtrkPlugin): PluginState {
  if (!plugin.mtrk) loadConfig(plugin)
  return plugin.mtrk as PluginState
}

export function loadConfig(plugin: MtrkPlugin): void {
  const ini = plugin.config.get('mtrk.ini', { booleans: INI_BOOLEANS }, () =>
    loadConfig(plugin),
  ) as IniSections
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
  }
  // A changed Redis endpoint takes effect on the next write; the old client is let go.
  if (previous?.store && JSON.stringify(previous.config.redis) !== JSON.stringify(config.redis)) {
    void previous.store.close()
    plugin.mtrk.store = null
  }
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
