// The tracking page on Haraka's HTTP server ([web], README "Tracking page"): mounted from the `init_http` hook,
// which Haraka runs once its config/http.ini listener is up, in every process that serves HTTP (HRK-22). Registered
// only when [web] enabled=true: otherwise nothing is mounted and no hook runs.
import { readFileSync } from 'node:fs'
import { dnsServerResolver } from '../client/discovery'
import { TofuMemory } from '../client/tofu'
import type { TrackOptions } from '../client/track'
import { pageTrackingServer } from '../config/config'
import type { HarakaHttpServer, Next } from '../haraka/types'
import type { TrackBudget } from '../server/session'
import type { BudgetScope } from '../store/failed-track-budget'
import { openTrace, type TraceQuery } from '../trace'
import { createOperatorPage, type OperatorTrace } from '../web/operator'
import { createTrackingPage } from '../web/page'
import { budgetOf, type MtrkPlugin, state } from './state'

export function registerWeb(plugin: MtrkPlugin): void {
  if (!state(plugin).config.web.enabled) return
  const http = plugin.config.get('http.ini') as { main?: { listen?: unknown } } | undefined
  if (!http?.main?.listen)
    plugin.logwarn(
      '[web] enabled=true, but config/http.ini has no listen: Haraka serves no HTTP, so no tracking page',
    )
  plugin.register_hook('init_http', 'mount_web')
}

/**
 * The failed-TRACK budget a page spends for the person using it, by that person's address: the one in Redis the MTQP
 * listener and every node share (MTQP-29), read at each request so a configuration reload applies. The tracking page
 * counts the per-address budget only: the servers it asks count the global ceiling, its own listener without
 * charging the page's address when the page is in [mtqp] failed_track_proxies. Wrong operator passwords count both.
 */
function webBudget(plugin: MtrkPlugin, scope: BudgetScope): TrackBudget {
  return {
    reserve: (client) => budgetOf(plugin).reserve(client, scope),
    release: (client) => budgetOf(plugin).release(client, scope),
  }
}

/** How the page asks tracking servers, from [web] as it is now; certificates seen are remembered per process. */
function trackOptions(plugin: MtrkPlugin, tofu: TofuMemory): () => TrackOptions {
  let caFile: string | null = null
  let ca: string | undefined
  return () => {
    const c = state(plugin).config.web
    if (c.caFile !== caFile) {
      caFile = c.caFile
      ca = undefined
      try {
        if (caFile !== null) ca = readFileSync(caFile, 'utf8')
      } catch (e) {
        plugin.logerror(`[web] ca ${caFile} cannot be read, using the system's authorities: ${e}`)
      }
    }
    return {
      starttls: c.starttls,
      maxHops: c.maxHops,
      tofu,
      warn: (m) => plugin.logwarn(`tracking page: ${m}`),
      ...(ca === undefined ? {} : { ca }),
      ...(c.dnsServers === null ? {} : { resolver: dnsServerResolver(c.dnsServers) }),
    }
  }
}

/** Opens the message trace (src/trace, issue 12) the operator page reads, in the store's Redis. */
function operatorTrace(plugin: MtrkPlugin): () => Promise<OperatorTrace<TraceQuery>> {
  return () => openTrace(state(plugin).config, 'mtrk-web')
}

export function mount_web(this: MtrkPlugin, next: Next, server: HarakaHttpServer): void {
  try {
    const app = server.http?.app
    if (app === undefined) {
      this.logwarn('[web] Haraka gave no HTTP app: no tracking page')
      return next()
    }
    const config = () => state(this).config.web
    const log = { info: (m: string) => this.loginfo(m), warn: (m: string) => this.logwarn(m) }
    // First: the tracking page answers everything else under the path.
    app.use(createOperatorPage({ config, trace: operatorTrace(this), budget: webBudget(this, 'both'), log }))
    app.use(
      createTrackingPage({
        config,
        trackOptions: trackOptions(this, new TofuMemory()),
        own: () => pageTrackingServer(state(this).config),
        budget: webBudget(this, 'client'),
        log,
      }),
    )
    const { path, operator } = config()
    this.loginfo(`tracking page at ${path}/${operator ? `, operator page at ${path}/operator/` : ''}`)
  } catch (e) {
    // An init hook must call next; a page that cannot be set up must not stop Haraka.
    this.logerror(`tracking page not mounted: ${e instanceof Error ? e.message : String(e)}`)
  }
  next()
}
