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
import { isTrace, type StoreWrite, writeName } from './write'

/**
 * Writes per script call at most, and argument characters (about bytes) after which a call takes no further write:
 * together they bound how long one call holds Redis, which runs nothing else meanwhile. The script's work grows with
 * the bytes it decodes (each write's arguments, and each record it touches, once) more than with the write count:
 * 200 one-recipient delivery writes are some 80 KiB (measured 2.6 ms), so such batches stay whole, while arrival
 * writes of messages to a thousand recipients (about 100 KiB each) go three to a call (measured 8 to 11 ms): far
 * below command_timeout (500 ms by default) and close to the time of the calls the bound leaves whole.
 */
const MAX_WRITES_PER_CALL = 200
const MAX_BYTES_PER_CALL = 256 * 1024

/** `<prefix>envid:<decoded envid>`: readable with redis-cli, and one key per envid (AMB-7, AMB-37). */
export const envidKey = (prefix: string, envid: string) => `${prefix}envid:${envid}`

/** `<prefix>trace:{YYYYMMDDHH}:`: the common start of every key of one hour bucket (one Cluster slot). */
export const bucketKey = (prefix: string, bucket: string) => `${prefix}trace:{${bucket}}:`

/**
 * ms since the epoch as 13 digits (until the year 2286): in a shared index set's members (`<value>\0<arrival>\0<txn>`)
 * the arrival sorts as a number.
 */
const arrivalDigits = (ms: number) => String(Math.max(0, Math.floor(ms))).padStart(13, '0')

/** The key that decides a write's Cluster slot: the envid hash, or the trace bucket of the message's arrival. */
function slotKey(prefix: string, w: StoreWrite): string {
  return isTrace(w) ? bucketKey(prefix, bucketOf(w.header.arrival)) : envidKey(prefix, w.message.envid)
}

/** A write Redis refused (a ReplyError in the script: replaying it would fail the same way), and why. */
export interface Refusal {
  write: StoreWrite
  reason: string
}

/** One script call (every key in one Cluster slot): its writes in the order sent, its keys, each once, its arguments. */
export class WriteCall {
  readonly writes: StoreWrite[] = []
  readonly keys: string[] = []
  private readonly positions = new Map<string, string>()
  readonly args: string[]
  /** Characters of the writes' arguments so far. */
  bytes = 0

  constructor(historyLimit: number) {
    this.args = [String(historyLimit)]
  }

  /** Adds one write: its kind, the number of its arguments (the script skips a refused write's rest), them. */
  add(w: StoreWrite, kind: 'e' | 't', encode: () => void): void {
    this.writes.push(w)
    const at = this.args.length
    this.args.push(kind, '')
    encode()
    this.args[at + 1] = String(this.args.length - at - 2)
    for (let i = at + 2; i < this.args.length; i++) this.bytes += (this.args[i] as string).length
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
   * The writes encoded in calls of one Cluster slot each (on standalone Redis and Sentinel, one slot), in submission
   * order within a slot, each call at most MAX_WRITES_PER_CALL writes and closed once it has MAX_BYTES_PER_CALL.
   */
  calls(writes: readonly StoreWrite[]): WriteCall[] {
    const slotOf = (w: StoreWrite) => (this.cluster ? calculateSlot(slotKey(this.opts.prefix, w)) : 0)
    const calls: WriteCall[] = []
    for (const group of groupsBy(writes, slotOf, MAX_WRITES_PER_CALL)) {
      let call = new WriteCall(this.opts.historyLimit)
      for (const w of group) {
        if (call.bytes >= MAX_BYTES_PER_CALL) {
          calls.push(call)
          call = new WriteCall(this.opts.historyLimit)
        }
        if (isTrace(w)) call.add(w, 't', () => this.encodeTrace(call, w))
        else call.add(w, 'e', () => this.encodeEnvid(call, w))
      }
      calls.push(call)
    }
    return calls
  }

  /**
   * Runs one call in one atomic round trip. Resolves with the writes Redis refused (the others are applied); rejects
   * when Redis fails (a lost connection, a timeout: nothing known about what was applied), or refuses the call as a
   * whole (a ReplyError: a script error, out of memory).
   */
  async apply(call: WriteCall): Promise<Refusal[]> {
    // One array, flattened once by ioredis: a batch has hundreds of arguments.
    const refused = await this.client[WRITE_COMMAND](call.keys.length, call.keys.concat(call.args))
    const refusals: Refusal[] = []
    for (let i = 0; i + 1 < refused.length; i += 2) {
      const write = call.writes[Number(refused[i]) - 1]
      if (write) refusals.push({ write, reason: String(refused[i + 1]) })
    }
    return refusals
  }

  /** Applies the writes in as few round trips as the topology allows; rejects when Redis fails or refuses one. */
  async send(writes: readonly StoreWrite[]): Promise<void> {
    for (const call of this.calls(writes)) {
      const [refusal] = await this.apply(call)
      if (refusal) throw new Error(`Redis refused a ${writeName(refusal.write)}: ${refusal.reason}`)
    }
  }

  private encodeEnvid(call: WriteCall, w: RecordWrite): void {
    const m = w.message
    call.args.push(call.key(envidKey(this.opts.prefix, m.envid)), String(w.now), m.txn, encodeMessage(m))
    call.recipients(w.recipients)
  }

  private encodeTrace(call: WriteCall, w: TraceWrite): void {
    const base = bucketKey(this.opts.prefix, bucketOf(w.header.arrival))
    const h = w.header
    call.args.push(
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
