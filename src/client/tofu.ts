// Trust on first use (MTQPC-4, RFC 3887 §11): remember which tracking servers offered STARTTLS and which
// certificate they showed, and raise an alarm when a server that offered STARTTLS stops offering it (someone may
// be deleting it from the greeting) or shows another certificate.
//
// Decisions:
// - Servers are keyed by the name connected to and the port (`mtqp.example.net:1038`), lower-cased.
// - A server that stops offering STARTTLS keeps its record: the downgrade is never learned, so the alarm repeats
//   until STARTTLS is back. A changed certificate is learned after the alarm (certificates are renewed), so the
//   alarm is raised once per change.
// - The file is JSON under the user's config directory, written whole to a temporary file and renamed, mode 0600.
//   A file that cannot be read is left alone (alarm, nothing saved) rather than overwritten.
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises'
import { homedir } from 'node:os'
import { dirname, join } from 'node:path'

export interface TofuRecord {
  /** The server listed STARTTLS in its greeting at some session. */
  starttls: boolean
  /** SHA-256 fingerprint of the last certificate seen (colon-separated hex, as Node prints it), or null. */
  fingerprint: string | null
  /** ISO times */
  firstSeen: string
  lastSeen: string
}

export type TofuAlarm =
  | { kind: 'starttls-missing'; server: string; since: string }
  | { kind: 'certificate-changed'; server: string; previous: string; current: string }

/** The memory itself, without any file: what a chaining server keeps for its lifetime. */
export class TofuMemory {
  readonly #records: Map<string, TofuRecord>
  readonly #now: () => number

  constructor(records: Record<string, TofuRecord> = {}, now: () => number = Date.now) {
    this.#records = new Map(Object.entries(records))
    this.#now = now
  }

  /** A greeting was read: whether it offered STARTTLS (MTQPC-2). */
  greeting(server: string, offeredStarttls: boolean): TofuAlarm | null {
    const key = server.toLowerCase()
    const previous = this.#records.get(key)
    const now = new Date(this.#now()).toISOString()
    if (previous === undefined) {
      this.#records.set(key, { starttls: offeredStarttls, fingerprint: null, firstSeen: now, lastSeen: now })
      return null
    }
    previous.lastSeen = now
    if (previous.starttls && !offeredStarttls)
      return { kind: 'starttls-missing', server: key, since: previous.firstSeen }
    previous.starttls ||= offeredStarttls
    return null
  }

  /** TLS is up and the server showed the certificate with this fingerprint. */
  certificate(server: string, fingerprint: string): TofuAlarm | null {
    const key = server.toLowerCase()
    const record = this.#records.get(key)
    if (record === undefined) return null
    const previous = record.fingerprint
    record.fingerprint = fingerprint
    return previous !== null && previous !== fingerprint
      ? { kind: 'certificate-changed', server: key, previous, current: fingerprint }
      : null
  }

  /** What is remembered about a server, if anything. */
  get(server: string): TofuRecord | undefined {
    const r = this.#records.get(server.toLowerCase())
    return r === undefined ? undefined : { ...r }
  }

  toJSON(): { version: 1; servers: Record<string, TofuRecord> } {
    return { version: 1, servers: Object.fromEntries(this.#records) }
  }
}

/** The loud text of an alarm, for people. */
export function describeTofuAlarm(alarm: TofuAlarm): string {
  if (alarm.kind === 'starttls-missing') {
    return (
      `WARNING: ${alarm.server} offered STARTTLS before (first seen ${alarm.since}) but does not offer it now. ` +
      'Someone between you and the server may be removing it to read the secret (RFC 3887 §11). ' +
      'Use --starttls required to refuse plaintext.'
    )
  }
  return (
    `WARNING: the TLS certificate of ${alarm.server} has changed (was SHA-256 ${alarm.previous}, ` +
    `now ${alarm.current}). If the operator did not renew it, someone may be impersonating the server ` +
    '(RFC 3887 §11).'
  )
}

/** $XDG_CONFIG_HOME/mtqp/known-servers.json, else ~/.config/mtqp/known-servers.json. */
export function defaultTofuPath(env: NodeJS.ProcessEnv = process.env, home: string = homedir()): string {
  const base =
    env.XDG_CONFIG_HOME !== undefined && env.XDG_CONFIG_HOME !== ''
      ? env.XDG_CONFIG_HOME
      : join(home, '.config')
  return join(base, 'mtqp', 'known-servers.json')
}

/** A TofuMemory kept in a file. */
export class TofuFile {
  readonly path: string
  readonly memory: TofuMemory
  /** Why the file could not be read, when it exists but is not ours to overwrite. */
  readonly problem: string | null

  private constructor(path: string, memory: TofuMemory, problem: string | null) {
    this.path = path
    this.memory = memory
    this.problem = problem
  }

  /** Reads the file; a missing file is an empty memory. */
  static async open(path: string, now: () => number = Date.now): Promise<TofuFile> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (e) {
      if (e instanceof Error && 'code' in e && e.code === 'ENOENT')
        return new TofuFile(path, new TofuMemory({}, now), null)
      return new TofuFile(path, new TofuMemory({}, now), `cannot read ${path}: ${String(e)}`)
    }
    const servers = parseTofuJson(text)
    if (servers === null) {
      return new TofuFile(
        path,
        new TofuMemory({}, now),
        `${path} is not a known-servers file; leaving it untouched`,
      )
    }
    return new TofuFile(path, new TofuMemory(servers, now), null)
  }

  /** Writes the memory back, unless the file could not be read. */
  async save(): Promise<void> {
    if (this.problem !== null) return
    await mkdir(dirname(this.path), { recursive: true, mode: 0o700 })
    const temporary = `${this.path}.${process.pid}.tmp`
    await writeFile(temporary, `${JSON.stringify(this.memory, null, 2)}\n`, { mode: 0o600 })
    await rename(temporary, this.path)
  }
}

function parseTofuJson(text: string): Record<string, TofuRecord> | null {
  let data: unknown
  try {
    data = JSON.parse(text)
  } catch {
    return null
  }
  if (typeof data !== 'object' || data === null || !('servers' in data)) return null
  const servers = data.servers
  if (typeof servers !== 'object' || servers === null) return null
  const out: Record<string, TofuRecord> = {}
  for (const [key, value] of Object.entries(servers)) {
    if (!isRecord(value)) return null
    out[key] = value
  }
  return out
}

function isRecord(v: unknown): v is TofuRecord {
  if (typeof v !== 'object' || v === null) return false
  const r = v as Record<string, unknown>
  return (
    typeof r.starttls === 'boolean' &&
    (r.fingerprint === null || typeof r.fingerprint === 'string') &&
    typeof r.firstSeen === 'string' &&
    typeof r.lastSeen === 'string'
  )
}
