// One delivery attempt's outcome as a trace write (issue 12): the same states and history the tracking records get
// (./outcome), for every recipient the attempt reports, with the trace's retention. Pure.
import type { TrackingNote } from '../model/note'
import { type TraceNote, type TraceWrite, traceHeader, traceView, traceWrite } from '../model/trace'
import { type AttemptResult, type OutcomeContext, outcomeWrite, type RecipientReport } from './outcome'

/** @param queueId the outbound hmail's `uuid.N`, indexed so Haraka's delivery log lines lead to the message. */
export function traceOutcomeWrite(
  note: TrackingNote | null,
  trace: TraceNote,
  result: AttemptResult,
  reports: readonly RecipientReport[],
  ctx: OutcomeContext & { retention: number; queueId: string },
): TraceWrite {
  const w = outcomeWrite(traceView(note, trace, ctx.retention), result, reports, ctx)
  return traceWrite(traceHeader(trace, ctx.txn, ctx.reportingMta), w.recipients, [ctx.queueId], ctx.now)
}
