// Sends store writes to Redis in as few calls as the topology allows: the writes of one Cluster slot (all of them,
// on standalone Redis and Sentinel) go as one WRITE_SCRIPT call. A call per write cost the SMTP path more than
// building the writes: an ioredis command with its timer and promises, and Redis running a script per write.
import calculateSlot from 'cluster-key-slot'
import type { RecipientWrite, RecordWrite } from '../model/records'
import { bucketOf, sharedTerm, type TraceWrite, writeTerms } from '../model/trace'
import { groupsBy } from '../util/groups'
import { encodeMessage, encodeRecipient, encodeTraceHeader } from './codec'
import type { RedisClient } from './redis'
import { WRITE_COMMAND, WRITE_SCRIPT } from './scripts'
import { isTrace, type StoreWrite } from './write'

/** Writes per script call at most: bounds how long one call holds Redis (a few ms). */
const MAX_WRITES_PER_CALL = 200

/** `<prefix>envid:<decoded envid>`: readable with redis-cli, and one key per envid (AMB-7, AMB-37). */
export const envidKey = (prefix: string, envid: string) => `${prefix}envid:${envid}`

/** `<prefix>trace:{YYYYMMDDHH}:`: the common start of every key of one hour bucket (one Cluster slot). */
export const bucketKey = (prefix: string, bucket: string) => `${prefix}trace:{${bucket}}:`

/**
 * ms since the epoch as 13 digits (until the year 2286): in a shared index set's members (`<value>\0<arrival>\0<txn>`)
 * the arrival sorts as a number.
 */
export const arrivalDigits = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(13, '0')

/** The key that decides a write's Cluster slot: the envid hash, or the trace bucket of the message's arrival. */
function slotKey(prefix: string, w: StoreWrite): string {
  return isTrace(w) ? bucketKey(prefix, bucketOf(w.header.arrival)) : envidKey(prefix, w.message.envid)
}

/** One script call being built: its keys, each once, and its arguments. */
class Call {
  readonly keys: string[] = []
  private readonly positions = new Map<string, string>()
  readonly args: string[]

  constructor(historyLimit: number) {
    this.args = [String(historyLimit)]
  }

  /** The key's position in KEYS (1-based, as Lua counts), adding it on first use. */
  key(k: string): string {
    let p = this.positions.get(k)
    if (p === undefined) {
      this.keys.push(k)
      p = String(this.keys.length)
      this.positions.set(k, p)
    }
    return p
  }

  /** The recipients: each its key, its format-2 elements to create it if absent, its event. */
  recipients(rs: readonly RecipientWrite[]): void {
    this.args.push(String(rs.length))
    for (const r of rs)
      this.args.push(r.key, encodeRecipient(r.key, r.base), r.event ? JSON.stringify(r.event) : '')
  }
}

export class WriteSender {
  private readonly cluster: boolean

  constructor(
    private readonly client: RedisClient,
    private readonly opts: { prefix: string; historyLimit: number },
  ) {
    // ioredis sends EVALSHA, and the script itself on a connection that does not know it yet (NOSCRIPT).
    client.defineCommand(WRITE_COMMAND, { lua: WRITE_SCRIPT })
    this.cluster = client.isCluster
  }

  /**
   * The writes in groups of one Cluster slot each (on standalone Redis and Sentinel, one group), in submission
   * order within a group, at most MAX_WRITES_PER_CALL per group.
   */
  groups(writes: readonly StoreWrite[]): StoreWrite[][] {
    const slotOf = (w: StoreWrite) => (this.cluster ? calculateSlot(slotKey(this.opts.prefix, w)) : 0)
    return groupsBy(writes, slotOf, MAX_WRITES_PER_CALL)
  }

  /** Applies one group (every key in one slot) in one atomic round trip; rejects when Redis fails. */
  async send(group: readonly StoreWrite[]): Promise<void> {
    const call = new Call(this.opts.historyLimit)
    for (const w of group) {
      if (isTrace(w)) this.encodeTrace(call, w)
      else this.encodeEnvid(call, w)
    }
    // One array, flattened once by ioredis: a batch has hundreds of arguments.
    await this.client[WRITE_COMMAND](call.keys.length, call.keys.concat(call.args))
  }

  private encodeEnvid(call: Call, w: RecordWrite): void {
    const m = w.message
    call.args.push('e', call.key(envidKey(this.opts.prefix, m.envid)), String(w.now), m.txn, encodeMessage(m))
    call.recipients(w.recipients)
  }

  private encodeTrace(call: Call, w: TraceWrite): void {
    const base = bucketKey(this.opts.prefix, bucketOf(w.header.arrival))
    const h = w.header
    call.args.push(
      't',
      call.key(`${base}m:${h.txn}`),
      call.key(`${base}t`),
      call.key(`${base}c`),
      String(w.now),
      h.txn,
      encodeTraceHeader(h),
      arrivalDigits(h.arrival),
      String(w.keepUntil),
      String(w.queueIds.length),
    )
    for (const id of w.queueIds) call.args.push(id)
    const sets: string[] = []
    const shared: string[] = []
    for (const t of writeTerms(w)) {
      const kv = sharedTerm(t)
      if (kv) shared.push(call.key(`${base}u:${kv[0]}`), kv[1])
      else sets.push(call.key(`${base}i:${t}`))
    }
    call.args.push(String(sets.length), ...sets, String(shared.length / 2), ...shared)
    call.recipients(w.recipients)
  }
}
