// The tracking page on Haraka's HTTP server ([web], README "Tracking page"): mounted from the `init_http` hook,
// which Haraka runs once its config/http.ini listener is up, in every process that serves HTTP. Registered only when
// [web] enabled=true: otherwise nothing is mounted and no hook runs.
import { readFileSync } from 'node:fs'
import { dnsServerResolver } from '../client/discovery'
import { TofuMemory } from '../client/tofu'
import type { TrackOptions } from '../client/track'
import type { HarakaHttpServer, Next } from '../haraka/types'
import type { TrackBudget } from '../server/session'
import { openTrace, type TraceQuery } from '../trace'
import { createOperatorPage, type OperatorTrace } from '../web/operator'
import { createTrackingPage } from '../web/page'
import type { OwnServer } from '../web/track'
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
 * The failed-TRACK budget the pages spend, per client address: the one in Redis the MTQP listener and every node share
 * (MTQP-29), read at each request so a configuration reload applies.
 */
function webBudget(plugin: MtrkPlugin): TrackBudget {
  return {
    reserve: (client) => budgetOf(plugin).reserve(client),
    release: (client) => budgetOf(plugin).release(client),
  }
}

/** [web] server, else this relay's MTQP listener as a client on this host reaches it. */
function ownServer(plugin: MtrkPlugin): OwnServer {
  const { config } = state(plugin)
  if (config.web.server !== null) return config.web.server
  const { host, port } = config.mtqp.listen
  const any = host === '' || host === '0.0.0.0' || host === '::'
  return { host: any ? (host === '::' ? '::1' : '127.0.0.1') : host, port }
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
    const budget = webBudget(this)
    const log = { info: (m: string) => this.loginfo(m), warn: (m: string) => this.logwarn(m) }
    // First: the tracking page answers everything else under the path.
    app.use(createOperatorPage({ config, trace: operatorTrace(this), budget, log }))
    app.use(
      createTrackingPage({
        config,
        trackOptions: trackOptions(this, new TofuMemory()),
        own: () => ownServer(this),
        budget,
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
