// HTTP Basic authentication for the operator page (RFC 7617) against an scrypt hash from [web]
// operator_password_hash. The password is compared by its hash in constant time; scrypt runs off the event loop.
import { createHash, scrypt, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import type { PasswordHash } from '../config/kinds'
import { decodeBase64Strict } from '../util/base64'

function derive(password: string, salt: Buffer, length: number): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(password, salt, length, (e, key) => (e ? reject(e) : resolve(key))),
  )
}

/** The hash text for `password`, as operator_password_hash takes it. */
export async function hashPassword(password: string, salt: Buffer): Promise<string> {
  return `scrypt$${salt.toString('base64')}$${(await derive(password, salt, 32)).toString('base64')}`
}

/** The user and password of a Basic Authorization header, or null. */
export function basicCredentials(req: IncomingMessage): { user: string; password: string } | null {
  const m = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(req.headers.authorization ?? '')
  const raw = m === null ? null : decodeBase64Strict(m[1] ?? '', { allowPadding: true })
  if (raw === null) return null
  const text = Buffer.from(raw).toString('utf8')
  const colon = text.indexOf(':')
  return colon < 0 ? null : { user: text.slice(0, colon), password: text.slice(colon + 1) }
}

/** Whether the credentials are `user` with the password of `stored`; the same work whatever is wrong. */
export async function checkCredentials(
  given: { user: string; password: string },
  user: string,
  stored: PasswordHash,
): Promise<boolean> {
  const key = await derive(given.password, stored.salt, stored.hash.length)
  const digest = (s: string) => createHash('sha256').update(s).digest()
  const sameUser = timingSafeEqual(digest(given.user), digest(user))
  return timingSafeEqual(key, stored.hash) && sameUser
}
