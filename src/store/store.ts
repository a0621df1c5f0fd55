// The tracking store: owns every Redis key and script of this plugin (README "Redis keys"). Nothing else talks to
// Redis. All data of one envid lives in one hash, so every operation is a single-key, single-round-trip command that
// works unchanged on standalone Redis, Sentinel and Cluster.
import { ReplyError } from 'ioredis'
import type { RecordWrite, StoredMessage } from '../model/records'
import { decodeMessage } from './codec'
import type { OutageJournal } from './journal'
import type { RedisClient } from './redis'
import { RECORD_COMMAND, RECORD_SCRIPT } from './scripts'
import { TraceStore } from './trace'
import { isTrace, type StoreWrite } from './write'

export type { StoreWrite } from './write'

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
 * ms writes wait to be sent together. Issued in one tick, they leave in one network write (ioredis auto-pipelining,
 * per node in a Cluster): under load a system call per message costs more than the tracking itself.
 */
const BATCH_MS = 5

/** An error reply from Redis (redis-errors' ReplyError, which ioredis re-exports untyped), not a lost connection. */
function isReplyError(e: unknown): e is Error {
  return e instanceof (ReplyError as ErrorConstructor)
}

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
  /** Writes sent and not answered yet, settling once answered or journaled. */
  private readonly inFlight = new Map<StoreWrite, Promise<void>>()
  /** Writes lost without a journal since the last report. */
  private dropped = 0
  readonly trace: TraceStore

  constructor(
    private readonly client: RedisClient,
    private readonly opts: StoreOptions,
    private readonly log: StoreLog,
  ) {
    // ioredis sends EVALSHA, and the script itself on a connection that does not know it yet (NOSCRIPT).
    client.defineCommand(RECORD_COMMAND, { lua: RECORD_SCRIPT, numberOfKeys: 1 })
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
    this.opts.journal?.appendSync([...this.batch, ...this.inFlight.keys()])
    this.batch = []
  }

  /** Whether the last thing we heard from Redis was that it is ready. */
  get available(): boolean {
    return this.state === 'up'
  }

  /** `<prefix>envid:<decoded envid>`: readable with redis-cli, and one key per envid (AMB-7, AMB-37). */
  key(envid: string): string {
    return `${this.opts.prefix}envid:${envid}`
  }

  /** Writes in one round trip; rejects when Redis fails. */
  async record({ message, recipients, now }: RecordWrite): Promise<void> {
    const args = [String(now), message.txn, JSON.stringify(message), String(this.opts.historyLimit)]
    for (const r of recipients)
      args.push(r.key, JSON.stringify(r.base), r.event ? JSON.stringify(r.event) : '')
    await this.client[RECORD_COMMAND](this.key(message.envid), ...args)
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
    for (const write of writes) this.send(write)
  }

  /** One write, to the envid records or to the operator trace. */
  private apply(write: StoreWrite): Promise<void> {
    return isTrace(write) ? this.trace.record(write) : this.record(write)
  }

  private send(write: StoreWrite): Promise<void> {
    const sent = this.apply(write)
      .catch((e: unknown) => {
        const message = e instanceof Error ? e.message : String(e)
        // Redis answered, but refused: replaying would fail the same way.
        if (isReplyError(e)) {
          const txn = isTrace(write) ? write.header.txn : write.message.txn
          this.log.warn(
            `Redis refused a ${isTrace(write) ? 'trace' : 'tracking'} write for ${txn}: ${message}`,
          )
          return
        }
        this.down(message)
        this.keep(write)
      })
      .finally(() => this.inFlight.delete(write))
    this.inFlight.set(write, sent)
    return sent
  }

  /** One replay batch: resolves when Redis took every write, rejects (nothing kept twice) when it failed. */
  private async replayBatch(writes: StoreWrite[]): Promise<void> {
    const failures = await Promise.all(
      writes.map((w) =>
        this.apply(w).then(
          () => null,
          (e: unknown) => (isReplyError(e) ? null : e),
        ),
      ),
    )
    const failure = failures.find((f) => f !== null)
    if (failure !== undefined) {
      this.down(failure instanceof Error ? failure.message : String(failure))
      throw failure
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
    const sent = this.available ? held.map((w) => this.send(w)) : held.map((w) => this.keep(w))
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
