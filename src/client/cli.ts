// The `mtqp` command (bin/mtqp.js): `mtqp track` follows a message hop by hop, `mtqp new` prepares a tracked
// message. Input and output are injected (CliIo) so the argument handling is testable without a process.
import { readFile } from 'node:fs/promises'
import { isIP } from 'node:net'
import { hostname } from 'node:os'
import { parseArgs } from 'node:util'
import { redactMtqpUri } from '../uri/mtqp-uri'
import { decodeBase64Strict } from '../util/base64'
import { argsError, packageVersion } from '../util/command-line'
import { MIN_INACTIVITY_TIMEOUT_MS, type StarttlsPolicy } from './connection'
import { dnsServerResolver, type HopTarget } from './discovery'
import { DEFAULT_MAX_HOPS } from './follow'
import { DEFAULT_TIMEOUT, newTracking } from './new-tracking'
import { renderNewTracking, renderProgress, renderReport } from './render'
import { mostPressing } from './timeline'
import { defaultTofuPath, TofuFile } from './tofu'
import { type TrackingReport, type TrackOptions, type TrackTarget, trackMessages, uriTarget } from './track'

export interface CliIo {
  stdout(text: string): void
  stderr(text: string): void
  readStdin(): Promise<string>
  env: NodeJS.ProcessEnv
  /** Whether stderr is a terminal: only then does `mtqp track` show progress while hops answer. */
  stderrIsTTY?: boolean
}

/** Exit statuses (documented in `mtqp track --help` and README). */
export const EXIT = {
  delivered: 0,
  inTransit: 1,
  failed: 2,
  unknown: 3,
  queryFailed: 4,
  usage: 64,
} as const

const MAIN_HELP = `Usage: mtqp <command> [options]

Track Internet mail with the Message Tracking Query Protocol (RFC 3885, RFC 3886, RFC 3887).

Commands:
  track   ask where a message is, following it from relay to relay
  new     make the secret, ENVID, MAIL FROM parameters and mtqp:// URI for a message about to be sent
  help    show this text, or "mtqp help <command>" for a command's options

Run "mtqp <command> --help" for the options of a command, "mtqp --version" for the version.
`

const TRACK_HELP = `Usage:
  mtqp track [options] <mtqp-uri>...
  mtqp track [options] --server HOST[:PORT] --envid ENVID --secret SECRET
  mtqp track [options] --mail-host HOST --envid ENVID --secret SECRET

Asks the tracking server where a message is, then follows every recipient the answer reports as
"transferred" to the tracking server of the next relay (found by DNS SRV _mtqp._tcp.<relay>, else the
relay's own addresses on port 1038), until the message is delivered, relayed to a mailer that does not
track, expanded to a list, failed, still queued, or nothing more can be learned. Prints one timeline per
recipient: each relay's report, the status and its meaning, the times, and where tracking stops and why.

What to track:
  <mtqp-uri>            mtqp://server[:port]/track/<envid>/<secret>, as "mtqp new" printed it. Several
                        URIs are tracked together; TRACKs for one server share one connection.
                        "-" reads the URIs from standard input, one a line (keeps the secret out of the
                        process list).
  --server HOST[:PORT]  ask this tracking server directly (port 1038 by default)
  --mail-host HOST      ask the tracking server of this mail relay (SRV look-up, then its addresses)
  --envid ENVID         the unique-envid of the message, as sent in ENVID= (xtext)
  --secret SECRET       the secret A, base64; "-" reads it from standard input

TLS (STARTTLS, RFC 3887 §6):
  --starttls MODE       off | opportunistic (default: when the server offers it) | required
  --ca FILE             trust the PEM certificates in FILE instead of the system's authorities
  --insecure            do not verify certificates (test set-ups only)
  --tls-name NAME       the name to send in STARTTLS and check the certificate against, for a first
                        server given by IP address
  --tofu-file FILE      where servers' STARTTLS offers and certificates are remembered (default
                        $MTQP_TOFU_FILE, else $XDG_CONFIG_HOME/mtqp/known-servers.json, else
                        ~/.config/mtqp/known-servers.json). A loud WARNING is printed when a server
                        that offered STARTTLS stops offering it, or shows a different certificate.
  --no-tofu             neither read nor write that file

Following:
  --max-hops N          ask at most N servers along one path, the first included (default ${DEFAULT_MAX_HOPS})
  --no-follow           ask the first server only
  --timeout SECONDS     give up on a server silent for this long while an answer is awaited (default
                        and minimum 120: a server may itself be asking further relays, RFC 3887 §2.5)
  --dns-server IP[:PORT]  ask this DNS server for SRV and address records instead of the system's
                        (may be repeated)

Output:
  --json                the same as structured data: {"state", "exitCode", "messages": [...], "warnings"}
  --show-secret         print URIs with their secret (hidden as *** by default)
  --bracket-envid       send the envid inside <...> as RFC 3887's examples do (some old servers want it)
  -h, --help            this text

On a terminal, standard error shows each server as it is asked and as it answers.

Exit status (for several messages: the first that applies of 2, 1, 4, 3, 0):
  0  delivered, or relayed beyond tracking, for every recipient
  1  in transit: still queued at some relay
  2  failed for at least one recipient
  3  unknown: no information, or tracking stopped before the end (a relay could not be asked)
  4  the first server could not be asked (unreachable, TLS failure, busy)
  64 wrong arguments
`

