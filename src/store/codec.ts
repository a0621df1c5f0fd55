// Records in Redis: one hash field per message (its transaction id), its value a JSON array in the fixed order below
// (format 2). Positions instead of property names, no copy of what the key or field already says: a tracked
// 2-recipient message takes under 1 KiB of Redis (README "Redis keys"). The Lua write script (scripts.ts) builds
// the arrays from the parts encodeMessage and encodeRecipient send it (fewer bytes to Redis than object JSON). Decoding checks every element: a reply from Redis is input like any other, and a value written by
// another version or by hand is skipped (a recipient or attempt alone where it can be), never crashes a TRACK.
//
//   message    [2, envidXtext or 0 (= the envid), certifier, arrival, reportingMta, requestedTimeout, retention, ret,
//               [recipient...]]
//   recipient  [key, address or 0 (= the key), orcpt or 1 (= "rfc822;" address), notify, action, status, remoteMta,
//               lastAttempt, willRetryUntil, keepUntil, updated, [attempt...]]
//   attempt    [id ("~" stands for the transaction id it starts with), at, action, status, host, code, reply]
// Absent values are null; Lua's cjson writes an empty array as {}, read as [].

import type { Attempt, MessageHeader, StoredMessage, StoredRecipient } from '../model/records'
import { type LoweredRetention, lowerRetention, type RetentionCut } from '../model/retention'
import type { TraceHeader } from '../model/trace'
import { isAction } from '../tsn/types'

/** The first element of a message value: values of another format are skipped. */
export const RECORD_FORMAT = 2

const isStr = (v: unknown): v is string => typeof v === 'string'
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const strOrNull = (v: unknown): v is string | null => v === null || isStr(v)
const numOrNull = (v: unknown): v is number | null => v === null || isNum(v)
/** An array, or cjson's {} for an empty one. */
const list = (v: unknown): unknown[] | null =>
  Array.isArray(v) ? v : typeof v === 'object' && v !== null && Object.keys(v).length === 0 ? [] : null

function parseJson(json: string): unknown {
  try {
    return JSON.parse(json)
  } catch {
    return null
  }
}

/**
 * The message stored in hash field `txn` of the key of `envid` (decoded), or null when the value is not a
 * format-2 message. Recipients and attempts that do not decode are left out.
 */
export function decodeMessage(txn: string, envid: string, json: string): StoredMessage | null {
  return decodeMessageElements(txn, envid, parseJson(json))?.message ?? null
}

/** A parsed format-2 message decoded, with the raw array of each recipient it kept, in the same order. */
function decodeMessageElements(
  txn: string,
  envid: string,
  v: unknown,
): { message: StoredMessage; raw: unknown[][] } | null {
  if (!Array.isArray(v) || v.length !== 9 || v[0] !== RECORD_FORMAT) return null
  const [, xtext, certifier, arrival, reportingMta, requestedTimeout, retention, ret, rcpts] = v
  if ((xtext !== 0 && !isStr(xtext)) || !isStr(certifier) || !isNum(arrival) || !isStr(reportingMta))
    return null
  if (!numOrNull(requestedTimeout) || !isNum(retention) || !strOrNull(ret)) return null
  const recipients: StoredRecipient[] = []
  const raw: unknown[][] = []
  for (const r of list(rcpts) ?? []) {
    const decoded = Array.isArray(r) && r.length === 12 ? decodeRecipientElements(txn, r) : null
    if (decoded !== null) {
      recipients.push(decoded)
      raw.push(r as unknown[])
    }
  }
  const message: StoredMessage = {
    txn,
    envidXtext: xtext === 0 ? envid : xtext,
    envid,
    certifier,
    arrival,
    reportingMta,
    requestedTimeout,
    retention,
    ret,
    recipients,
  }
  return { message, raw }
}

