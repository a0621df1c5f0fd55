// The tracking store: owns every Redis key and script of this plugin (README "Redis keys"). Nothing else talks to
// Redis. All data of one envid lives in one hash, and every key of a trace record in one hour bucket, so a write is
// one script on one Cluster slot; the writes of a batch that share a slot (all of them, without Cluster) go in one
// call (./batch). The same code serves standalone Redis, Sentinel and Cluster.
import { ReplyError } from 'ioredis'
import type { StoredMessage } from '../model/records'
import { envidKey, type Refusal, type WriteCall, WriteSender } from './batch'
import { decodeMessage } from './codec'
import type { OutageJournal } from './journal'
import type { RedisClient } from './redis'
import { TraceStore } from './trace'
import { type StoreWrite, writeName } from './write'

export type { StoreWrite } from './write'

/** Writes of a group that did not reach Redis, and why. */
interface Unsent {
  writes: readonly StoreWrite[]
  reason: string
}

export interface StoreLog {
  info(msg: string): void
  warn(msg: string): void
}

export interface StoreOptions {
  prefix: string
  historyLimit: number
  /**
   * Where writes go that cannot reach Redis, replayed from there when it is back (and at start-up); null for a
   * store that only reads (its writes during an outage are lost, and counted).
   */
  journal: OutageJournal | null
  /** ms between the reminders that Redis is still unusable; REMIND_MS when absent. */
  remindMs?: number
}

/** An outage as the log tells it: since when (ms since the epoch), the last reason, writes journaled since. */
interface Outage {
  since: number
  reason: string
  journaled: number
  reminder: NodeJS.Timeout
}

/** Stores not closed yet, whose held writes are journaled if the process exits first. */
const openStores = new Set<TrackingStore>()
const journalOnExit = () => {
  for (const store of openStores) store.journalHeld()
}

/**
 * ms before the first probe of a Redis that answers but cannot be used (a command timed out, or a write was refused
 * "not now"), doubling after each failed probe up to PROBE_MAX_MS. Most such spells (a slow moment, LOADING after a
 * restart, BUSY, a failover's READONLY or MASTERDOWN, TRYAGAIN) last seconds, so the first probes come soon. A Redis
 * out of memory waits for an operator, for minutes or hours: it then costs a PING and one refused replay batch per
 * 30 s, not per second. The cap also bounds how long writes keep going to the journal (nothing lost, MTQP clients
 * told to call back) after Redis takes them again.
 */
const PROBE_MIN_MS = 1000
const PROBE_MAX_MS = 30_000

/** The reason of a closed connection: the error before it, if any, says more (ECONNREFUSED, OOM). */
const CLOSED = 'connection closed'

/** ms between reminders while Redis stays unusable: the outage stays visible in the log without filling it. */
const REMIND_MS = 60_000

/**
 * ms writes wait to be sent together: one script call per Cluster slot (./batch), the calls of one tick in one network
 * write (ioredis auto-pipelining, per node in a Cluster). Under load a command per message costs more than the
 * tracking itself.
 */
const BATCH_MS = 5

/** An error reply from Redis (redis-errors' ReplyError, which ioredis re-exports untyped), not a lost connection. */
function isReplyError(e: unknown): e is Error {
  return e instanceof (ReplyError as ErrorConstructor)
}

/**
 * Error replies that say Redis cannot take writes for now, not that a write is wrong: loading its data after a
 * restart, busy with a long script, a replica or a master cut off during a failover, out of memory, too few
 * replicas, a Cluster slot moving or down. The writes they refuse are kept for replay like those of an outage.
 */
const NOT_NOW = /^(LOADING|BUSY|READONLY|MASTERDOWN|NOREPLICAS|OOM|TRYAGAIN|CLUSTERDOWN)\b/

/** Whether `e` is Redis refusing a write for now (NOT_NOW: out of memory, a read-only replica…), not a lost link. */
export function refusedForNow(e: unknown): boolean {
  return isReplyError(e) && NOT_NOW.test(e.message)
}

