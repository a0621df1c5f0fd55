// The tracking store: owns every Redis key and script of this plugin (README "Redis keys"). Nothing else talks to
// Redis. All data of one envid lives in one hash, so every operation is a single-key, single-round-trip command that
// works unchanged on standalone Redis, Sentinel and Cluster.
import { ReplyError } from 'ioredis'
import type { RecordWrite, StoredMessage, StoredRecipient } from '../model/records'
import type { TraceWrite } from '../model/trace'
import { decodeMessage, decodeRecipient } from './codec'
import type { RedisClient } from './redis'
import { RECORD_COMMAND, RECORD_SCRIPT } from './scripts'
import { TraceStore } from './trace'

/** A tracking write (envid records, answered over MTQP) or an operator trace write (src/store/trace.ts). */
export type StoreWrite = RecordWrite | TraceWrite

const isTrace = (w: StoreWrite): w is TraceWrite => 'header' in w

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
  private batch: StoreWrite[] = []
  private batchTimer: NodeJS.Timeout | null = null
  private pending: StoreWrite[] = []
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
  submit(write: StoreWrite): void {
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

  private send(write: StoreWrite): void {
    ;(isTrace(write) ? this.trace.record(write) : this.record(write)).catch((e: unknown) => {
      const message = e instanceof Error ? e.message : String(e)
      // Redis answered, but refused: replaying would fail the same way.
      if (isReplyError(e)) {
        const txn = isTrace(write) ? write.header.txn : write.message.txn
        this.log.warn(`Redis refused a ${isTrace(write) ? 'trace' : 'tracking'} write for ${txn}: ${message}`)
        return
      }
      this.down(message)
      this.keep(write)
    })
  }

  /** Every stored message with this (decoded) envid, in one round trip; rejects when Redis fails. */
  async lookup(envid: string): Promise<StoredMessage[]> {
    const fields = await this.client.hgetall(this.key(envid))
    const messages = new Map<string, StoredMessage>()
    const recipients: Array<[string, StoredRecipient]> = []
    for (const [field, json] of Object.entries(fields)) {
      if (field.startsWith('m:')) {
        const m = decodeMessage(json)
        if (m && m.txn === field.slice(2)) messages.set(m.txn, { ...m, recipients: [] })
      } else if (field.startsWith('r:')) {
        const txn = field.slice(2, field.indexOf(':', 2))
        const r = decodeRecipient(json)
        if (r) recipients.push([txn, r])
      }
    }
    for (const [txn, r] of recipients) messages.get(txn)?.recipients.push(r)
    return [...messages.values()].sort((a, b) => a.arrival - b.arrival)
  }

  /** The writes held while Redis was away, handed over (to a store on another endpoint) and forgotten here. */
  takePending(): StoreWrite[] {
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

  private keep(write: StoreWrite): void {
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
    const traces = replay.filter(isTrace).length
    const counts = [
      replay.length > traces ? `${replay.length - traces} tracking writes` : '',
      traces ? `${traces} trace writes` : '',
    ].filter(Boolean)
    this.log.info(
      `Redis ready${replay.length ? `: replaying ${counts.join(' and ')}` : ''}${lost ? ` (${lost} dropped while it was away)` : ''}`,
    )
    for (const write of replay) this.submit(write)
  }
}
