// Records in Redis: one hash field per message (its transaction id), its value a JSON array in the fixed order below
// (format 2). Positions instead of property names, no copy of what the key or field already says: a tracked
// 2-recipient message takes under 1 KiB of Redis (README "Redis keys"). The Lua write script (scripts.ts) builds
// the same arrays. Decoding checks every element: a reply from Redis is input like any other, and a value written by
// another version or by hand is skipped (a recipient or attempt alone where it can be), never crashes a TRACK.
//
//   message    [2, envidXtext or 0 (= the envid), certifier, arrival, reportingMta, requestedTimeout, retention, ret,
//               [recipient...]]
//   recipient  [key, address or 0 (= the key), orcpt or 1 (= "rfc822;" address), notify, action, status, remoteMta,
//               lastAttempt, willRetryUntil, keepUntil, updated, [attempt...]]
//   attempt    [id ("~" stands for the transaction id it starts with), at, action, status, host, code, reply]
// Absent values are null; Lua's cjson writes an empty array as {}, read as [].

import type { Attempt, StoredMessage, StoredRecipient } from '../model/records'
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

/**
 * The message stored in hash field `txn` of the key of `envid` (decoded), or null when the value is not a
 * format-2 message. Recipients and attempts that do not decode are left out.
 */
export function decodeMessage(txn: string, envid: string, json: string): StoredMessage | null {
  let v: unknown
  try {
    v = JSON.parse(json)
  } catch {
    return null
  }
  if (!Array.isArray(v) || v.length !== 9 || v[0] !== RECORD_FORMAT) return null
  const [, xtext, certifier, arrival, reportingMta, requestedTimeout, retention, ret, rcpts] = v
  if ((xtext !== 0 && !isStr(xtext)) || !isStr(certifier) || !isNum(arrival) || !isStr(reportingMta))
    return null
  if (!numOrNull(requestedTimeout) || !isNum(retention) || !strOrNull(ret)) return null
  const recipients: StoredRecipient[] = []
  for (const r of list(rcpts) ?? []) {
    const decoded = recipientOf(txn, r)
    if (decoded !== null) recipients.push(decoded)
  }
  return {
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
}

function recipientOf(txn: string, v: unknown): StoredRecipient | null {
  if (!Array.isArray(v) || v.length !== 12) return null
  const [
    key,
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
  ] = v
  if (!isStr(key) || (address !== 0 && !isStr(address)) || (orcpt !== 1 && !strOrNull(orcpt))) return null
  if (!strOrNull(notify)) return null
  if (!isStr(action) || !isAction(action) || !isStr(status) || !strOrNull(remoteMta)) return null
  if (!numOrNull(lastAttempt) || !numOrNull(willRetryUntil) || !isNum(keepUntil) || !isNum(updated))
    return null
  const history: Attempt[] = []
  for (const a of list(v[11]) ?? []) {
    const decoded = attemptOf(txn, a)
    if (decoded !== null) history.push(decoded)
  }
  const rcpt = address === 0 ? key : address
  return {
    address: rcpt,
    orcpt: orcpt === 1 ? `rfc822;${rcpt}` : orcpt,
    notify,
    action,
    status,
    remoteMta,
    lastAttempt,
    willRetryUntil,
    keepUntil,
    updated,
    history,
  }
}

function attemptOf(txn: string, v: unknown): Attempt | null {
  if (!Array.isArray(v) || v.length !== 7) return null
  const [id, at, action, status, host, code, reply] = v
  if (!isStr(id) || !isNum(at) || !isStr(action) || !isAction(action) || !isStr(status)) return null
  if (!strOrNull(host) || !strOrNull(code) || !strOrNull(reply)) return null
  const a: Attempt = { id: id.startsWith('~') ? txn + id.slice(1) : id, at, action, status }
  if (host !== null) a.host = host
  if (code !== null) a.code = code
  if (reply !== null) a.reply = reply
  return a
}

// ---------------------------------------------------------------------------------------------------------------
// The trace's recipient records (./trace): one object-JSON value per recipient, as APPLY_RECIPIENT writes them.

type Json = Record<string, unknown>
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

function decodeAttemptObject(v: unknown): Attempt | null {
  if (
    !isObject(v) ||
    !isStr(v.id) ||
    !isNum(v.at) ||
    !isStr(v.action) ||
    !isAction(v.action) ||
    !isStr(v.status)
  )
    return null
  const a: Attempt = { id: v.id, at: v.at, action: v.action, status: v.status }
  if (isStr(v.host)) a.host = v.host
  if (isStr(v.code)) a.code = v.code
  if (isStr(v.reply)) a.reply = v.reply
  return a
}

/** A trace recipient record, or null when it does not decode. */
export function decodeRecipient(json: string): StoredRecipient | null {
  let o: unknown
  try {
    o = JSON.parse(json)
  } catch {
    return null
  }
  if (!isObject(o)) return null
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
  } = o
  if (!isStr(address) || !strOrNull(orcpt) || !strOrNull(notify) || !isStr(action) || !isAction(action))
    return null
  if (!isStr(status) || !strOrNull(remoteMta) || !numOrNull(lastAttempt) || !numOrNull(willRetryUntil))
    return null
  if (!isNum(keepUntil) || !isNum(updated)) return null
  const history: Attempt[] = []
  for (const a of list(o.history) ?? []) {
    const decoded = decodeAttemptObject(a)
    if (decoded !== null) history.push(decoded)
  }
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
    history,
  }
}
