// What the store writes: the envid records answered over MTQP, or the operator trace. Both go through the same
// batching, outage journal and replay.
import type { RecordWrite } from '../model/records'
import type { TraceWrite } from '../model/trace'

/** A tracking write (envid records, answered over MTQP) or an operator trace write (./trace). */
export type StoreWrite = RecordWrite | TraceWrite

export const isTrace = (w: StoreWrite): w is TraceWrite => 'header' in w

/** What a log line calls the write: its kind and its transaction. */
export const writeName = (w: StoreWrite): string =>
  isTrace(w) ? `trace write for ${w.header.txn}` : `tracking write for ${w.message.txn}`
