// The tracking page on Haraka's HTTP server ([web], README "Tracking page"): mounted from the `init_http` hook,
// which Haraka runs once its config/http.ini listener is up, in every process that serves HTTP. Registered only when
// [web] enabled=true: otherwise nothing is mounted and no hook runs.
import { readFileSync } from 'node:fs'
import { dnsServerResolver } from '../client/discovery'
import { TofuMemory } from '../client/tofu'
import type { TrackOptions } from '../client/track'
import type { HarakaHttpServer, Next } from '../haraka/types'
import { FailedTrackBudget } from '../server/limits'
import type { TrackBudget } from '../server/session'
import { createOperatorPage, type OperatorTrace } from '../web/operator'
import { createTrackingPage } from '../web/page'
import type { OwnServer } from '../web/track'
import { type MtrkPlugin, state } from './state'

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
 * The failed-TRACK budget the page spends, per client address, with the MTQP server's limits ([mtqp]
 * failed_track_limit, failed_track_window). Kept per process: the one place to point at a shared budget.
 */
function webBudget(plugin: MtrkPlugin): TrackBudget {
  const c = state(plugin).config.mtqp
  return new FailedTrackBudget({ limit: c.failedTrackLimit, windowMs: c.failedTrackWindow * 1000 })
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

/**
 * Opens the message trace the operator page reads. The trace library of issue 12 is its source once merged:
 * `return () => openTrace(state(plugin).config, 'mtrk-web')` (src/trace; its `Trace` is an OperatorTrace<TraceQuery>).
 * Until then the operator page answers that no trace is available.
 */
function operatorTrace(
  _plugin: MtrkPlugin,
): (() => Promise<OperatorTrace<{ since: number; until: number }>>) | null {
  return null
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
