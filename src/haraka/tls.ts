// Haraka's TLS material (config/tls.ini, tls_key.pem, tls_cert.pem, config/tls/), reused for MTQP STARTTLS so the
// relay has one certificate set to manage (HRK-17).
import type { SecureContextOptions } from 'node:tls'
import type { TlsProvider } from '../server/server'
import type { HarakaPlugin } from './types'

interface TlsSocketModule {
  tls_valid?: boolean
  getSocketOpts(
    name: string,
  ): Promise<(SecureContextOptions & { key?: unknown[]; cert?: unknown[] }) | undefined>
}

/**
 * Asking Haraka re-reads config/tls/ and starts an openssl process per certificate there: do it at most this often,
 * not per connection, so connecting costs a client nothing the server must fork for. Renewed files apply within it.
 */
const REFRESH_MS = 60_000

/**
 * The default ('*') key and certificate as Haraka's SMTP listener uses them, or null when none is installed (then
 * MTQP does not offer STARTTLS, MTQP-13). The same object comes back while the files are unchanged.
 */
export function harakaTlsProvider(plugin: HarakaPlugin, now: () => number = Date.now): TlsProvider {
  let tlsSocket: TlsSocketModule
  try {
    tlsSocket = plugin.haraka_require('tls_socket') as TlsSocketModule
  } catch {
    return async () => null
  }
  let cached: { at: number; material: Promise<SecureContextOptions | null> } | null = null
  const load = async () => {
    const opts = await tlsSocket.getSocketOpts('*')
    return tlsSocket.tls_valid && opts?.key?.[0] && opts.cert?.[0] ? opts : null
  }
  return () => {
    if (!cached || now() - cached.at >= REFRESH_MS) cached = { at: now(), material: load() }
    return cached.material
  }
}
