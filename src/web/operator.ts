// The operator page (README "Operator page"): the message trace of issue 12 over HTTP, behind HTTP Basic
// authentication, read-only (GET only, so there is nothing to forge across sites). One request handler for the
// page, its script and style, and a JSON API that hands the trace library's answers through as they are.
//
// Decisions:
// - The trace is reached through OperatorTrace, the shape of the trace library's `Trace` (src/trace: query, search,
//   show, summary): the library plugs in as it is.
// - A request with wrong credentials spends the client's failed-TRACK budget, like a failed TRACK: guessing the
//   password is as slow as guessing a secret. A spent budget is refused before the password is checked.
import { readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import type { WebConfig } from '../config/config'
import { parsePasswordHash } from '../config/kinds'
import { QUERY_FIELDS } from '../model/trace-query'
import { clientKey } from '../server/limits'
import type { TrackBudget } from '../server/session'
import { refusedForNow } from '../store/store'
import type { Result } from '../util/result'
import { basicCredentials, checkCredentials } from './auth'
import { answering, securityHeaders, sendError, sendJson } from './http'
import { ASSETS_DIR, type HttpHandler } from './page'

/**
 * The message trace as the operator page asks it (issue 12's library `Trace` fits): `query` reads a search from the
 * strings of the request (keys `from`, `to`, `fromDomain`, `toDomain`, `messageId`, `envid`, `queueId`, `ip`,
 * `helo`; `since`, `until`, `outcome`, `limit`, `cursor`) and names the bad one; `search` gives one page of
 * messages, `show` one message by queue id with every attempt, `summary` the counts per hour. Reads reject when
 * the store is unavailable.
 */
export interface OperatorTrace<Q extends { since: number; until: number }> {
  query(input: Partial<Record<string, string>>, now?: number, name?: (field: string) => string): Result<Q>
  search(query: Q): Promise<unknown>
  show(queueId: string, now?: number): Promise<unknown>
  summary(since: number, until: number): Promise<unknown>
}

export interface OperatorPageOptions<Q extends { since: number; until: number }> {
  config: () => WebConfig
  /** Opens the trace, on the first request that needs it (again after a failure). */
  trace: () => Promise<OperatorTrace<Q>>
  budget: TrackBudget
  log: { info(message: string): void; warn(message: string): void }
  assetsDir?: string
}

const ASSETS = {
  '/static/operator.js': 'text/javascript; charset=utf-8',
  '/static/operator.css': 'text/css; charset=utf-8',
} as const

const REALM = 'Basic realm="mtrk operator", charset="UTF-8"'

/**
 * Wrong passwords this process checks while Redis refuses the budget's write (out of memory, read-only) though
 * its reads may still work; then every request is a 503 until Redis takes a reservation again. The operator keeps
 * the page through such a spell, and a guesser gets no more than these few tries from it.
 */
const UNBUDGETED_FAILURES = 10

/**
 * The query keys each API route reads; any other is a 400 naming it, never ignored (a typo such as `rcpt=` would
 * otherwise list every message). The summary counts all mail: it reads the time range only.
 */
const ROUTE_KEYS: Readonly<Record<'search' | 'summary' | 'message', readonly string[]>> = {
  search: QUERY_FIELDS,
  summary: ['since', 'until'],
  message: [],
}

export function createOperatorPage<Q extends { since: number; until: number }>(
  o: OperatorPageOptions<Q>,
): HttpHandler {
  const dir = o.assetsDir ?? ASSETS_DIR
  const page = readFileSync(join(dir, 'operator.html'))
  const assets = new Map(
    Object.entries(ASSETS).map(([path, type]) => [
      path,
      { type, body: readFileSync(join(dir, path.slice(8))) },
    ]),
  )
  let opened: Promise<OperatorTrace<Q>> | null = null
  /** Wrong passwords checked since Redis last took a reservation of the budget (UNBUDGETED_FAILURES). */
  let unbudgeted = 0
  async function openTrace(open: () => Promise<OperatorTrace<Q>>): Promise<OperatorTrace<Q>> {
    opened ??= open()
    try {
      return await opened
    } catch (e) {
      opened = null
      throw e
    }
  }

  /** Whether the request may go on; when not, the answer has been sent. */
  async function authorized(req: IncomingMessage, res: ServerResponse, cfg: WebConfig): Promise<boolean> {
    const stored = cfg.operatorPasswordHash === null ? null : parsePasswordHash(cfg.operatorPasswordHash)
    if (stored === null) {
      sendError(res, 503, 'the operator page has no valid [web] operator_password_hash')
      return false
    }
    const client = clientKey(req.socket.remoteAddress ?? '')
    // A wrong password spends one failed TRACK of the shared budget (MTQP-29); anything else gives it back.
    let reserved: boolean | 'unbudgeted'
    try {
      reserved = await o.budget.reserve(client)
    } catch (e) {
      // Refusing writes for now (out of memory, a read-only replica), Redis still serves reads: a few wrong
      // passwords are checked without the reservation (UNBUDGETED_FAILURES). Redis down: the page is unavailable.
      if (!refusedForNow(e) || unbudgeted >= UNBUDGETED_FAILURES) {
        sendError(res, 503, 'the operator page is unavailable right now; try again later')
        return false
      }
      reserved = 'unbudgeted'
    }
    if (reserved === false) {
      sendError(res, 429, 'too many failed attempts from your address; try again later')
      return false
    }
    // Only a reservation Redis took ends the spell; taken before the password is checked, so that requests arriving
    // together count each, and given back below unless the password was wrong.
    if (reserved === true) unbudgeted = 0
    else unbudgeted++
    const given = basicCredentials(req)
    const good = given !== null && (await checkCredentials(given, cfg.operatorUser, stored))
    if (given === null || good) {
      if (reserved === true) o.budget.release(client)
      else unbudgeted--
    }
    if (good) return true
    if (given !== null) o.log.info(`operator page: wrong credentials from ${client}`)
    res.setHeader('WWW-Authenticate', REALM)
    sendError(res, 401, 'the operator page needs the operator user name and password')
    return false
  }

  async function api(res: ServerResponse, trace: OperatorTrace<Q>, route: string, url: URL): Promise<void> {
    const input: Partial<Record<string, string>> = {}
    const known = ROUTE_KEYS[route === 'search' || route === 'summary' ? route : 'message']
    for (const [k, v] of url.searchParams) {
      if (!known.includes(k))
        return sendError(
          res,
          400,
          `${k}: not a query key of ${route.replace(/\/.*/, '')} (${known.join(', ') || 'none'})`,
        )
      if (v.trim() !== '') input[k] = v
    }
    if (route === 'search' || route === 'summary') {
      // Errors name the query key the request used (`since`), not the command's option (`--since`).
      const q = trace.query(input, undefined, (field) => field)
      if (!q.ok) return sendError(res, 400, q.error)
      const answer =
        route === 'search' ? await trace.search(q.value) : await trace.summary(q.value.since, q.value.until)
      return sendJson(res, 200, answer)
    }
    const id = decodeURIComponent(route.slice('message/'.length))
    const message = id === '' ? null : await trace.show(id)
    if (message === null) return sendError(res, 404, 'no message with this queue id is kept')
    sendJson(res, 200, message)
  }

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    cfg: WebConfig,
    rest: string,
  ): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD')
      return sendError(res, 405, `${req.method} is not allowed here`)
    }
    if (!(await authorized(req, res, cfg))) return
    res.setHeader('Cache-Control', 'no-store')
    if (rest === '' || rest === '/') {
      if (rest === '') {
        res.statusCode = 308
        res.setHeader('Location', `${cfg.path}/operator/`)
        return void res.end()
      }
      res.setHeader('Content-Type', 'text/html; charset=utf-8')
      return void res.end(req.method === 'HEAD' ? undefined : page)
    }
    const asset = assets.get(rest)
    if (asset !== undefined) {
      res.setHeader('Content-Type', asset.type)
      return void res.end(req.method === 'HEAD' ? undefined : asset.body)
    }
    const m = /^\/api\/(search|summary|message\/[^/]+)$/.exec(rest)
    if (m === null) return sendError(res, 404, 'not found')
    try {
      await api(res, await openTrace(o.trace), m[1] ?? '', new URL(req.url ?? '/', 'http://x'))
    } catch (e) {
      o.log.warn(`operator page: ${e instanceof Error ? e.message : String(e)}`)
      sendError(res, 503, 'the trace store is unavailable; try again shortly')
    }
  }

  return (req, res, next) => {
    const cfg = o.config()
    const base = `${cfg.path}/operator`
    const path = (req.url ?? '/').replace(/[?#].*$/, '')
    if (!cfg.enabled || !cfg.operator || !(path === base || path.startsWith(`${base}/`))) return next()
    securityHeaders(req, res)
    answering(res, o.log, 'operator page', route(req, res, cfg, path.slice(base.length)))
  }
}
