// The tracking store: owns every Redis key and script of this plugin (README "Redis keys"). Nothing else talks to
// Redis. All data of one envid lives in one hash, so every operation is a single-key, single-round-trip command that
// works unchanged on standalone Redis, Sentinel and Cluster.
import { ReplyError } from 'ioredis'
import type { RecordWrite, StoredMessage } from '../model/records'
import { decodeMessage } from './codec'
import type { RedisClient } from './redis'
import { RECORD_COMMAND, RECORD_SCRIPT } from './scripts'

export interface StoreLog {
  info(msg: string): void
  warn(msg: string): void
}

export interface StoreOptions {
  prefix: string
  historyLimit: number
  /** Writes kept in memory while Redis is unreachable, replayed when it is back; the oldest are dropped beyond. */
  pendingLimit: number
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
  private batch: RecordWrite[] = []
  private batchTimer: NodeJS.Timeout | null = null
  private pending: RecordWrite[] = []
  private dropped = 0

  constructor(
    private readonly client: RedisClient,
    private readonly opts: StoreOptions,
    private readonly log: StoreLog,
  ) {
    // ioredis sends EVALSHA, and the script itself on a connection that does not know it yet (NOSCRIPT).
    client.defineCommand(RECORD_COMMAND, { lua: RECORD_SCRIPT, numberOfKeys: 1 })
    // An 'error' without a listener would be an uncaught exception, which stops Haraka.
    client.on('error', (e: Error) => this.down(e.message))
    client.on('close', () => this.down('connection closed'))
    client.on('ready', () => this.ready())
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
   * Writes without waiting and never fails: tracking must not hold up or endanger mail. A write that Redis refuses
   * is kept for replay when Redis is back (writes are idempotent upserts), within a bounded buffer.
   */
  submit(write: RecordWrite): void {
    if (this.closed) return
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

  private send(write: RecordWrite): void {
    this.record(write).catch((e: unknown) => {
      const message = e instanceof Error ? e.message : String(e)
      // Redis answered, but refused: replaying would fail the same way.
      if (isReplyError(e)) {
        this.log.warn(`Redis refused a tracking write for ${write.message.txn}: ${message}`)
        return
      }
      this.down(message)
      this.keep(write)
    })
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

  /** The writes held while Redis was away, handed over (to a store on another endpoint) and forgotten here. */
  takePending(): RecordWrite[] {
    const writes = this.pending
    this.pending = []
    return writes
  }

  async close(): Promise<void> {
    this.closed = true
    this.stopProbe()
    if (this.batchTimer) clearTimeout(this.batchTimer)
    this.sendBatch() // written before the connection is let go
    this.client.removeAllListeners('ready')
    this.client.removeAllListeners('close')
    await this.client.quit().catch(() => this.client.disconnect())
  }

  private keep(write: RecordWrite): void {
    this.pending.push(write)
    if (this.pending.length > this.opts.pendingLimit) {
      this.pending.shift()
      this.dropped++
    }
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
    const replay = this.pending
    this.pending = []
    const lost = this.dropped
    this.dropped = 0
    this.log.info(
      `Redis ready${replay.length ? `: replaying ${replay.length} tracking writes` : ''}${lost ? ` (${lost} dropped while it was away)` : ''}`,
    )
    for (const write of replay) this.submit(write)
  }
}