export class TrackingStore {
  /** 'connecting' until the first answer, so an unreachable Redis at start-up is logged too. */
  private state: 'connecting' | 'up' | 'down' = 'connecting'
  /** Set by close(): later writes (outbound deliveries finishing during shutdown) are dropped, not reconnected. */
  private closed = false
  /**
   * A command timeout or a "not now" reply leaves the connection open, so ioredis will not say 'ready' again: a PING
   * and then a replayed batch tell when Redis takes writes again.
   */
  private probe: NodeJS.Timeout | null = null
  /** ms before the next probe; doubles after each failed one. */
  private probeDelay = PROBE_MIN_MS
  /** When the store last came up (ms since the epoch). */
  private upSince = 0
  /**
   * resume() waits for a replay: a probe meanwhile adds nothing, since that replay's next batch Redis takes brings
   * the store up, and its end schedules the next probe while still down.
   */
  private resuming = false
  private outage: Outage | null = null
  private batch: StoreWrite[] = []
  private batchTimer: NodeJS.Timeout | null = null
  /** Calls sent and not answered yet, settling once answered or journaled. */
  private readonly inFlight = new Map<WriteCall, Promise<void>>()
  private readonly writer: WriteSender
  /** Writes lost without a journal since the last report. */
  private dropped = 0
  readonly trace: TraceStore

  constructor(
    private readonly client: RedisClient,
    private readonly opts: StoreOptions,
    private readonly log: StoreLog,
  ) {
    this.writer = new WriteSender(client, opts)
    this.trace = new TraceStore(client, opts)
    // An 'error' without a listener would be an uncaught exception, which stops Haraka.
    client.on('error', (e: Error) => this.down(e.message))
    client.on('close', () => this.down(CLOSED))
    client.on('ready', () => {
      this.stopProbe()
      this.resume()
    })
    openStores.add(this)
    if (openStores.size === 1) process.once('exit', journalOnExit)
  }

  /** Journals what is still in memory, synchronously: the process exits without close() (Haraka's default). */
  journalHeld(): void {
    this.opts.journal?.appendSync([...this.batch, ...[...this.inFlight.keys()].flatMap((c) => c.writes)])
    this.batch = []
  }

  /**
   * Whether Redis takes writes: false from the first write it could not take (no connection, a timeout, a "not now"
   * reply such as OOM) until it took a replayed one again. While false, writes are journaled and MTQP greets -TEMP.
   */
  get available(): boolean {
    return this.state === 'up'
  }

  /** `<prefix>envid:<decoded envid>`: readable with redis-cli, and one key per envid (AMB-7, AMB-37). */
  key(envid: string): string {
    return envidKey(this.opts.prefix, envid)
  }

  /** Applies one write, to the envid records or to the operator trace, in one round trip; rejects when Redis fails. */
  async record(write: StoreWrite): Promise<void> {
    await this.writer.send([write])
  }

  /**
   * Writes without waiting and never fails: tracking must not hold up or endanger mail. A write that cannot reach
   * Redis goes to the outage journal, replayed when Redis is back (writes are idempotent upserts).
   */
  submit(write: StoreWrite): void {
    if (this.closed) {
      // Deliveries finishing during shutdown: straight to disk, or counted as lost.
      if (this.opts.journal) this.opts.journal.appendSync([write])
      else this.dropped++
      this.reportLosses()
      return
    }
    if (!this.available) {
      this.keep(write)
      return
    }
    this.batch.push(write)
    this.batchTimer ??= setTimeout(() => this.sendBatch(), BATCH_MS)
  }

  private sendBatch(): void {
    this.batchTimer = null
    const writes = this.batch
    this.batch = []
    for (const call of this.writer.calls(writes)) this.send(call)
  }

  /** Sends one call; what Redis could not be reached for goes to the journal. */
  private send(call: WriteCall): Promise<void> {
    const sent = this.deliver(call)
      .then((unsent) => {
        if (!unsent) return
        this.down(unsent.reason)
        for (const w of unsent.writes) this.keep(w)
      })
      .finally(() => this.inFlight.delete(call))
    this.inFlight.set(call, sent)
    return sent
  }

