// From the answers of every hop to one timeline per recipient: each step one MTA's report about that recipient,
// in path order, and where tracking stops and why. Pure.
//
// Decisions:
// - A `transferred` step continues in a part whose Reporting-MTA is its Remote-MTA (MTQPC-6), found in any answer:
//   chained parts of the same answer (MTQP-33) or the answer of the server asked about that host. When no part
//   carries that name, the parts of the server asked about the host are used: a relay's Reporting-MTA name need
//   not be the name its neighbour connected to.
// - Inside such a part, the recipient is the group with the same Original-Recipient (ORCPT travels unchanged,
//   MTRK-17) or the same Final-Recipient; case is ignored. Several matches (an alias fanning out) fork the
//   timeline, so each timeline is one path from the first MTA to one end.
// - Groups no other group leads to start timelines, so a gateway that reports inner recipients only in chained
//   parts (RFC 3887 examples #10-#12) still has them shown; groups caught in a cycle start one too.
// - Timelines are sorted by recipient (forks keep their order): servers list recipients in no particular order.
import { describeStatus } from '../tsn/status-text'
import type { Action, RecipientStatus, TrackingStatus, TypedValue } from '../tsn/types'
import { type Hop, hostKey } from './follow'
import { addressText } from './types'

/** Where a recipient's message is, as far as tracking can tell. */
export type RecipientState = 'delivered' | 'relayed' | 'in-transit' | 'failed' | 'unknown'

export interface TimelineStep {
  /** The hop whose answer held this report; its server may not be the reporting MTA (chaining, MTQP-33). */
  hop: number
  reportingMta: TypedValue
  arrivalDate: Date
  originalRecipient: TypedValue
  finalRecipient: TypedValue
  action: Action
  status: string
  statusComment?: string
  /** The meaning of the status code (RFC 3463, RFC 3886 §3.3.4). */
  statusText: string
  remoteMta?: TypedValue
  lastAttemptDate?: Date
  willRetryUntil?: Date
  /** Why, as the reporting MTA heard it: its Diagnostic-Code (AMB-40), e.g. `smtp; 550 5.1.1 No such user`. */
  diagnostic?: string
}

export interface RecipientTimeline {
  /** The Original-Recipient of the first step. */
  recipient: TypedValue
  steps: TimelineStep[]
  state: RecipientState
  /** Where tracking stops and why, in one sentence. */
  end: string
}

interface PartRef {
  id: number
  hop: number
  part: TrackingStatus
}

interface Group {
  id: number
  ref: PartRef
  recipient: RecipientStatus
}

/** Aggregate precedence: what needs attention first. A script waiting for delivery polls while 'in-transit'. */
const PRECEDENCE: readonly RecipientState[] = ['failed', 'in-transit', 'unknown', 'relayed', 'delivered']

/** The most pressing of some states; 'unknown' for none. */
export function mostPressing(states: readonly RecipientState[]): RecipientState {
  return PRECEDENCE.find((s) => states.includes(s)) ?? 'unknown'
}

/** The state of a whole message: the most pressing of its recipients'; 'unknown' when nothing is known. */
export function overallState(timelines: readonly RecipientTimeline[]): RecipientState {
  return mostPressing(timelines.map((t) => t.state))
}

export function buildTimelines(hops: readonly Hop[]): RecipientTimeline[] {
  return new Builder(hops).build()
}

class Builder {
  readonly #groups: Group[] = []
  readonly #byReporter = new Map<string, PartRef[]>()
  readonly #partsOfHop = new Map<number, PartRef[]>()
  /** The first hop that asked about each host (hostKey). */
  readonly #hopOfHost = new Map<string, Hop>()
  readonly #visited = new Set<number>()
  readonly #timelines: RecipientTimeline[] = []

