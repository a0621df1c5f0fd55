// Lua run by Redis. Kept in TypeScript so the build ships it without a copy step.
import type { Result } from 'ioredis'

/** The name TrackingStore gives RECORD_SCRIPT on its client (ioredis defineCommand). */
export const RECORD_COMMAND = 'mtrkRecord'

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** RECORD_SCRIPT on one envid hash: `key`, then its ARGV. */
    mtrkRecord(key: string, ...argv: string[]): Result<number, Context>
  }
}

/**
 * Lua: `apply(key, field, base, event, limit)` upserts one recipient record in the hash `key` (base JSON used if
 * absent, event JSON or ''). An event is {at, patch, attempt}: patch fields overwrite the record unless a newer event
 * was applied already; the attempt is appended to the bounded history once (its id makes a replayed event a no-op).
 * Returns the record and its action before the write (nil when it was created). The trace script's recipient records
 * (object JSON); the envid records have their own format, see RECORD_SCRIPT.
 */
export const APPLY_RECIPIENT = `
local function apply(key, field, base, event, limit)
  local current = redis.call('HGET', key, field)
  local rec = cjson.decode(current or base)
  local before = current and rec.action or nil
  if event == '' then
    if not current then redis.call('HSET', key, field, base) end
  else
    local ev = cjson.decode(event)
    local seen = false
    for _, a in ipairs(rec.history) do
      if a.id == ev.attempt.id then seen = true end
    end
    if not seen then
      if (tonumber(rec.updated) or 0) <= ev.at then
        for k, v in pairs(ev.patch) do rec[k] = v end
        rec.updated = ev.at
      end
      table.insert(rec.history, ev.attempt)
      while #rec.history > limit do table.remove(rec.history, 1) end
      redis.call('HSET', key, field, cjson.encode(rec))
    end
  end
  return rec, before
end
`

/**
 * Upserts one message and some of its recipients, applying delivery events, in one atomic round trip. The message is
 * one hash field, its transaction id, holding the format-2 array of codec.ts (README "Redis keys").
 * KEYS[1]  the envid hash
 * ARGV[1]  now (ms)          ARGV[2] transaction id    ARGV[3] message JSON (used if the field is absent)
 * ARGV[4]  history limit     then per recipient: key, base JSON (used if absent), event JSON or ''
 * An event is {at, patch, attempt}: patch fields overwrite the record unless a newer event was applied already;
 * the attempt is appended to the bounded history once (its id makes a replayed event a no-op). A value that is not
 * a format-2 message (unreadable, or written by hand) is replaced.
 */
export const RECORD_SCRIPT = `
local key = KEYS[1]
local now = tonumber(ARGV[1])
local txn = ARGV[2]
local limit = tonumber(ARGV[4])
local null = cjson.null
local function opt(v) if v == nil then return null end return v end
-- Positions of the recipient fields an event may patch (codec.ts).
local PATCH = {action = 5, status = 6, remoteMta = 7, lastAttempt = 8, willRetryUntil = 9, keepUntil = 10}
local current = redis.call('HGET', key, txn)
local rec
if current then
  local ok, decoded = pcall(cjson.decode, current)
  if ok and type(decoded) == 'table' and decoded[1] == 2 then rec = decoded end
end
local changed = false
if not rec then
  local m = cjson.decode(ARGV[3])
  local xtext = m.envidXtext
  if xtext == m.envid then xtext = 0 end
  rec = {2, xtext, m.certifier, m.arrival, m.reportingMta, opt(m.requestedTimeout), m.retention, opt(m.ret), {}}
  changed = true
end
local rcpts = rec[9]
local keep = 0
for i = 5, #ARGV, 3 do
  local rkey = ARGV[i]
  local r
  for _, x in ipairs(rcpts) do
    if x[1] == rkey then r = x end
  end
  if not r then
    local b = cjson.decode(ARGV[i + 1])
    local address, orcpt = b.address, opt(b.orcpt)
    if orcpt == 'rfc822;' .. address then orcpt = 1 end
    if address == rkey then address = 0 end
    r = {rkey, address, orcpt, opt(b.notify), b.action, b.status, opt(b.remoteMta), opt(b.lastAttempt),
      opt(b.willRetryUntil), b.keepUntil, b.updated, {}}
    table.insert(rcpts, r)
    changed = true
  end
  if ARGV[i + 2] ~= '' then
    local ev = cjson.decode(ARGV[i + 2])
    local a = ev.attempt
    local seen = false
    local id = a.id
    if id:sub(1, #txn) == txn then id = '~' .. id:sub(#txn + 1) end
    for _, h in ipairs(r[12]) do
      if h[1] == id then seen = true end
    end
    if not seen then
      if (tonumber(r[11]) or 0) <= ev.at then
        for k, v in pairs(ev.patch) do
          if PATCH[k] then r[PATCH[k]] = v end
        end
        r[11] = ev.at
      end
      table.insert(r[12], {id, a.at, a.action, a.status, opt(a.host), opt(a.code), opt(a.reply)})
      while #r[12] > limit do table.remove(r[12], 1) end
      changed = true
    end
  end
  keep = math.max(keep, tonumber(r[10]) or 0)
end
if changed then redis.call('HSET', key, txn, cjson.encode(rec)) end
-- Only ever extend: other messages with the same envid may need the key longer (AMB-37). Never leave it without TTL.
local want = math.max(keep - now, 1000)
local ttl = redis.call('PTTL', key)
if ttl < want then redis.call('PEXPIRE', key, want) end
return 1
`
