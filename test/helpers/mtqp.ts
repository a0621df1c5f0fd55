// A minimal MTQP client for tests: the raw bytes as received, and responses decoded one at a time.
import assert from 'node:assert/strict'
import { once } from 'node:events'
import { connect as netConnect, type Socket } from 'node:net'
import { type ConnectionOptions, type TLSSocket, connect as tlsConnect } from 'node:tls'
import { type MtqpResponse, ResponseDecoder } from '../../src/mtqp/response'
import type { Result } from '../../src/util/result'
import { waitFor } from './ports'

const open = new Set<MtqpTestClient>()

/** Destroys every client still connected (for `after` hooks). */
export function destroyMtqpClients(): void {
  for (const c of open) c.socket.destroy()
  open.clear()
}

export class MtqpTestClient {
  raw = ''
  socket: Socket | TLSSocket
  readonly closed: Promise<void>
  #decoder = new ResponseDecoder()
  #responses: Result<MtqpResponse>[] = []

  private constructor(socket: Socket) {
    this.socket = socket
    socket.on('error', () => {})
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()))
    this.#attach(socket)
  }

  /** `from`: the local address to connect from (any of 127.0.0.0/8 on Linux), to be another client. */
  static async connect(port: number, host = '127.0.0.1', from?: string): Promise<MtqpTestClient> {
    const socket = netConnect({ port, host, ...(from === undefined ? {} : { localAddress: from }) })
    const c = new MtqpTestClient(socket)
    open.add(c)
    void c.closed.then(() => open.delete(c))
    await once(socket, 'connect')
    return c
  }

  #attach(s: Socket | TLSSocket): void {
    s.on('data', (d: Buffer) => {
      this.raw += d.toString('latin1')
      this.#responses.push(...this.#decoder.push(d))
    })
  }

  send(text: string): void {
    this.socket.write(text, 'latin1')
  }

  async next(): Promise<MtqpResponse> {
    await waitFor(() => this.#responses.length > 0, 15000, 'a response')
    const r = this.#responses.shift()!
    assert.ok(r.ok, r.ok ? '' : r.error)
    return r.value
  }

  /** Wait until everything received so far ends with `suffix`; returns it all. */
  async until(suffix: string): Promise<string> {
    await waitFor(() => this.raw.endsWith(suffix), 15000, `reply ending ${JSON.stringify(suffix)}`)
    return this.raw
  }

  /** Hand the socket to TLS after +OK to STARTTLS, checking the certificate against `servername` and `ca`. */
  async starttls(servername: string, opts: ConnectionOptions): Promise<TLSSocket> {
    const plain = this.socket as Socket
    plain.removeAllListeners('data')
    const secure = tlsConnect({ socket: plain, servername, ...opts })
    secure.on('error', () => {})
    await once(secure, 'secureConnect')
    this.socket = secure
    this.raw = ''
    this.#responses = []
    this.#decoder = new ResponseDecoder()
    this.#attach(secure)
    return secure
  }
}

/** Polls until the server on `port` greets with +OK (listening, and its tracking store ready). */
export async function waitForMtqpReady(port: number): Promise<void> {
  await waitFor(
    async () => {
      const c = await MtqpTestClient.connect(port)
      try {
        return (await c.next()).indicator.startsWith('+OK')
      } finally {
        c.socket.destroy()
      }
    },
    30000,
    `MTQP on port ${port} to greet +OK`,
  )
}
