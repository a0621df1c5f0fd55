// The Haraka adapter: hook methods copied onto Haraka's Plugin instance (Haraka copies a package's enumerable
// exports, haraka.md §6). Each hook is thin: parse with src/esmtp, build writes with ./tracking, hand them to the
// store without waiting. Nothing here may delay or refuse mail because of tracking (DSN-2, DSN-4).
import { readFileSync } from 'node:fs'
import os from 'node:os'
import * as constants from 'haraka-constants'
import * as DSN from 'haraka-dsn'
import { dnsServerResolver } from '../client/discovery'
import { applyRedisUrl, INI_BOOLEANS, type IniSections, type MtrkConfig, parseConfig } from '../config/config'
import { formatEndpoint } from '../config/listen'
import {
  type EsmtpParam,
  type ParamPolicy,
  parseMailParams,
  parseRcptParams,
  type Rejection,
  splitCommandParams,
} from '../esmtp/params'
import { acceptPaddedCertifiers } from '../haraka/inbound'
import { queueLifetime } from '../haraka/outbound'
import { harakaTlsProvider } from '../haraka/tls'
import type { HarakaAddress, HarakaConnection, HarakaPlugin, HarakaTransaction, Next } from '../haraka/types'
import { createChainer } from '../mtqp/chain'
import { MtqpServer } from '../mtqp/server'
import type { ChainFn } from '../mtqp/session'
import { createRedisClient } from '../store/redis'
import { effectiveRetention } from '../store/retention'
import { TrackingStore } from '../store/store'
import { encodeBase64 } from '../util/base64'
import { ensureNote, rcptKey, readNote } from './note'
import { type Acceptance, acceptanceWrite, isTracked, type WriteContext } from './tracking'

interface PluginState {
  config: MtrkConfig
  policy: ParamPolicy
  reportingMta: string
  store: TrackingStore | null
  /** The MTQP listener, in the one process that runs it (the master in cluster mode). */
  mtqp: MtqpServer | null
}

export type MtrkPlugin = HarakaPlugin & { mtrk?: PluginState }

/** RFC 3461 §5.4 and RFC 3885 §2(5) ask for ≥ 1036-character RCPT and ≥ 1100-character MAIL lines (AMB-20). */
const MIN_LINE_LENGTH = 1100

function state(plugin: MtrkPlugin): PluginState {
  if (!plugin.mtrk) loadConfig(plugin)
  return plugin.mtrk as PluginState
}

function loadConfig(plugin: MtrkPlugin): void {
  const ini = plugin.config.get('mtrk.ini', { booleans: INI_BOOLEANS }, () =>
    loadConfig(plugin),
  ) as IniSections
  const { config, errors } = parseConfig(ini ?? {})
  const fromEnv = applyRedisUrl(config.redis, process.env.MTRK_REDIS_URL)
  for (const e of fromEnv.error ? [...errors, fromEnv.error] : errors) plugin.logerror(`config/mtrk.ini ${e}`)
  config.redis = fromEnv.redis

  const me = plugin.config.get('me')
  const previous = plugin.mtrk
  plugin.mtrk = {
    config,
    policy: {
      allowed: config.main.allowedParams,
      rejectUnknown: config.main.rejectUnknownParams,
      mtrkWithoutEnvid: config.main.mtrkWithoutEnvid,
    },
    reportingMta: config.main.reportingMta ?? ((typeof me === 'string' && me.trim()) || os.hostname()),
    store: previous?.store ?? null,
    mtqp: previous?.mtqp ?? null,
  }
  // A changed Redis endpoint takes effect on the next write; the old client is let go.
  const redisChanged = JSON.stringify(previous?.config.redis) !== JSON.stringify(config.redis)
  if (previous?.store && redisChanged) {
    void previous.store.close()
    plugin.mtrk.store = null
  }
  // The listener takes its options when it starts: restart it when they (or the store it reads) changed.
  if (
    previous?.mtqp &&
    (redisChanged || JSON.stringify(previous.config.mtqp) !== JSON.stringify(config.mtqp))
  ) {
    void restartMtqp(plugin, previous.mtqp)
  }
}

function storeOf(plugin: MtrkPlugin): TrackingStore {
  const s = state(plugin)
  if (!s.store) {
    const client = createRedisClient(s.config.redis, `haraka-mtrk-${process.pid}`)
    s.store = new TrackingStore(
      client,
      { prefix: s.config.redis.prefix, historyLimit: s.config.main.historyLimit, pendingLimit: 10000 },
      { info: (m) => plugin.loginfo(m), warn: (m) => plugin.logwarn(m) },
    )
  }
  return s.store
}

function warnIfLinesTooShort(plugin: MtrkPlugin): void {
  const ini = plugin.config.get('connection.ini') as { max?: { line_length?: unknown } } | undefined
  const max = Number(ini?.max?.line_length ?? 512)
  if (max < MIN_LINE_LENGTH) {
    plugin.logwarn(
      `connection.ini [max] line_length=${max} cuts MAIL/RCPT lines carrying ENVID, ORCPT and MTRK; ` +
        `RFC 3461 and RFC 3885 need ${MIN_LINE_LENGTH} (MTRK-4, DSN-9): set line_length=${MIN_LINE_LENGTH} or more`,
    )
  }
}