/**
 * MTRK-11: the message stored in field `txn` with its retention and keep times lowered (model/retention.ts
 * lowerRetention), rewritten in place so every other element stays as stored; `json` null when nothing changed.
 * Null when the value is not a format-2 message. A recipient that does not decode is left as it is: TRACK skips it.
 */
export function lowerStoredRetention(
  txn: string,
  envid: string,
  json: string,
  cut: RetentionCut,
): { lowered: LoweredRetention; json: string | null } | null {
  const v = parseJson(json)
  const decoded = decodeMessageElements(txn, envid, v)
  if (decoded === null) return null
  const lowered = lowerRetention(decoded.message, cut)
  if (!lowered.changed) return { lowered, json: null }
  ;(v as unknown[])[6] = lowered.retention
  decoded.raw.forEach((r, i) => {
    r[9] = lowered.keeps[i]
  })
  return { lowered, json: JSON.stringify(v) }
}

/** A format-2 recipient array (12 elements, its key first), or null when its values do not have their types. */
function decodeRecipientElements(txn: string, r: unknown[]): StoredRecipient | null {
  const [key, address, orcpt] = r
  if (!isStr(key)) return null
  const rcpt = address === 0 ? key : address
  const history = (list(r[11]) ?? []).map((a) =>
    Array.isArray(a) && a.length === 7
      ? checkedAttempt(txn, {
          id: a[0],
          at: a[1],
          action: a[2],
          status: a[3],
          host: a[4],
          code: a[5],
          reply: a[6],
        })
      : null,
  )
  return checkedRecipient(
    {
      address: rcpt,
      orcpt: orcpt === 1 && isStr(rcpt) ? `rfc822;${rcpt}` : orcpt,
      notify: r[3],
      action: r[4],
      status: r[5],
      remoteMta: r[6],
      lastAttempt: r[7],
      willRetryUntil: r[8],
      keepUntil: r[9],
      updated: r[10],
    },
    history,
  )
}

/** A message's elements 1..7 (envidXtext or 0 .. ret), for the write script to store when the field is absent. */
export function encodeMessage(m: MessageHeader): string {
  const xtext = m.envidXtext === m.envid ? 0 : m.envidXtext
  return JSON.stringify([
    xtext,
    m.certifier,
    m.arrival,
    m.reportingMta,
    m.requestedTimeout,
    m.retention,
    m.ret,
  ])
}

/** A recipient's elements 1..10 (address or 0 .. updated) under `key`, for the write script when it has none yet. */
export function encodeRecipient(key: string, r: StoredRecipient): string {
  const orcpt = r.orcpt === `rfc822;${r.address}` ? 1 : r.orcpt
  return JSON.stringify([
    r.address === key ? 0 : r.address,
    orcpt,
    r.notify,
    r.action,
    r.status,
    r.remoteMta,
    r.lastAttempt,
    r.willRetryUntil,
    r.keepUntil,
    r.updated,
  ])
}

type Unchecked<T> = { [K in keyof T]-?: unknown }

/** A recipient whose values all have their types; its attempts that did not (null) are left out. */
function checkedRecipient(
  r: Unchecked<Omit<StoredRecipient, 'history'>>,
  history: Array<Attempt | null>,
): StoredRecipient | null {
  const {
    address,
    orcpt,
    notify,
    action,
    status,
    remoteMta,
    lastAttempt,
    willRetryUntil,
    keepUntil,
    updated,
  } = r
  if (!isStr(address) || !strOrNull(orcpt) || !strOrNull(notify) || !isStr(action) || !isAction(action))
    return null
  if (!isStr(status) || !strOrNull(remoteMta) || !numOrNull(lastAttempt) || !numOrNull(willRetryUntil))
    return null
  if (!isNum(keepUntil) || !isNum(updated)) return null
  return {
    address,
    orcpt,
    notify,
    action,
    status,
    remoteMta,
    lastAttempt,
    willRetryUntil,
    keepUntil,
    updated,
    history: history.filter((a) => a !== null),
  }
}