const NEW_HELP = `Usage: mtqp new [options]

Prepares a message for tracking (RFC 3885): makes a fresh secret A (24 random octets, base64), a unique
ENVID (local@host), the MAIL FROM parameters ENVID=... MTRK=<base64 SHA-1(A)>:<timeout> to send the
message with, and the mtqp:// URI to track it with later. Keep the secret and the URI private: whoever
holds them can track the message.

Options:
  --fqhn HOST           the fully qualified name of this host, for the ENVID (default: the host name,
                        which must then be fully qualified)
  --timeout SECONDS     how long relays should keep tracking data (default ${DEFAULT_TIMEOUT}, 10 days; 0 to 999999999)
  --server HOST[:PORT]  the tracking server to put in the URI: the relay you submit the message to
  --json                {"secret", "certifier", "envid", "timeout", "mailParameters", "uri"}
  -h, --help            this text

Exit status: 0 done, 64 wrong arguments.
`

class UsageError extends Error {}

export async function main(argv: readonly string[], io: CliIo = processIo()): Promise<number> {
  const [command, ...rest] = argv
  try {
    switch (command) {
      case 'track':
        return await track(rest, io)
      case 'new':
        return newCommand(rest, io)
      case 'help':
        io.stdout(rest[0] === 'track' ? TRACK_HELP : rest[0] === 'new' ? NEW_HELP : MAIN_HELP)
        return 0
      case '-h':
      case '--help':
        io.stdout(MAIN_HELP)
        return 0
      case '--version':
        io.stdout(`mtqp ${packageVersion()}\n`)
        return 0
      case undefined:
        io.stderr(MAIN_HELP)
        return EXIT.usage
      default:
        throw new UsageError(
          command.startsWith('-') ? `unknown option ${command}` : `unknown command "${command}"`,
        )
    }
  } catch (e) {
    const usage = e instanceof UsageError ? e.message : argsError(e)
    if (usage === null) throw e
    const help = command === 'track' || command === 'new' ? `mtqp ${command} --help` : 'mtqp --help'
    io.stderr(`mtqp: ${usage}\nTry "${help}".\n`)
    return EXIT.usage
  }
}

