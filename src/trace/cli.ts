// The `mtrk-trace` command (bin/mtrk-trace.js): the operator trace from a shell. It reads the plugin's own
// config/mtrk.ini to reach the same Redis. Input and output are injected (TraceIo) so it is testable in-process.
import { existsSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import type { MtrkConfig } from '../config/config'
import { parseDuration } from '../model/retention'
import type { TracedMessage } from '../model/trace'
import {
  connectionPrefix,
  KEY_OPTIONS,
  MAX_LIMIT,
  parseCursor,
  parseTraceQuery,
  QUERY_FIELDS,
  type TraceQueryInput,
} from '../model/trace-query'
import { runRetention } from '../store/retention'
import { connectReader } from '../store/trace'
import { argsError, packageVersion } from '../util/command-line'
import {
  keptAtMost,
  keptWindow,
  openTrace,
  readMtrkIni,
  type Trace,
  TraceConfigError,
  TraceUnavailable,
} from './index'
import { renderDetail, renderPageJson, renderRetention, renderRows, renderSummary, traceRows } from './render'

export interface TraceIo {
  stdout(text: string): void
  stderr(text: string): void
  env: NodeJS.ProcessEnv
  cwd: string
}

/** Exit statuses (sysexits.h where one fits), documented in --help and README. */
export const EXIT = {
  ok: 0,
  /** `show`: no message with that queue id is kept. */
  notFound: 1,
  usage: 64,
  /** Redis unreachable, or it failed during the query. */
  unavailable: 69,
  /** config/mtrk.ini unreadable, or MTRK_REDIS_URL malformed. */
  config: 78,
} as const

const HELP = `Usage:
  mtrk-trace [search] [filters] [--limit N] [--cursor CURSOR] [--json | --csv]
  mtrk-trace show <queue-id | connection-uuid> [--json]
  mtrk-trace summary [--since TIME] [--until TIME] [--json | --csv]
  mtrk-trace retention [--max DURATION] [--dry-run] [--json]
  mtrk-trace --version

Finds messages this Haraka relay accepted, with or without MTRK, in the operator trace the haraka-plugin-mtrk
plugin keeps in Redis ([trace] in config/mtrk.ini), and shows what became of each recipient.

Commands:
  search (default)  messages matching every filter given, newest first: one line per recipient with the
                    time, queue id, from, to, state, status, next hop and last reply
  show <queue-id>   one message and every recipient's attempts; the queue id is Haraka's transaction uuid
                    or an outbound id uuid.N, as Haraka's log lines show them; a connection's uuid shows
                    each message of that connection, oldest first (--json: an array)
  summary           messages per arrival hour, and their recipients per state, over the hours covering
                    --since .. --until (default: the last 24 hours), for all mail: it takes no filter
  retention         lowers the retention of the tracking records (MTQP) already stored, as RFC 3885 4.1
                    allows under a flood: lower [main] max_retention in mtrk.ini, then run it
An option a command does not use is an error, not ignored.

Filters (any combination; all must match):
  --from ADDRESS        envelope sender (MAIL FROM); <> for the null sender
  --from-domain DOMAIN  envelope sender's domain
  --to ADDRESS          a recipient (RCPT TO)
  --to-domain DOMAIN    a recipient's domain
  --message-id ID       the Message-ID header, with or without <>
  --envid ENVID         the ENVID of MAIL FROM (RFC 3461), decoded
  --queue-id ID         Haraka's transaction uuid, an outbound uuid.N, or a connection's uuid (every
                        message of that connection)
  --ip ADDRESS          the SMTP client's IP address
  --helo NAME           the name the client gave in EHLO/HELO
  --since TIME          arrived at or after TIME (default: as far back as records are kept)
  --until TIME          arrived at or before TIME (default: now); a date alone means the end of that day
  --outcome STATES      recipients in one of these states, comma separated: delivered, relayed,
                        transferred, expanded, delayed, failed
Addresses, domains and HELO names match regardless of ASCII case; ids match exactly. TIME is "now", a
duration ago (90s, 30m, 2h, 3d) or ISO 8601 (2026-11-30, 2026-11-30T10:00, 2026-11-30T10:00+01:00; UTC
when no zone is given), not before 1970. A range is cut to where records can still be: back to now minus
[trace] retention, [main] queued_grace and 30 days (the longest a message is assumed to stay queued), ahead
to now + 1 hour.

Output:
  --limit N             messages per page, 1 to 1000 (default 50)
  --cursor CURSOR       the next page: the cursor the previous page printed
  --json                the page as JSON: {"messages": [...], "next": CURSOR or null}
  --csv                 the rows as CSV (RFC 4180), with a header line
When more messages match, the command to get the next page is printed on stderr.

Retention:
  --max DURATION        the new maximum retention from arrival, with its unit: 90s, 30m, 2h, 3d (default:
                        [main] max_retention of mtrk.ini). Each record answers TRACK until arrival + DURATION
                        at most, and its Redis key expires with its latest record; times only ever shrink.
                        A recipient still in the queue keeps its data until the queue gives up plus
                        [main] queued_grace (RFC 3885 3.1). The operator trace is not changed.
  --dry-run             count what would change, change nothing
  --json                the counts as JSON
Walks the keys with SCAN (on every Cluster master), 200 at a time, each rewritten by one atomic call that
re-reads a key the plugin changed meanwhile: mail keeps flowing and is tracked as before.

Options:
  -c, --config PATH     the Haraka directory, its config directory, or mtrk.ini itself (default: $HARAKA,
                        else the current directory); MTRK_REDIS_URL overrides [redis] as for the plugin
  -h, --help            this text
  --version             the version of mtrk-trace

Exit status: 0 done (a search that found nothing included), 1 show found no such message, 64 wrong
arguments, filters or duration, 69 Redis unreachable or failing, 78 config/mtrk.ini unreadable or
MTRK_REDIS_URL malformed.
`

const OPTIONS = {
  ...Object.fromEntries(Object.values(KEY_OPTIONS).map((o) => [o, { type: 'string' as const }])),
  since: { type: 'string' },
  until: { type: 'string' },
  outcome: { type: 'string' },
  limit: { type: 'string' },
  cursor: { type: 'string' },
  json: { type: 'boolean' },
  csv: { type: 'boolean' },
  max: { type: 'string' },
  'dry-run': { type: 'boolean' },
  config: { type: 'string', short: 'c' },
  help: { type: 'boolean', short: 'h' },
  version: { type: 'boolean' },
} as const

type Command = 'search' | 'show' | 'summary' | 'retention'

/** The options each command reads besides --config; any other given is refused rather than silently ignored. */
const COMMAND_OPTIONS: Readonly<Record<Command, readonly string[]>> = {
  search: [...Object.values(KEY_OPTIONS), 'since', 'until', 'outcome', 'limit', 'cursor', 'json', 'csv'],
  show: ['json'],
  summary: ['since', 'until', 'json', 'csv'],
  retention: ['max', 'dry-run', 'json'],
}

const isCommand = (c: string): c is Command => Object.hasOwn(COMMAND_OPTIONS, c)

/** Why an option does not apply to `command`: summary counts all mail, so a filter there is the likely mistake. */
function notApplying(command: Command, option: string): string {
  const filter = command === 'summary' && !COMMAND_OPTIONS.summary.includes(option)
  return `--${option} does not apply to ${command}${filter ? ', which counts all mail (search lists the mail matching filters)' : ''}`
}

class UsageError extends Error {}

type Values = Record<string, string | boolean | undefined>

/** Where mtrk.ini is: the file given, or config/mtrk.ini (else mtrk.ini) in the directory given; null: none. */
function findIni(given: string | undefined, io: TraceIo): { path: string | null; dir: string } {
  const where = given ?? io.env.HARAKA ?? io.cwd
  if (given !== undefined && existsSync(given) && statSync(given).isFile()) return { path: given, dir: where }
  for (const p of [join(where, 'config', 'mtrk.ini'), join(where, 'mtrk.ini')])
    if (existsSync(p)) return { path: p, dir: where }
  if (given !== undefined && !existsSync(given))
    throw new TraceConfigError(`${given}: no such file or directory`)
  return { path: null, dir: where }
}

/** `traced`: the command reads the trace, so a trace turned off is worth a warning. */
function loadConfig(v: Values, io: TraceIo, traced: boolean): MtrkConfig {
  const { path, dir } = findIni(v.config as string | undefined, io)
  if (path === null) {
    io.stderr(`mtrk-trace: no mtrk.ini in ${dir} or ${join(dir, 'config')}: using the defaults\n`)
    return readMtrkIni('/dev/null', io.env).config
  }
  const { config, errors } = readMtrkIni(path, io.env)
  for (const e of errors) io.stderr(`mtrk-trace: ${path} ${e}\n`)
  if (traced && !config.trace.enabled)
    io.stderr(
      `mtrk-trace: [trace] enabled=false in ${path}: only messages recorded while it was on are found\n`,
    )
  return config
}

export async function main(argv: readonly string[], io: TraceIo = processIo()): Promise<number> {
  let trace: Trace | null = null
  try {
    const { values, positionals } = parseArgs({ args: [...argv], allowPositionals: true, options: OPTIONS })
    const v = values as Values
    if (v.help || positionals[0] === 'help') {
      io.stdout(HELP)
      return EXIT.ok
    }
    if (v.version) {
      io.stdout(`mtrk-trace ${packageVersion()}\n`)
      return EXIT.ok
    }
    const [command = 'search', ...rest] = positionals
    if (!isCommand(command)) throw new UsageError(`unknown command "${command}"`)
    for (const [option, value] of Object.entries(v))
      if (value !== undefined && option !== 'config' && !COMMAND_OPTIONS[command].includes(option))
        throw new UsageError(notApplying(command, option))
    if (v.json && v.csv) throw new UsageError('--json and --csv: choose one')
    if (command === 'show' && rest.length !== 1) throw new UsageError('show needs one queue id')
    if (command !== 'show' && rest.length > 0) throw new UsageError(`unexpected argument "${rest[0]}"`)
    const config = loadConfig(v, io, command !== 'retention')
    if (command === 'retention') return await retention(v, config, io)
    const input = command === 'show' ? {} : checkQuery(command, v, config)
    trace = await openTrace(config)
    if (command === 'show') return await show(trace, rest[0] as string, v, io)
    if (command === 'summary') return await summary(trace, input, keptAtMost(config), v, io)
    return await runSearch(trace, input, argv, v, io)
  } catch (e) {
    const usage = e instanceof UsageError ? e.message : argsError(e)
    if (usage !== null) {
      io.stderr(`mtrk-trace: ${usage}\nTry "mtrk-trace --help".\n`)
      return EXIT.usage
    }
    if (e instanceof TraceConfigError) {
      io.stderr(`mtrk-trace: cannot read the configuration: ${e.message}\n`)
      return EXIT.config
    }
    if (e instanceof TraceUnavailable) {
      io.stderr(`mtrk-trace: ${e.message}\n`)
      return EXIT.unavailable
    }
    throw e
  } finally {
    await trace?.close()
  }
}

/** Summary's default range: the last 24 hours. */
const SUMMARY_WINDOW = 86_400_000

/** The search's (or summary's) input, checked before Redis is asked: a malformed filter is a usage error. */
function checkQuery(command: Command, v: Values, config: MtrkConfig): TraceQueryInput {
  const input: TraceQueryInput = {}
  for (const field of QUERY_FIELDS) {
    const value = v[KEY_OPTIONS[field as keyof typeof KEY_OPTIONS] ?? field]
    if (typeof value === 'string') input[field] = value
  }
  const window = command === 'summary' ? SUMMARY_WINDOW : keptWindow(config)
  const r = parseTraceQuery(input, { now: Date.now(), window, kept: keptAtMost(config) })
  if (!r.ok) throw new UsageError(r.error)
  return input
}

async function runSearch(
  trace: Trace,
  input: TraceQueryInput,
  argv: readonly string[],
  v: Values,
  io: TraceIo,
): Promise<number> {
  const q = trace.query(input)
  if (!q.ok) throw new UsageError(q.error)
  const page = await trace.search(q.value)
  if (v.json) io.stdout(renderPageJson(page))
  else io.stdout(renderRows(traceRows(page.messages, q.value), v.csv ? 'csv' : 'table'))
  if (page.next !== null) {
    const again = argv.filter(
      (a, i) => a !== '--cursor' && argv[i - 1] !== '--cursor' && !a.startsWith('--cursor='),
    )
    // The time range is fixed, so that the next page continues this one even when `now` has moved.
    const until = input.until === undefined ? [`--until ${new Date(q.value.until).toISOString()}`] : []
    io.stderr(`more: mtrk-trace ${[...again.map(shellQuote), ...until].join(' ')} --cursor '${page.next}'\n`)
  }
  return EXIT.ok
}

const shellQuote = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, "'\\''")}'`)