/**
 * Our hooks run before other plugins' (lower priority runs first): a plugin that accepts a recipient with OK ends the
 * rcpt hook chain, so parameter checks (DSN-3, DSN-4) and observations placed after it would never run.
 */
const EARLY = -50

export function register(this: MtrkPlugin): void {
  loadConfig(this)
  warnIfLinesTooShort(this)
  if (!acceptPaddedCertifiers(this))
    this.logwarn('padded MTRK certifiers will be refused: Haraka internals changed')
  this.register_hook('capabilities', 'advertise_mtrk', EARLY)
  this.register_hook('mail', 'check_mail_params', EARLY)
  this.register_hook('rcpt', 'check_rcpt_params', EARLY)
  this.register_hook('data_post', 'stamp_arrival', EARLY)
  this.register_hook('queue_ok', 'record_acceptance', EARLY)
  this.register_hook('reset_transaction', 'record_queue_refusal', EARLY)
  this.register_hook('init_master', 'open_store')
  this.register_hook('init_child', 'open_store')
  // init_master runs once, in the only process or in the cluster master: exactly one listener (haraka.md §4).
  if (state(this).config.mtqp.enabled) this.register_hook('init_master', 'start_mtqp')
}

/** Connects early in every process (master and cluster workers) so the first message does not wait for it. */
export function open_store(this: MtrkPlugin, next: Next): void {
  storeOf(this)
  next()
}

/** Starts the MTQP listener. A listener that cannot start is logged; it never stops Haraka (init hooks can). */
export async function start_mtqp(this: MtrkPlugin, next: Next): Promise<void> {
  await startMtqp(this)
  next()
}

async function startMtqp(plugin: MtrkPlugin): Promise<void> {
  const s = state(plugin)
  if (!s.config.mtqp.enabled) return
  if (s.config.mtqp.inactivityTimeoutMs < 600_000) {
    plugin.logwarn('[mtqp] test_inactivity_timeout_ms is set: below the 10 minutes RFC 3887 §2.5 requires')
  }
  const log = { info: (m: string) => plugin.loginfo(m), warn: (m: string) => plugin.logwarn(m) }
  const chain = s.config.mtqp.chaining ? chainer(plugin, s) : undefined
  const server = new MtqpServer({
    config: s.config.mtqp,
    store: storeOf(plugin),
    tls: harakaTlsProvider(plugin),
    log,
    ...(chain === undefined ? {} : { chain }),
  })
  s.mtqp = server
  const where = formatEndpoint(s.config.mtqp.listen)
  try {
    await server.listen()
    plugin.loginfo(`MTQP listening on ${where}`)
  } catch (e) {
    s.mtqp = null
    plugin.logerror(
      `MTQP listener could not start on ${where}: ${e instanceof Error ? e.message : String(e)}`,
    )
  }
}

/** MTQP-30: the chaining gateway of [mtqp] chaining=true, asking the next hops with the client library. */
function chainer(plugin: MtrkPlugin, s: PluginState): ChainFn {
  const c = s.config.mtqp
  let ca: string | undefined
  if (c.chainCaFile !== null) {
    try {
      ca = readFileSync(c.chainCaFile, 'utf8')
    } catch (e) {
      plugin.logerror(`[mtqp] chain_ca ${c.chainCaFile} cannot be read, using the system's authorities: ${e}`)
    }
  }
  plugin.loginfo(
    `MTQP chaining on: next hops asked within ${c.chainTimeoutMs} ms, at most ${c.chainMaxHops} deep` +
      (c.chainPublicName === null ? '' : `, inner names shown as ${c.chainPublicName}`),
  )
  return createChainer({
    reportingMta: s.reportingMta,
    timeoutMs: c.chainTimeoutMs,
    maxHops: c.chainMaxHops,
    publicName: c.chainPublicName,
    ...(ca === undefined ? {} : { ca }),
    ...(c.chainDnsServers === null ? {} : { resolver: dnsServerResolver(c.chainDnsServers) }),
    log: { info: (m) => plugin.loginfo(m), warn: (m) => plugin.logwarn(m) },
  })
}

async function restartMtqp(plugin: MtrkPlugin, old: MtqpServer): Promise<void> {
  await old.close()
  const s = state(plugin)
  s.mtqp = null
  await startMtqp(plugin)
}

export async function shutdown(this: MtrkPlugin): Promise<void> {
  const s = this.mtrk
  if (!s) return
  const { mtqp, store } = s
  s.mtqp = null
  s.store = null
  await mtqp?.close()
  await store?.close()
}

/** MTRK-1, MTRK-2, AMB-21: EHLO advertises MTRK, and DSN whose ENVID/ORCPT MTRK builds on. */
export function advertise_mtrk(this: MtrkPlugin, next: Next, connection: HarakaConnection): void {
  for (const keyword of ['MTRK', 'DSN']) {
    if (!connection.capabilities.includes(keyword)) connection.capabilities.push(keyword)
  }
  next()
}

