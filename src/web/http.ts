// Small HTTP helpers for the tracking page, on plain node:http requests and responses (Haraka's express app passes
// those, extended, to every handler): security headers, cookies, the CSRF check, JSON bodies and answers.
//
// Decisions:
// - CSRF (double submit): the page gets a random token twice, in an HttpOnly SameSite=Strict cookie and in the
//   page itself; a POST must carry it back in a header, and an Origin header, when sent, must be this site's. A
//   cross-site form can set neither the header nor the JSON content type.
// - Every answer forbids framing, sniffing and Referer (the secret may sit in the page's URL fragment, and the page
//   links nowhere, but a Referer must never carry anything of it).
import { timingSafeEqual } from 'node:crypto'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { TLSSocket } from 'node:tls'

/** Scripts, styles and everything else from this server only: no inline code, no third party. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self'",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ')

export const CSRF_COOKIE = 'mtrk_csrf'
export const CSRF_HEADER = 'x-mtrk-csrf'

/** Whether the request came over TLS (Haraka serves HTTPS on port 443 with its certificate). */
export function isHttps(req: IncomingMessage): boolean {
  return (req.socket as Partial<TLSSocket>).encrypted === true
}

export function securityHeaders(req: IncomingMessage, res: ServerResponse): void {
  res.setHeader('Content-Security-Policy', CONTENT_SECURITY_POLICY)
  res.setHeader('Referrer-Policy', 'no-referrer')
  res.setHeader('X-Content-Type-Options', 'nosniff')
  res.setHeader('X-Frame-Options', 'DENY')
  res.setHeader('Cross-Origin-Opener-Policy', 'same-origin')
  res.setHeader('Cross-Origin-Resource-Policy', 'same-origin')
  if (isHttps(req)) res.setHeader('Strict-Transport-Security', 'max-age=31536000')
}

/** The value of one cookie of the request, or undefined. */
export function cookie(req: IncomingMessage, name: string): string | undefined {
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=')
    if (eq > 0 && pair.slice(0, eq).trim() === name) return pair.slice(eq + 1).trim()
  }
  return undefined
}

/** The Set-Cookie value for the CSRF token: scoped to the page's path, never sent cross-site, Secure on HTTPS. */
export function csrfCookie(req: IncomingMessage, token: string, path: string): string {
  return `${CSRF_COOKIE}=${token}; Path=${path}; HttpOnly; SameSite=Strict${isHttps(req) ? '; Secure' : ''}`
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a)
  const y = Buffer.from(b)
  return x.length === y.length && timingSafeEqual(x, y)
}

/** Why a POST is refused as possibly cross-site, or null when it carries this page's token from this site. */
export function csrfProblem(req: IncomingMessage): string | null {
  const origin = req.headers.origin
  if (origin !== undefined && origin !== `${isHttps(req) ? 'https' : 'http'}://${req.headers.host ?? ''}`)
    return 'the request comes from another site'
  const site = req.headers['sec-fetch-site']
  if (site !== undefined && site !== 'same-origin') return 'the request comes from another site'
  const sent = req.headers[CSRF_HEADER]
  const kept = cookie(req, CSRF_COOKIE)
  if (typeof sent !== 'string' || kept === undefined || kept === '' || !sameText(sent, kept))
    return 'the page token is missing or wrong: reload the page'
  return null
}

/** Reads a JSON body of at most `limit` bytes; null when it is not JSON, too long, or not `application/json`. */
export function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  if (!/^application\/json\s*(?:;|$)/i.test(req.headers['content-type'] ?? '')) {
    req.resume()
    return Promise.resolve(null)
  }
  return new Promise((resolve) => {
    const chunks: Buffer[] = []
    let size = 0
    req.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= limit) chunks.push(chunk)
    })
    req.on('error', () => resolve(null))
    req.on('end', () => {
      if (size > limit) return resolve(null)
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown)
      } catch {
        resolve(null)
      }
    })
  })
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.statusCode = status
  res.setHeader('Content-Type', 'application/json; charset=utf-8')
  res.setHeader('Cache-Control', 'no-store')
  res.end(JSON.stringify(body))
}

/** An error answer: `{"error": text}`. */
export function sendError(res: ServerResponse, status: number, error: string): void {
  sendJson(res, status, { error })
}

/** Runs a route's work: a failure is logged and answered 500 (or ends an answer already started), never thrown. */
export function answering(
  res: ServerResponse,
  log: { warn(message: string): void },
  what: string,
  work: Promise<void>,
): void {
  work.catch((e: unknown) => {
    log.warn(`${what}: ${e instanceof Error ? e.message : String(e)}`)
    if (!res.headersSent) sendError(res, 500, 'internal error')
    else res.end()
  })
}
