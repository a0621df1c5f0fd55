// MTQP servers for the client's tests: the real MtqpServer over an in-memory store, and scripted raw servers for
// behaviour the real one never shows (odd replies, silence).
import { createServer, type Server, type Socket } from 'node:net'
import { parseConfig } from '../../src/config/config'
import type { StoredMessage, StoredRecipient } from '../../src/model/records'
import { MtqpServer } from '../../src/server/server'
import type { ChainFn } from '../../src/server/session'
import { memoryBudget } from '../helpers/budget'
import type { TestCertificate } from '../helpers/cert'
import { message, recipient } from '../store/fixtures'

/** TV-1: A = octets 00..0f; the fixtures' certifier is its SHA-1. */
export const TV1_SECRET = 'AAECAwQFBgcICQoLDA0ODw'
export const TV1_ENVID = '1@h.example.com'

/** A message of the fixtures (TV-1 hash) reported by `reporter`, with these recipients. */
export function stored(
  reporter: string,
  recipients: Array<Partial<StoredRecipient>>,
  envid = TV1_ENVID,
): StoredMessage {
  const now = Date.now()
  return {
    ...message({ envid, envidXtext: envid, reportingMta: reporter, arrival: now - 60_000, retention: 86400 }),
    recipients: recipients.map((r) =>
      recipient({ keepUntil: now + 86400_000, lastAttempt: now - 30_000, ...r }),
    ),
  }
}

export interface RunningServer {
  port: number
  close(): Promise<void>
}

/** The plugin's MtqpServer answering from `records`; with `cert`, STARTTLS with it. */
export async function realServer(opts: {
  records: StoredMessage[]
  cert?: TestCertificate
  mtqp?: Record<string, string | number | boolean>
  chain?: ChainFn
  /** Default: any free port. */
  port?: number
}): Promise<RunningServer> {
  const { config } = parseConfig({ mtqp: opts.mtqp ?? {} })
  const material = opts.cert === undefined ? null : { key: opts.cert.key, cert: opts.cert.cert }
  const server = new MtqpServer({
    config: config.mtqp,
    store: { available: true, lookup: async (envid) => opts.records.filter((m) => m.envid === envid) },
    budget: memoryBudget(),
    tls: async () => material,
    log: { debug: () => {}, info: () => {}, warn: () => {} },
    ...(opts.chain === undefined ? {} : { chain: opts.chain }),
  })
  const { port } = await server.listen({ host: '127.0.0.1', port: opts.port ?? 0 })
  return { port, close: () => server.close() }
}

export interface ScriptedServer extends RunningServer {
  /** Every connection's received text. */
  received: string[]
  connections: number
}

/**
 * A raw server: sends `greeting`, then calls `onLines` with all complete lines received so far each time data
 * arrives; whatever it returns is written.
 */
export async function scriptedServer(
  greeting: string,
  onLines: (lines: string[], socket: Socket) => string | null,
  port = 0,
): Promise<ScriptedServer> {
  const sockets = new Set<Socket>()
  const s: ScriptedServer = { port: 0, received: [], connections: 0, close: async () => {} }
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    const index = s.connections++
    s.received[index] = ''
    socket.write(greeting)
    socket.on('data', (d) => {
      s.received[index] += d.toString('latin1')
      const text = s.received[index]!
      const lines = text.split('\r\n').slice(0, -1)
      const out = onLines(lines, socket)
      if (out !== null) socket.write(out)
    })
  })
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r))
  const address = server.address()
  s.port = typeof address === 'object' && address !== null ? address.port : 0
  s.close = () =>
    new Promise<void>((r) => {
      for (const k of sockets) k.destroy()
      server.close(() => r())
    })
  return s
}