/** The parameters as sent, duplicates included (HRK-2); Haraka's de-duplicated object when the line is unavailable. */
function paramsOf(
  connection: HarakaConnection,
  parsed: Record<string, string | null> | undefined,
): EsmtpParam[] {
  const fromLine = splitCommandParams(connection.current_line ?? '')
  if (fromLine) return fromLine
  return Object.entries(parsed ?? {}).map(([keyword, value]) => ({ keyword: keyword.toUpperCase(), value }))
}

function refuse(next: Next, r: Rejection): void {
  next(constants.deny, DSN.create(r.code, r.message, 5, 4))
}

export function check_mail_params(
  this: MtrkPlugin,
  next: Next,
  connection: HarakaConnection,
  params: [HarakaAddress, Record<string, string | null>],
): void {
  const s = state(this)
  const txn = connection.transaction
  const r = parseMailParams(paramsOf(connection, params[1]), s.policy)
  if (!r.ok) return refuse(next, r.error)
  const { envid, ret, mtrk, mtrkIgnored } = r.value
  if (mtrkIgnored) connection.loginfo(this, `MTRK ignored: ${mtrkIgnored} (mtrk_without_envid=ignore)`)
  if (txn && (envid || ret || mtrk)) {
    const note = ensureNote(txn.notes)
    note.envid = envid?.xtext ?? null
    note.ret = ret ?? null
    if (mtrk && envid) {
      note.track = {
        hash: encodeBase64(mtrk.hash, { padding: false }),
        timeout: mtrk.timeout,
        retention: effectiveRetention(mtrk.timeout, s.config.main),
        envid: envid.decoded,
      }
    }
  }
  next()
}

export function check_rcpt_params(
  this: MtrkPlugin,
  next: Next,
  connection: HarakaConnection,
  params: [HarakaAddress, Record<string, string | null>],
): void {
  const [rcpt, parsed] = params
  const r = parseRcptParams(paramsOf(connection, parsed), state(this).policy)
  if (!r.ok) return refuse(next, r.error)
  const { notify, orcpt } = r.value
  const txn = connection.transaction
  if (txn && (notify || orcpt)) {
    ensureNote(txn.notes).rcpts[rcptKey(rcpt)] = { orcpt: orcpt?.raw ?? null, notify: notify?.raw ?? null }
  }
  next()
}

/** Arrival-Date and the start of the MTRK timeout: the end of DATA, before the message is queued (MTRK-7). */
export function stamp_arrival(this: MtrkPlugin, next: Next, connection: HarakaConnection): void {
  const note = readNote(connection.transaction?.notes)
  if (note) note.arrival = Date.now()
  next()
}

function writeContext(plugin: MtrkPlugin, txn: HarakaTransaction): WriteContext {
  const s = state(plugin)
  return {
    txn: txn.uuid,
    reportingMta: s.reportingMta,
    now: Date.now(),
    queueLifetime: queueLifetime(plugin),
    queuedGrace: s.config.main.queuedGrace,
  }
}

function resultList(txn: HarakaTransaction, name: string, list: 'pass' | 'fail'): unknown[] {
  const r = txn.results.get(name) as Record<string, unknown> | undefined
  const v = r?.[list]
  return Array.isArray(v) ? v : []
}

/** Records a tracked message as accepted: queued for relaying, or delivered by a local queue plugin. */
export function record_acceptance(this: MtrkPlugin, next: Next, connection: HarakaConnection): void {
  const txn = connection.transaction
  const note = readNote(txn?.notes)
  if (!txn || !isTracked(note)) return next()
  let acceptance: Acceptance
  if (resultList(txn, 'outbound', 'pass').includes('queued')) acceptance = { kind: 'queued' }
  else acceptance = connection.relaying ? { kind: 'relayed' } : { kind: 'delivered' }
  const recipients = txn.rcpt_to.map((a) => ({ key: rcptKey(a), address: a.address }))
  const write = acceptanceWrite(note, recipients, acceptance, writeContext(this, txn))
  next()
  storeOf(this).submit(write)
}

/** A queue plugin that refused a tracked message: the client got 5xx or 4xx, recorded as failed or delayed. */
export function record_queue_refusal(this: MtrkPlugin, next: Next, connection: HarakaConnection): void {
  const txn = connection.transaction
  const note = readNote(txn?.notes)
  const refused = txn?.msg_status === 'rejected' || txn?.msg_status === 'deferred'
  const reply = txn ? resultList(txn, 'queue', 'fail').at(-1) : undefined
  if (!txn || !isTracked(note) || !refused || reply === undefined) return next()
  const temporary = txn.msg_status === 'deferred'
  const recipients = txn.rcpt_to.map((a) => ({ key: rcptKey(a), address: a.address }))
  const acceptance: Acceptance = {
    kind: 'refused',
    temporary,
    code: temporary ? 450 : 550,
    reply: String(reply),
  }
  const write = acceptanceWrite(note, recipients, acceptance, writeContext(this, txn))
  next()
  storeOf(this).submit(write)
}
