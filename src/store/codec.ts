// Records as JSON in Redis. Decoding checks every field: a reply from Redis is input like any other, and a record
// written by another version or by hand must be skipped, never crash a TRACK.

import type { Attempt, MessageHeader, StoredRecipient } from '../model/records'
import { isAction } from '../tsn/types'

type Json = Record<string, unknown>

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)
const isStr = (v: unknown): v is string => typeof v === 'string'
const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v)
const strOrNull = (v: unknown): v is string | null => v === null || isStr(v)
const numOrNull = (v: unknown): v is number | null => v === null || isNum(v)

function parse(json: string): Json | null {
  try {
    const v: unknown = JSON.parse(json)
    return isObject(v) ? v : null
  } catch {
    return null
  }
}

export function decodeMessage(json: string): MessageHeader | null {
  const o = parse(json)
  if (!o) return null
  const { txn, envidXtext, envid, certifier, arrival, reportingMta, requestedTimeout, retention, ret } = o
  if (!isStr(txn) || !isStr(envidXtext) || !isStr(envid) || !isStr(certifier) || !isStr(reportingMta))
    return null
  if (!isNum(arrival) || !isNum(retention) || !numOrNull(requestedTimeout) || !strOrNull(ret)) return null
  return { txn, envidXtext, envid, certifier, arrival, reportingMta, requestedTimeout, retention, ret }
}

function decodeAttempt(v: unknown): Attempt | null {
  if (
    !isObject(v) ||
    !isStr(v.id) ||
    !isNum(v.at) ||
    !isStr(v.action) ||
    !isAction(v.action) ||
    !isStr(v.status)
  ) {
    return null
  }
  const a: Attempt = { id: v.id, at: v.at, action: v.action, status: v.status }
  if (isStr(v.host)) a.host = v.host
  if (isStr(v.code)) a.code = v.code
  if (isStr(v.reply)) a.reply = v.reply
  return a
}

export function decodeRecipient(json: string): StoredRecipient | null {
  const o = parse(json)
  if (!o) return null
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
  // Lua's cjson writes an empty array as {}.
  const history = (Array.isArray(o.history) ? o.history : []).map(decodeAttempt).filter((a) => a !== null)
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