async function show(trace: Trace, id: string, v: Values, io: TraceIo): Promise<number> {
  if (connectionPrefix(id) !== null) return showConnection(trace, id, v, io)
  const m = await trace.show(id)
  if (!m) {
    io.stderr(`mtrk-trace: no message with queue id ${id} is kept\n`)
    return EXIT.notFound
  }
  io.stdout(v.json ? `${JSON.stringify(m, null, 2)}\n` : renderDetail(m, Date.now()))
  return EXIT.ok
}

/** `show <connection uuid>`: every message of that connection (the newest MAX_LIMIT), in the order they came. */
async function showConnection(trace: Trace, id: string, v: Values, io: TraceIo): Promise<number> {
  const q = trace.query({ queueId: id, limit: String(MAX_LIMIT) }, undefined, () => 'show')
  if (!q.ok) throw new UsageError(q.error)
  const messages: TracedMessage[] = []
  let next: string | null = null
  do {
    const cursor = next === null ? null : parseCursor(next)
    const page = await trace.search({ ...q.value, cursor, limit: MAX_LIMIT - messages.length })
    messages.push(...page.messages)
    next = page.next
  } while (next !== null && messages.length < MAX_LIMIT)
  if (messages.length === 0) {
    io.stderr(`mtrk-trace: no message of connection ${id} is kept\n`)
    return EXIT.notFound
  }
  if (next !== null)
    io.stderr(
      `mtrk-trace: the newest ${MAX_LIMIT} messages of connection ${id}; all: mtrk-trace --queue-id ${id}\n`,
    )
  messages.reverse()
  const now = Date.now()
  io.stdout(
    v.json ? `${JSON.stringify(messages, null, 2)}\n` : messages.map((m) => renderDetail(m, now)).join('\n'),
  )
  return EXIT.ok
}