  constructor(hops: readonly Hop[]) {
    let partId = 0
    for (const hop of hops) {
      const key = hostKey(hop.target.host)
      if (hop.target.kind === 'mta' && !this.#hopOfHost.has(key)) this.#hopOfHost.set(key, hop)
      if (hop.outcome.kind !== 'answered') continue
      const refs = hop.outcome.parts.map((part) => ({ id: partId++, hop: hop.id, part }))
      this.#partsOfHop.set(hop.id, refs)
      for (const ref of refs) {
        const reporter = hostKey(ref.part.reportingMta.value)
        this.#byReporter.set(reporter, [...(this.#byReporter.get(reporter) ?? []), ref])
        for (const recipient of ref.part.recipients)
          this.#groups.push({ id: this.#groups.length, ref, recipient })
      }
    }
  }

  build(): RecipientTimeline[] {
    const led = new Set(this.#groups.flatMap((g) => this.#next(g, new Set([g.ref.id])).map((n) => n.id)))
    for (const g of this.#groups) if (!led.has(g.id)) this.#walk(g, [], new Set())
    for (const g of this.#groups) if (!this.#visited.has(g.id)) this.#walk(g, [], new Set())
    const key = (t: RecipientTimeline) => t.recipient.value.toLowerCase()
    return this.#timelines.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0))
  }

  /** The parts that may hold the continuation of a step transferred to `host`. */
  #candidates(host: string): PartRef[] {
    const key = hostKey(host)
    const named = this.#byReporter.get(key)
    if (named !== undefined) return named
    const hop = this.#hopOfHost.get(key)
    return hop === undefined ? [] : (this.#partsOfHop.get(hop.id) ?? [])
  }

  /** The groups a transferred group continues in, outside the parts already on its path. */
  #next(g: Group, path: ReadonlySet<number>): Group[] {
    const remote = g.recipient.remoteMta
    if (g.recipient.action !== 'transferred' || remote === undefined) return []
    const parts = new Set(this.#candidates(remote.value).filter((p) => !path.has(p.id)))
    return this.#groups.filter((c) => parts.has(c.ref) && sameRecipient(c.recipient, g.recipient))
  }

  #walk(g: Group, before: TimelineStep[], path: ReadonlySet<number>): void {
    this.#visited.add(g.id)
    const steps = [...before, step(g)]
    const here = new Set(path).add(g.ref.id)
    const r = g.recipient
    if (r.action !== 'transferred') {
      this.#end(steps, ...finalEnd(g))
      return
    }
    const next = this.#next(g, here)
    for (const n of next) this.#walk(n, steps, here)
    if (next.length === 0) this.#end(steps, 'unknown', this.#lostAfter(g, here))
  }

  /** Why a transferred recipient cannot be followed further. */
  #lostAfter(g: Group, path: ReadonlySet<number>): string {
    const reporter = g.ref.part.reportingMta.value
    const remote = g.recipient.remoteMta
    if (remote === undefined) return `${reporter} passed the message on without naming the next MTA`
    const host = remote.value
    if (hostKey(host) === hostKey(reporter) && this.#candidates(host).every((p) => path.has(p.id))) {
      return `${reporter} passed the message on inside its own network and does not name the next host`
    }
    const candidates = this.#candidates(host)
    if (candidates.some((p) => path.has(p.id))) return `the message came back to ${host}: a loop`
    if (candidates.length > 0)
      return `${host} answered, but its report does not mention ${addressText(g.recipient.finalRecipient)}`
    if (remote.type !== 'dns') {
      return `the next MTA is named "${remote.type}; ${host}", not a DNS name, so its tracking server cannot be found`
    }
    const hop = this.#hopOfHost.get(hostKey(host))
    if (hop === undefined) return `${host} was not asked`
    const o = hop.outcome
    switch (o.kind) {
      case 'answered':
        return `${host} answered without any report`
      case 'skipped':
        return o.why === 'loop'
          ? `the message came back to ${host}: a loop`
          : `${host} was not asked: ${o.reason}`
      case 'failed':
        if (o.failure === 'noinfo') {
          return `${host} has no information about this message: it may not have arrived there yet, or its data has expired`
        }
        if (o.failure === 'temporary') return `${host} cannot answer now; try again later (${o.reason})`
        if (o.failure === 'aborted') return `${host} did not answer in time`
        return `the tracking server of ${host} could not be asked: ${o.reason}`
    }
  }

  #end(steps: TimelineStep[], state: RecipientState, end: string): void {
    this.#timelines.push({ recipient: steps[0]!.originalRecipient, steps, state, end })
  }
}

function sameTyped(a: TypedValue, b: TypedValue): boolean {
  return a.type.toLowerCase() === b.type.toLowerCase() && a.value.toLowerCase() === b.value.toLowerCase()
}

function sameRecipient(a: RecipientStatus, b: RecipientStatus): boolean {
  return sameTyped(a.originalRecipient, b.originalRecipient) || sameTyped(a.finalRecipient, b.finalRecipient)
}

function step(g: Group): TimelineStep {
  const { part, hop } = g.ref
  const r = g.recipient
  const s: TimelineStep = {
    hop,
    reportingMta: part.reportingMta,
    arrivalDate: part.arrivalDate,
    originalRecipient: r.originalRecipient,
    finalRecipient: r.finalRecipient,
    action: r.action,
    status: r.status,
    statusText: describeStatus(r.status),
  }
  if (r.statusComment !== undefined) s.statusComment = r.statusComment
  if (r.remoteMta !== undefined) s.remoteMta = r.remoteMta
  if (r.lastAttemptDate !== undefined) s.lastAttemptDate = r.lastAttemptDate
  if (r.willRetryUntil !== undefined) s.willRetryUntil = r.willRetryUntil
  const diagnostic = r.extensions?.find((e) => e.name.toLowerCase() === 'diagnostic-code')
  if (diagnostic !== undefined) s.diagnostic = diagnostic.value
  return s
}

/** The end of a timeline at a step that is not `transferred` (RFC 3886 §3.3.3-§3.3.7). */
function finalEnd(g: Group): [RecipientState, string] {
  const reporter = g.ref.part.reportingMta.value
  const r = g.recipient
  const meaning = `${r.status} ${describeStatus(r.status)}${r.statusComment === undefined ? '' : ` (${r.statusComment})`}`
  switch (r.action) {
    case 'delivered':
      return ['delivered', `${reporter} delivered the message to ${addressText(r.finalRecipient)}`]
    case 'expanded':
      return [
        'delivered',
        `${reporter} delivered the message to a list or alias that expands to several recipients; tracking stops there (RFC 3885 §3.4)`,
      ]
    case 'relayed':
      return [
        'relayed',
        `${reporter} relayed the message to ${r.remoteMta?.value ?? 'a mailer'}, which does not support tracking (${meaning}); nothing more can be learned`,
      ]
    case 'delayed':
      return ['in-transit', `the message is queued at ${reporter}, which keeps trying (${meaning})`]
    case 'failed':
      return ['failed', `${reporter} gave up: ${meaning}`]
    case 'opaque':
      return ['unknown', `${reporter} does not disclose the status of this message (opaque)`]
    case 'transferred':
      return ['unknown', `${reporter} transferred the message`]
  }
}