const TRACK_OPTIONS = {
  server: { type: 'string' },
  'mail-host': { type: 'string' },
  envid: { type: 'string' },
  secret: { type: 'string' },
  starttls: { type: 'string' },
  ca: { type: 'string' },
  insecure: { type: 'boolean' },
  'tls-name': { type: 'string' },
  'tofu-file': { type: 'string' },
  'no-tofu': { type: 'boolean' },
  'max-hops': { type: 'string' },
  'no-follow': { type: 'boolean' },
  timeout: { type: 'string' },
  'dns-server': { type: 'string', multiple: true },
  json: { type: 'boolean' },
  'show-secret': { type: 'boolean' },
  'bracket-envid': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const

type TrackValues = ReturnType<typeof parseTrackArgs>['values']

function parseTrackArgs(args: readonly string[]) {
  return parseArgs({ args: [...args], allowPositionals: true, options: TRACK_OPTIONS })
}

/** `mtqp track`: ask, follow, print; the exit status says how the most pressing message stands. */
async function track(args: readonly string[], io: CliIo): Promise<number> {
  const { values: v, positionals } = parseTrackArgs(args)
  if (v.help === true) {
    io.stdout(TRACK_HELP)
    return 0
  }
  const messages = await trackTargets(positionals, v, io, v['show-secret'] === true)
  const warnings: string[] = []
  const warn = (m: string) => {
    warnings.push(m)
    io.stderr(`${m}\n`)
  }
  const { opts, tofu } = await trackOptions(v, io, warn)
  if (io.stderrIsTTY === true) {
    const several = messages.length > 1
    opts.progress = (e) => io.stderr(renderProgress(e, several ? e.message + 1 : undefined))
  }
  const reports = await trackMessages(
    messages.map((m) => m.message),
    opts,
  )
  await saveTofu(tofu, warn)
  const code = overallExitCode(reports)
  const asked = messages.map((m) => m.asked)
  io.stdout(v.json === true ? jsonReports(reports, asked, code, warnings) : textReports(reports, asked))
  return code
}

/** How to ask (connection, following, DNS) and what the servers met before were (MTQPC-4). */
async function trackOptions(
  v: TrackValues,
  io: CliIo,
  warn: (m: string) => void,
): Promise<{ opts: TrackOptions; tofu: TofuFile | null }> {
  const opts: TrackOptions = {
    starttls: oneOf<StarttlsPolicy>(
      v.starttls ?? 'opportunistic',
      ['off', 'opportunistic', 'required'],
      '--starttls',
    ),
    insecure: v.insecure === true,
    inactivityTimeoutMs: seconds(v.timeout, MIN_INACTIVITY_TIMEOUT_MS / 1000, '--timeout') * 1000,
    maxHops: integer(v['max-hops'] ?? String(DEFAULT_MAX_HOPS), 1, 100, '--max-hops'),
    follow: v['no-follow'] !== true,
    bracketEnvid: v['bracket-envid'] === true,
    warn,
  }
  if (v.ca !== undefined) opts.ca = await readArgFile(v.ca, '--ca')
  if (v['dns-server'] !== undefined) opts.resolver = dnsServerResolver(v['dns-server'].map(dnsServer))
  if (v['no-tofu'] === true) return { opts, tofu: null }
  const tofu = await TofuFile.open(v['tofu-file'] ?? io.env.MTQP_TOFU_FILE ?? defaultTofuPath(io.env))
  if (tofu.problem !== null) warn(`WARNING: ${tofu.problem}`)
  opts.tofu = tofu.memory
  return { opts, tofu }
}

async function saveTofu(tofu: TofuFile | null, warn: (m: string) => void): Promise<void> {
  try {
    await tofu?.save()
  } catch (e) {
    warn(`WARNING: cannot save ${tofu?.path}: ${e instanceof Error ? e.message : String(e)}`)
  }
}

/** The most pressing status of all the messages asked about. */
function overallExitCode(reports: readonly TrackingReport[]): number {
  const codes = reports.map(exitCode)
  return [EXIT.failed, EXIT.inTransit, EXIT.queryFailed, EXIT.unknown].find((c) => codes.includes(c)) ?? 0
}

function jsonReports(
  reports: readonly TrackingReport[],
  asked: readonly string[],
  exitCode: number,
  warnings: readonly string[],
): string {
  const state = mostPressing(reports.map((r) => r.state))
  const messages = reports.map((r, i) => ({ asked: asked[i], ...r }))
  return `${JSON.stringify({ state, exitCode, messages, warnings }, null, 2)}\n`
}

function textReports(reports: readonly TrackingReport[], asked: readonly string[]): string {
  const utcOffsetMinutes = -new Date().getTimezoneOffset()
  return reports.map((r, i) => renderReport(r, { asked: asked[i] ?? '', utcOffsetMinutes })).join('\n')
}

/** The messages to track, and how each is shown (URI-5: the secret is hidden unless --show-secret). */
async function trackTargets(
  positionals: readonly string[],
  v: TrackValues,
  io: CliIo,
  showSecret: boolean,
): Promise<Array<{ message: TrackTarget; asked: string }>> {
  const direct = v.server !== undefined || v['mail-host'] !== undefined
  if (direct && positionals.length > 0)
    throw new UsageError('give either mtqp URIs or --server/--mail-host, not both')
  if (!direct) {
    if (v.envid !== undefined || v.secret !== undefined)
      throw new UsageError('--envid and --secret go with --server or --mail-host')
    if (positionals.length === 0)
      throw new UsageError('nothing to track: give an mtqp:// URI, or --server with --envid and --secret')
    const uris = positionals.includes('-') ? await stdinLines(io) : []
    return [...positionals.filter((p) => p !== '-'), ...uris].map((uri, i) => {
      const t = uriTarget(uri)
      if (!t.ok) throw new UsageError(`URI ${i + 1}: ${t.error}`)
      if (v['tls-name'] !== undefined && t.value.target.kind === 'server')
        t.value.target.tlsName = v['tls-name']
      return { message: t.value, asked: showSecret ? uri : redactMtqpUri(uri) }
    })
  }
  if (v.server !== undefined && v['mail-host'] !== undefined)
    throw new UsageError('give --server or --mail-host, not both')
  if (v.envid === undefined || v.secret === undefined)
    throw new UsageError('--envid and --secret are both needed')
  const secretText = v.secret === '-' ? ((await stdinLines(io))[0] ?? '') : v.secret
  const secret = decodeBase64Strict(secretText, { allowPadding: true })
  if (secret === null) throw new UsageError('--secret is not base64') // AMB-3
  let target: HopTarget
  let asked: string
  if (v.server !== undefined) {
    const s = hostPort(v.server, '--server')
    target = { kind: 'server', ...s }
    if (v['tls-name'] !== undefined) target.tlsName = v['tls-name']
    asked = v.server
  } else {
    target = { kind: 'mta', host: hostPort(v['mail-host'] ?? '', '--mail-host').host }
    asked = `the tracking server of ${target.host}`
  }
  return [{ message: { target, request: { envid: v.envid, secret } }, asked }]
}

function exitCode(r: TrackingReport): number {
  if (r.recipients.length === 0) return r.failure?.failure === 'noinfo' ? EXIT.unknown : EXIT.queryFailed
  switch (r.state) {
    case 'delivered':
    case 'relayed':
      return EXIT.delivered
    case 'in-transit':
      return EXIT.inTransit
    case 'failed':
      return EXIT.failed
    case 'unknown':
      return EXIT.unknown
  }
}

function newCommand(args: readonly string[], io: CliIo): number {
  const { values: v } = parseArgs({
    args: [...args],
    options: {
      fqhn: { type: 'string' },
      timeout: { type: 'string' },
      server: { type: 'string' },
      json: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  })
  if (v.help === true) {
    io.stdout(NEW_HELP)
    return 0
  }
  const fqhn = v.fqhn ?? hostname()
  const made = newTracking({
    fqhn,
    timeout: integer(v.timeout ?? String(DEFAULT_TIMEOUT), 0, 999_999_999, '--timeout'),
    ...(v.server === undefined ? {} : { server: hostPort(v.server, '--server') }),
  })
  if (!made.ok) throw new UsageError(v.fqhn === undefined ? `${made.error}; give --fqhn` : made.error)
  io.stdout(v.json === true ? `${JSON.stringify(made.value, null, 2)}\n` : renderNewTracking(made.value))
  return 0
}

/** HOST, HOST:PORT, [IPV6] or [IPV6]:PORT. */
function hostPort(text: string, option: string): { host: string; port?: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^\s:[\]/]+))(?::(\d{1,5}))?$/.exec(text)
  const host = m?.[1] ?? m?.[2]
  if (m === null || host === undefined) throw new UsageError(`${option} must be HOST or HOST:PORT`)
  if (m[3] === undefined) return { host }
  return { host, port: integer(m[3], 1, 65535, `the port of ${option}`) }
}