  /**
   * One script call. Resolves with the writes that did not reach Redis and why, or null when Redis took or refused
   * each: a refusal (a ReplyError: replaying would fail the same way) is logged and dropped. The script skips a
   * refused write and applies the others, so nothing is sent twice.
   */
  private async deliver(call: WriteCall): Promise<Unsent | null> {
    let refusals: Refusal[]
    try {
      refusals = await this.writer.apply(call)
    } catch (e) {
      const reason = e instanceof Error ? e.message : String(e)
      if (!isReplyError(e) || NOT_NOW.test(reason)) return { writes: call.writes, reason }
      for (const w of call.writes) this.refused(w, reason)
      return null
    }
    // Redis refuses a script's first write when it is out of memory, inside the write's pcall: such a write applied
    // nothing and is kept for replay like the writes of an outage.
    const notNow = refusals.filter((r) => NOT_NOW.test(r.reason))
    for (const r of refusals) if (!notNow.includes(r)) this.refused(r.write, r.reason)
    const [first] = notNow
    return first ? { writes: notNow.map((r) => r.write), reason: first.reason } : null
  }

  private refused(w: StoreWrite, reason: string): void {
    this.log.warn(`Redis refused a ${writeName(w)}: ${reason}`)
  }

  /** One replay batch: resolves when Redis took every write, rejects (nothing kept twice) when it failed. */
  private async replayBatch(writes: StoreWrite[]): Promise<void> {
    const unsent = await Promise.all(this.writer.calls(writes).map((c) => this.deliver(c)))
    const failure = unsent.find((u) => u !== null)
    if (failure) {
      this.down(failure.reason)
      throw new Error(failure.reason)
    }
  }

  /** Every stored message with this (decoded) envid, in one round trip; rejects when Redis fails. */
  async lookup(envid: string): Promise<StoredMessage[]> {
    const fields = await this.client.hgetall(this.key(envid))
    const messages: StoredMessage[] = []
    for (const txn in fields) {
      const m = decodeMessage(txn, envid, fields[txn] as string)
      if (m !== null) messages.push(m)
    }
    return messages.sort((a, b) => a.arrival - b.arrival)
  }

  /**
   * Sends what is held in memory, waits for Redis's answers (at most command_timeout), journals whatever failed,
   * stops a running replay after its current batch, and closes the journal and the connection: nothing held is
   * dropped silently, and no file is left half-replayed while the next store's journal claims it.
   */
  async close(): Promise<void> {
    this.closed = true
    this.stopProbe()
    if (this.outage) clearInterval(this.outage.reminder)
    if (this.batchTimer) clearTimeout(this.batchTimer)
    const held = this.batch
    this.batch = []
    const sent = this.available
      ? this.writer.calls(held).map((c) => this.send(c))
      : held.map((w) => this.keep(w))
    await Promise.all([...sent, ...this.inFlight.values()])
    openStores.delete(this)
    if (openStores.size === 0) process.removeListener('exit', journalOnExit)
    await this.opts.journal?.close()
    this.reportLosses()
    this.client.removeAllListeners('ready')
    this.client.removeAllListeners('close')
    await this.client.quit().catch(() => this.client.disconnect())
  }

  /** A write Redis could not take: into the journal, or lost (and counted) without one. */
  private keep(write: StoreWrite): void {
    if (this.opts.journal) {
      this.opts.journal.append(write)
      if (this.outage) this.outage.journaled++
    } else this.dropped++
  }

  /** Logs writes lost since the last report, with their count. */
  private reportLosses(): void {
    const lost = this.dropped + (this.opts.journal?.takeLost() ?? 0)
    this.dropped = 0
    if (lost > 0) this.log.warn(`${lost} tracking writes lost (see README "Failure modes")`)
  }

  /**
   * Replays the journal in paced batches (also called when another store on the same journal directory closed);
   * a failure leaves the rest for the next time Redis takes writes.
   */
  replay(): void {
    const journal = this.opts.journal
    if (journal && this.available && !this.closed) void this.replayJournal(journal)
  }

