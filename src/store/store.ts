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
}

/** Stores not closed yet, whose held writes are journaled if the process exits first. */
const openStores = new Set<TrackingStore>()
const journalOnExit = () => {
  for (const store of openStores) store.journalHeld()
}

/** ms between PINGs while Redis is unusable on an open connection (slow, or refusing commands). */
const PROBE_MS = 1000

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

export class TrackingStore {
  /** 'connecting' until the first answer, so an unreachable Redis at start-up is logged too. */
  private state: 'connecting' | 'up' | 'down' = 'connecting'
  /** Set by close(): later writes (outbound deliveries finishing during shutdown) are dropped, not reconnected. */
  private closed = false
  /**
   * A command timeout leaves the connection open, so ioredis will not say 'ready' again: PINGs tell when Redis
   * answers in time again.
   */
  private probe: NodeJS.Timeout | null = null
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
    client.on('close', () => this.down('connection closed'))
    client.on('ready', () => this.ready())
    openStores.add(this)
    if (openStores.size === 1) process.once('exit', journalOnExit)
  }

  /** Journals what is still in memory, synchronously: the process exits without close() (Haraka's default). */
  journalHeld(): void {
    this.opts.journal?.appendSync([...this.batch, ...[...this.inFlight.keys()].flatMap((c) => c.writes)])
    this.batch = []
  }

  /** Whether the last thing we heard from Redis was that it is ready. */
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
   * and closes the journal and the connection: nothing held is dropped silently.
   */
  async close(): Promise<void> {
    this.closed = true
    this.stopProbe()
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
    if (this.opts.journal) this.opts.journal.append(write)
    else this.dropped++
  }

  /** Logs writes lost since the last report, with their count. */
  private reportLosses(): void {
    const lost = this.dropped + (this.opts.journal?.takeLost() ?? 0)
    this.dropped = 0
    if (lost > 0) this.log.warn(`${lost} tracking writes lost (see README "Failure modes")`)
  }

  /**
   * Replays the journal in paced batches (also called when another store on the same journal directory closed);
   * a failure leaves the rest for the next time Redis is ready.
   */
  replay(): void {
    const journal = this.opts.journal
    if (!journal || !this.available || this.closed) return
    journal
      .replay((writes) => this.replayBatch(writes))
      .then(
        (complete) => {
          this.reportLosses()
          const replayed = journal.takeReplayed()
          if (complete && replayed > 0) this.log.info(`tracking journal replayed: ${replayed} writes`)
        },
        (e: unknown) => this.log.warn(`tracking journal replay failed: ${e}`),
      )
  }

  private down(reason: string): void {
    if (this.state === 'down') return
    this.state = 'down'
    this.log.warn(`Redis unavailable (${reason}): mail flows on untracked until it is back`)
    if (this.client.status === 'ready' && !this.closed) {
      this.probe = setInterval(() => {
        this.client.ping().then(
          () => this.ready(),
          () => {},
        )
      }, PROBE_MS)
      this.probe.unref()
    }
  }

  private stopProbe(): void {
    if (this.probe) clearInterval(this.probe)
    this.probe = null
  }

  private ready(): void {
    this.stopProbe()
    if (this.state === 'up' || this.closed) return
    this.state = 'up'
    const held = this.opts.journal?.heldBytes ?? 0
    this.log.info(`Redis ready${held ? `: replaying ${held} bytes of journaled tracking writes` : ''}`)
    this.reportLosses()
    this.replay()
  }
}