/**
 * An attempt whose values have their types (host, code and reply absent or null when unknown), or null. `txn`: the
 * transaction id a leading "~" of the id stands for (format 2), null where ids are stored whole.
 */
function checkedAttempt(txn: string | null, a: Unchecked<Attempt>): Attempt | null {
  const { id, at, action, status, host, code, reply } = a
  if (!isStr(id) || !isNum(at) || !isStr(action) || !isAction(action) || !isStr(status)) return null
  const out: Attempt = { id: txn !== null && id.startsWith('~') ? txn + id.slice(1) : id, at, action, status }
  if (isStr(host)) out.host = host
  if (isStr(code)) out.code = code
  if (isStr(reply)) out.reply = reply
  return out
}

// ---------------------------------------------------------------------------------------------------------------
// The operator trace's records (./trace): in the message hash `<bucket>m:<txn>`, field `h` the header and field
// `r:<key>` each recipient. Trace format 2 (since the SMTP path's second push) is positional like the envid records:
//   header     [2, arrival, from, messageId, envid, tracked (1 or 0), clientIp, helo, reportingMta]
//   recipient  the envid record's recipient without its key (the field names it): [address or 0, orcpt or 1, notify,
//              action, status, remoteMta, lastAttempt, willRetryUntil, keepUntil, updated, [attempt...]]
// Records written before it are object JSON (the header with txn, a recipient with a `history` of attempt objects
// whose ids are whole); both are read, and the write script turns an object recipient into an array when it next
// changes it. Such records expire within [trace] retention.

/** The first element of a trace header array. */
export const TRACE_FORMAT = 2

/** A trace header as the write script stores it (written once per message). */
export function encodeTraceHeader(h: TraceHeader): string {
  return JSON.stringify([
    TRACE_FORMAT,
    h.arrival,
    h.from,
    h.messageId,
    h.envid,
    h.tracked ? 1 : 0,
    h.clientIp,
    h.helo,
    h.reportingMta,
  ])
}

/** The header of the trace message `txn` (either format), or null when it does not decode. */
export function decodeTraceHeader(txn: string, json: string): TraceHeader | null {
  const v = parseJson(json)
  if (Array.isArray(v)) {
    if (v.length !== 9 || v[0] !== TRACE_FORMAT) return null
    const [, arrival, from, messageId, envid, tracked, clientIp, helo, reportingMta] = v
    if (!isNum(arrival) || !isStr(from) || (tracked !== 0 && tracked !== 1) || !isStr(reportingMta))
      return null
    if (!strOrNull(messageId) || !strOrNull(envid) || !strOrNull(clientIp) || !strOrNull(helo)) return null
    return { txn, arrival, from, messageId, envid, tracked: tracked === 1, clientIp, helo, reportingMta }
  }
  if (typeof v !== 'object' || v === null) return null
  const o = v as Record<string, unknown>
  const { arrival, from, messageId, envid, tracked, clientIp, helo, reportingMta } = o
  if (!isNum(arrival) || !isStr(from) || typeof tracked !== 'boolean' || !isStr(reportingMta)) return null
  if (!strOrNull(messageId) || !strOrNull(envid) || !strOrNull(clientIp) || !strOrNull(helo)) return null
  return { txn, arrival, from, messageId, envid, tracked, clientIp, helo, reportingMta }
}

/** The recipient `key` of the trace message `txn` (either format), or null when it does not decode. */
export function decodeTraceRecipient(txn: string, key: string, json: string): StoredRecipient | null {
  const v = parseJson(json)
  if (Array.isArray(v)) return v.length === 11 ? decodeRecipientElements(txn, [key, ...v]) : null
  if (typeof v !== 'object' || v === null) return null
  const r = v as Record<string, unknown>
  const history = (list(r.history) ?? []).map((a) =>
    typeof a === 'object' && a !== null ? checkedAttempt(null, a as Unchecked<Attempt>) : null,
  )
  return checkedRecipient(r as Unchecked<Omit<StoredRecipient, 'history'>>, history)
}