  /**
   * Replays the journal through Redis; logs what it replayed, and what was lost, once the journal is empty (not after
   * each failed probe). Resolves whether it is empty.
   */
  private replayJournal(journal: OutageJournal): Promise<boolean> {
    // Any batch Redis took brings the store up, also in a replay that was running when a live write took it down:
    // a caller while a replay runs gets that replay, with this send, and under steady mail it may never end.
    const send = async (writes: StoreWrite[]) => {
      await this.replayBatch(writes)
      this.up()
    }
    return journal.replay(send).then(
      (complete) => {
        if (!complete) return false
        this.reportLosses()
        const replayed = journal.takeReplayed()
        if (replayed > 0) this.log.info(`tracking journal replayed: ${replayed} writes`)
        return true
      },
      (e: unknown) => {
        this.log.warn(`tracking journal replay failed: ${e}`)
        return false
      },
    )
  }

  /**
   * Redis answers (a new connection, or a PING): replays the journal while still down. The store comes up when Redis
   * takes a batch, or when nothing was left to replay and it did not go down again meanwhile (then a PING is all
   * there is to go by); else it probes again later. A PING alone would not do: Redis out of memory answers it and
   * refuses every write.
   */
  private resume(): void {
    if (this.state === 'up' || this.closed || this.resuming) return
    this.resuming = true
    const outage = this.outage
    const journal = this.opts.journal
    const replayed = journal ? this.replayJournal(journal) : Promise.resolve(true)
    void replayed.then((complete) => {
      this.resuming = false
      if (complete && this.outage === outage) this.up()
      if (this.state !== 'up') this.scheduleProbe()
    })
  }

  private down(reason: string): void {
    // After close() (a reload replaced the store) nothing would ever end a reminder.
    if (this.closed) return
    if (this.state === 'down') {
      // Reminders name the latest reason: what Redis answers now, not only what started the outage.
      if (this.outage && reason !== CLOSED) this.outage.reason = reason
      return
    }
    this.state = 'down'
    // Down again soon after it came up (memory hovering at maxmemory as keys expire): the probes keep backing off.
    if (Date.now() - this.upSince >= PROBE_MAX_MS) this.probeDelay = PROBE_MIN_MS
    const journal = this.opts.journal
    const writes = journal
      ? `tracking writes are journaled in ${journal.dir} and replayed when it is back`
      : 'tracking writes are lost (counted in the log) until it is back: there is no journal'
    this.log.warn(`Redis unavailable (${reason}): mail flows on; ${writes}`)
    const reminder = setInterval(() => this.remind(), this.opts.remindMs ?? REMIND_MS)
    reminder.unref()
    this.outage = { since: Date.now(), reason, journaled: 0, reminder }
    this.scheduleProbe()
  }

  private remind(): void {
    const o = this.outage
    if (!o) return
    const journaled = `${o.journaled} tracking writes journaled`
    this.log.warn(`Redis still unavailable after ${lasted(Date.now() - o.since)} (${o.reason}): ${journaled}`)
    this.reportLosses()
  }

  /** The next probe, on an open connection only: a closed one says 'ready' by itself when it is back. */
  private scheduleProbe(): void {
    if (this.probe || this.closed || this.client.status !== 'ready') return
    const delay = this.probeDelay
    this.probeDelay = Math.min(delay * 2, PROBE_MAX_MS)
    this.probe = setTimeout(() => {
      this.probe = null
      this.client.ping().then(
        () => this.resume(),
        () => this.scheduleProbe(),
      )
    }, delay)
    this.probe.unref()
  }

  private stopProbe(): void {
    if (this.probe) clearTimeout(this.probe)
    this.probe = null
  }

  private up(): void {
    if (this.state === 'up' || this.closed) return
    this.stopProbe()
    this.state = 'up'
    this.upSince = Date.now()
    const o = this.outage
    this.outage = null
    if (o) clearInterval(o.reminder)
    const held = this.opts.journal?.heldBytes ?? 0
    const replaying = held ? `: replaying ${held} bytes of journaled tracking writes` : ''
    const after = o
      ? ` (unavailable for ${lasted(Date.now() - o.since)}, ${o.journaled} tracking writes journaled)`
      : ''
    this.log.info(`Redis ready${replaying}${after}`)
    this.reportLosses()
  }
}

/** A duration for the log, rounded: seconds, minutes beyond 2 minutes, hours beyond 2 hours. */
function lasted(ms: number): string {
  const s = Math.round(ms / 1000)
  if (s < 120) return `${s} s`
  return s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`
}
