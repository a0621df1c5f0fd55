// The tracking page (README "Tracking page"): one request handler for Haraka's HTTP server that serves the page,
// its script and style, and the JSON API the page uses. It follows messages with the client library, the same code
// as `mtqp track`, and streams each hop as it answers.
//
// Decisions:
// - Mounted as a plain (req, res, next) handler that looks at its own path prefix and passes everything else on, so it
//   depends on nothing of express and reads [web] afresh on every request (a reload can move or switch it off).
// - The secret only ever arrives in a POST body (or in the page's URL fragment, which the browser never sends); it
//   is never logged, and no answer repeats it.
// - The failed-TRACK budget counts per client address (clientKey), like the MTQP server's: a tracking whose first
//   server knows nothing (unknown envid and wrong secret alike, AMB-13) spends one; a spent budget refuses before
//   anything is asked, whatever the message.
// - Trackings run at most `max_trackings` at once, each within `track_timeout`, and stop when the browser goes away.
import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { type TrackOptions, trackMessage } from '../client/track'
import { printable } from '../client/types'
import type { WebConfig } from '../config/config'
import { clientKey } from '../server/limits'
import type { TrackBudget } from '../server/session'
import { answering, csrfCookie, csrfProblem, readJson, securityHeaders, sendError } from './http'
import { type OwnServer, progressEvent, reportView, type StreamEvent, trackTargetOf } from './track'

export type HttpHandler = (req: IncomingMessage, res: ServerResponse, next: (err?: unknown) => void) => void

export interface TrackingPageOptions {
  /** [web] as it is now. */
  config: () => WebConfig
  /** How to ask tracking servers: TLS, authorities, DNS, hop limit (signal and progress are added per tracking). */
  trackOptions: () => TrackOptions
  /** This relay's own tracking server, for an envid and secret given without a URI. */
  own: () => OwnServer
  budget: TrackBudget
  log: { info(message: string): void; warn(message: string): void }
  /** Where index.html and the static files (track.js, track.css, icon.svg) are; default the package's web/ directory. */
  assetsDir?: string
}

/** The package's web/ directory: two levels up from src/web or dist/web. */
export const ASSETS_DIR = join(__dirname, '..', '..', 'web')

/** A POST body holds a URI or an envid and a secret: a few hundred bytes. */
const MAX_BODY = 4096

const ASSETS = {
  '/static/track.js': 'text/javascript; charset=utf-8',
  '/static/track.css': 'text/css; charset=utf-8',
  '/static/icon.svg': 'image/svg+xml',
} as const

export function createTrackingPage(o: TrackingPageOptions): HttpHandler {
  const dir = o.assetsDir ?? ASSETS_DIR
  const page = readFileSync(join(dir, 'index.html'), 'utf8')
  const assets = new Map(
    Object.entries(ASSETS).map(([path, type]) => [
      path,
      { type, body: readFileSync(join(dir, path.slice(8))) },
    ]),
  )
  let running = 0

  function servePage(req: IncomingMessage, res: ServerResponse, base: string): void {
    const token = randomBytes(24).toString('base64url')
    res.setHeader('Set-Cookie', csrfCookie(req, token, base))
    res.setHeader('Content-Type', 'text/html; charset=utf-8')
    res.setHeader('Cache-Control', 'no-store')
    res.end(req.method === 'HEAD' ? undefined : page.replace('{{csrf}}', token))
  }

  async function track(req: IncomingMessage, res: ServerResponse, cfg: WebConfig): Promise<void> {
    const refused = csrfProblem(req)
    if (refused !== null) {
      req.resume()
      return sendError(res, 403, refused)
    }
    const body = await readJson(req, MAX_BODY)
    if (body === null)
      return sendError(res, 400, 'the request must be a JSON object sent as application/json')
    const asked = trackTargetOf(body, o.own())
    if (!asked.ok) return sendError(res, 400, asked.error)
    const client = clientKey(req.socket.remoteAddress ?? '')
    if (running >= cfg.maxTrackings) return sendError(res, 503, 'busy: try again shortly')
    // One failed TRACK is reserved before asking and given back unless the answer was "no information" (MTQP-29).
    const reserved = await o.budget.reserve(client).catch(() => null)
    if (reserved === null) return sendError(res, 503, 'tracking is unavailable right now; try again later')
    if (!reserved)
      return sendError(res, 429, 'too many look-ups found nothing from your address; try again later')

    running++
    const controller = new AbortController()
    const deadline = setTimeout(() => controller.abort(), cfg.trackTimeoutMs)
    // The browser gave up (closed the page, pressed stop): so do we.
    res.on('close', () => controller.abort())
    res.writeHead(200, { 'Content-Type': 'application/x-ndjson; charset=utf-8', 'Cache-Control': 'no-store' })
    const send = (e: StreamEvent) => {
      if (!res.writableEnded && !res.destroyed) res.write(`${JSON.stringify(e)}\n`)
    }
    let noinfo = false
    try {
      const report = await trackMessage(asked.value.target, asked.value.request, {
        ...o.trackOptions(),
        signal: controller.signal,
        progress: (e) => send(progressEvent(e)),
      })
      noinfo = report.failure?.failure === 'noinfo'
      send({ event: 'report', report: reportView(report) })
      o.log.info(
        `tracking page: ${printable(report.envid)} for ${client}: ${report.state}, ${report.hops.length} server(s) asked`,
      )
    } finally {
      if (!noinfo) o.budget.release(client)
      clearTimeout(deadline)
      running--
      res.end()
    }
  }

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    cfg: WebConfig,
    rest: string,
  ): Promise<void> {
    const method = req.method ?? 'GET'
    const reading = method === 'GET' || method === 'HEAD'
    if (rest === '') {
      res.statusCode = 308
      res.setHeader('Location', `${cfg.path}/`)
      return void res.end()
    }
    if (rest === '/' && reading) return servePage(req, res, `${cfg.path}/`)
    const asset = assets.get(rest)
    if (asset !== undefined && reading) {
      res.setHeader('Content-Type', asset.type)
      res.setHeader('Cache-Control', 'no-cache')
      return void res.end(method === 'HEAD' ? undefined : asset.body)
    }
    if (rest === '/api/track' && method === 'POST') return track(req, res, cfg)
    if (rest === '/' || asset !== undefined || rest === '/api/track') {
      res.setHeader('Allow', rest === '/api/track' ? 'POST' : 'GET, HEAD')
      return sendError(res, 405, `${method} is not allowed here`)
    }
    sendError(res, 404, 'not found')
  }

  return (req, res, next) => {
    const cfg = o.config()
    const path = (req.url ?? '/').replace(/[?#].*$/, '')
    if (!cfg.enabled || !(path === cfg.path || path.startsWith(`${cfg.path}/`))) return next()
    securityHeaders(req, res)
    answering(res, o.log, 'tracking page', route(req, res, cfg, path.slice(cfg.path.length)))
  }
}
