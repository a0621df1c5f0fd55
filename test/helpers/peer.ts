// Next hops for relaying tests: test/fixtures/smtp_peer.py (Python's aiosmtpd, independent of this codebase), one
// process with a listener per behaviour, each logging the command lines it receives verbatim.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPO } from './haraka'
import { freePort, waitFor } from './ports'

export interface ListenerSpec {
  name: string
  /** EHLO keywords offered (before STARTTLS when ehloTls is set). */
  ehlo: string[]
  /** When set: STARTTLS is offered, and these keywords replace `ehlo` once TLS is up. */
  ehloTls?: string[]
  /** Keep every message this listener accepts (a sink for reports): see Peer.messages. */
  store?: boolean
}

/** A message a storing listener accepted. */
export interface StoredMail {
  listener: string
  /** The reverse-path without angle brackets: empty for MAIL FROM:<>. */
  mail_from: string
  mail_options: string[]
  rcpt_tos: string[]
  /** The message as received, CRLF line endings. */
  data: string
}

export interface Peer {
  /** Port of each listener, by name. */
  ports: Record<string, number>
  /** The command lines a listener received so far, one array per connection, in order. */
  sessions(listener: string): string[][]
  /**
   * Waits until `count` connections to a listener carried a line matching `re` and sent QUIT; returns their lines.
   */
  waitForSessions(listener: string, re: RegExp, count?: number, ms?: number): Promise<string[][]>
  /** The messages storing listeners accepted so far, in order. */
  messages(): StoredMail[]
  stop(): Promise<void>
}

/** A self-signed certificate for a peer's STARTTLS. */
function certificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem')
  const key = join(dir, 'key.pem')
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'ec',
      '-pkeyopt',
      'ec_paramgen_curve:prime256v1',
      '-nodes',
      '-subj',
      '/CN=peer.test',
      '-days',
      '2',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { stdio: 'ignore' },
  )
  return { cert, key }
}

export async function startPeer(listeners: ListenerSpec[]): Promise<Peer> {
  const dir = mkdtempSync(join(tmpdir(), 'mtrk-peer-'))
  const log = join(dir, 'wire.log')
  writeFileSync(log, '')
  const messages = join(dir, 'messages.jsonl')
  writeFileSync(messages, '')
  const tls = listeners.some((l) => l.ehloTls) ? certificate(dir) : { cert: null, key: null }
  const ports: Record<string, number> = {}
  for (const l of listeners) ports[l.name] = await freePort()
  const config = join(dir, 'peer.json')
  writeFileSync(
    config,
    JSON.stringify({
      log,
      messages,
      ...tls,
      listeners: listeners.map((l) => ({
        name: l.name,
        port: ports[l.name],
        ehlo: l.ehlo,
        ehlo_tls: l.ehloTls ?? null,
        store: l.store ?? false,
      })),
    }),
  )
  const proc: ChildProcess = spawn(
    '/usr/bin/python3',
    [join(REPO, 'test', 'fixtures', 'smtp_peer.py'), config],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  )
  let output = ''
  proc.stdout?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  proc.stderr?.on('data', (d: Buffer) => {
    output += d.toString()
  })
  process.once('exit', () => proc.kill('SIGKILL'))
  await waitFor(
    () => {
      if (proc.exitCode !== null) throw new Error(`smtp_peer.py exited: ${output}`)
      return output.includes('ready')
    },
    10000,
    'smtp_peer.py to listen',
  )
  const sessions = (listener: string) => {
    const byConnection = new Map<string, string[]>()
    for (const entry of readFileSync(log, 'utf8').split('\n')) {
      const m = /^(\S+) (\d+) (.*)$/.exec(entry)
      if (!m || m[1] !== listener) continue
      const lines = byConnection.get(m[2] ?? '') ?? []
      lines.push(m[3] ?? '')
      byConnection.set(m[2] ?? '', lines)
    }
    return [...byConnection.values()]
  }
  return {
    ports,
    sessions,
    waitForSessions: (listener, re, count = 1, ms = 20000) =>
      waitFor(
        () => {
          const found = sessions(listener).filter((s) => s.some((l) => re.test(l)) && s.at(-1) === 'QUIT')
          return found.length >= count ? found : undefined
        },
        ms,
        `${count} session(s) of ${listener} with ${re}`,
      ),
    messages: () =>
      readFileSync(messages, 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as StoredMail),
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((r) => proc.once('exit', r))
        proc.kill('SIGTERM')
        await exited
      }
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