async function summary(
  trace: Trace,
  input: TraceQueryInput,
  kept: number,
  v: Values,
  io: TraceIo,
): Promise<number> {
  const q = parseTraceQuery(input, { now: Date.now(), window: SUMMARY_WINDOW, kept })
  if (!q.ok) throw new UsageError(q.error)
  const s = await trace.summary(q.value.since, q.value.until)
  io.stdout(v.json ? `${JSON.stringify(s, null, 2)}\n` : renderSummary(s, v.csv ? 'csv' : 'table'))
  return EXIT.ok
}

/** `retention`: MTRK-11, the store's runRetention with the ini's maximum unless --max says otherwise. */
async function retention(v: Values, config: MtrkConfig, io: TraceIo): Promise<number> {
  const raw = v.max as string | undefined
  // A bare number would be seconds: `--max 2` meant as two days would drop nearly every record, for good.
  if (raw !== undefined && /^\s*\d+\s*$/.test(raw) && raw.trim() !== '0')
    throw new UsageError(
      `--max: "${raw}" needs a unit: ${raw.trim()}d, ${raw.trim()}h, ${raw.trim()}m or ${raw.trim()}s`,
    )
  const max = raw === undefined ? config.main.maxRetention : parseDuration(raw)
  if (max === null) throw new UsageError(`--max: "${raw}" is not a duration (a number with s, m, h or d: 2d)`)
  const dryRun = v['dry-run'] === true
  const client = await connectReader(config.redis, 'mtrk-trace')
  try {
    const cut = { maxRetention: max, queuedGrace: config.main.queuedGrace, now: Date.now() }
    const report = await runRetention(client, {
      ...cut,
      prefix: config.redis.prefix,
      dryRun,
      batch: 200,
    }).catch((e: unknown) => {
      throw new TraceUnavailable(`Redis failed: ${e instanceof Error ? e.message : String(e)}`)
    })
    const run = { dryRun, maxRetention: max, queuedGrace: config.main.queuedGrace }
    io.stdout(v.json ? `${JSON.stringify({ ...run, ...report }, null, 2)}\n` : renderRetention(run, report))
    return EXIT.ok
  } finally {
    await client.quit().catch(() => client.disconnect())
  }
}

function processIo(): TraceIo {
  return {
    stdout: (t) => process.stdout.write(t),
    stderr: (t) => process.stderr.write(t),
    env: process.env,
    cwd: process.cwd(),
  }
}