/** An IP address with an optional port, as dns.setServers takes it. */
function dnsServer(text: string): string {
  const { host, port } = hostPort(text, '--dns-server')
  if (isIP(host) === 0) throw new UsageError('--dns-server must be an IP address, optionally with :PORT')
  if (port === undefined) return host
  return isIP(host) === 6 ? `[${host}]:${port}` : `${host}:${port}`
}

function integer(text: string, min: number, max: number, option: string): number {
  const n = /^\d+$/.test(text) ? Number(text) : Number.NaN
  if (!Number.isSafeInteger(n) || n < min || n > max)
    throw new UsageError(`${option} must be a whole number from ${min} to ${max}`)
  return n
}

/** MTQPC-7: a timeout under 2 minutes would give up on a server that is still asking the next hops. */
function seconds(text: string | undefined, min: number, option: string): number {
  return text === undefined ? min : integer(text, min, 86_400, option)
}

function oneOf<T extends string>(text: string, choices: readonly T[], option: string): T {
  const found = choices.find((c) => c === text)
  if (found === undefined) throw new UsageError(`${option} must be one of ${choices.join(', ')}`)
  return found
}

async function readArgFile(path: string, option: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (e) {
    throw new UsageError(`cannot read ${option} ${path}: ${e instanceof Error ? e.message : String(e)}`)
  }
}

async function stdinLines(io: CliIo): Promise<string[]> {
  return (await io.readStdin())
    .split(/\r?\n/)
    .map((l) => l.trim())
    .filter((l) => l.length > 0)
}

function processIo(): CliIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    readStdin: async () => {
      const chunks: Buffer[] = []
      for await (const chunk of process.stdin) chunks.push(Buffer.from(chunk as Uint8Array))
      return Buffer.concat(chunks).toString('utf8')
    },
    env: process.env,
    stderrIsTTY: process.stderr.isTTY === true,
  }
}
