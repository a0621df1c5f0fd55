// Connection limits of the MTQP server (MTQP-29): which address a per-client limit counts, and which connection
// gives up its slot when the table is full. The failed-TRACK budget itself lives in Redis, shared by every node
// (src/store/failed-track-budget.ts). Pure: the clock is a parameter.
import { isIPv4, isIPv6 } from 'node:net'

/**
 * The key a per-client limit counts: an IPv4 address as is (also when IPv4-mapped), an IPv6 address by its /64,
 * because one IPv6 client commonly holds a whole /64 and could otherwise multiply its budget at will.
 */
export function clientKey(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/i.exec(address)
  if (mapped !== null && isIPv4(mapped[1]!)) return mapped[1]!
  const bare = address.replace(/%.*$/, '')
  if (!isIPv6(bare)) return address
  const [head = '', tail] = bare.split('::')
  const groups = (part: string | undefined) => (part ? part.split(':') : [])
  const left = groups(head)
  // Only the first four groups matter, and an embedded IPv4 tail (two groups' worth) never reaches them.
  const right = tail === undefined ? [] : groups(tail).flatMap((g) => (g.includes('.') ? ['0', '0'] : [g]))
  const full = [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right]
  return `${full
    .slice(0, 4)
    .map((g) => Number.parseInt(g, 16).toString(16))
    .join(':')}::/64`
}

/** What the server knows of an open connection when choosing one to close. */
export interface SlotUse {
  /** Monotonic ms of the last complete command line, or of the connection's start. */
  lastCommand: number
  /** A command is being answered (a TRACK waiting for the store, answers of a pipelined batch). */
  busy: boolean
}

/**
 * The connection to close so that a newcomer gets a slot when every slot is taken: the one idle longest, among
 * those that are not answering anything and have not completed a command for `idleMs` (slow clients trickling
 * bytes, or clients that hold a slot and do nothing). Undefined when every connection is in active use.
 */
export function idlestSlot<T extends SlotUse>(
  slots: Iterable<T>,
  now: number,
  idleMs: number,
): T | undefined {
  let pick: T | undefined
  for (const slot of slots) {
    if (slot.busy || now - slot.lastCommand < idleMs) continue
    if (pick === undefined || slot.lastCommand < pick.lastCommand) pick = slot
  }
  return pick
}
