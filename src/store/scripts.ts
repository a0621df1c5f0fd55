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
 * Returns the record and its action before the write (nil when it was created). Shared by the tracking and trace
 * scripts.
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
 * Upserts one message and some of its recipients, applying delivery events, in one atomic round trip.
 * KEYS[1]  the envid hash
 * ARGV[1]  now (ms)          ARGV[2] transaction id    ARGV[3] message JSON (written only if absent)
 * ARGV[4]  history limit     then per recipient: key, base JSON (used if absent), event JSON or ''
 */
export const RECORD_SCRIPT = `${APPLY_RECIPIENT}
local key = KEYS[1]
local now = tonumber(ARGV[1])
local txn = ARGV[2]
local limit = tonumber(ARGV[4])
redis.call('HSETNX', key, 'm:' .. txn, ARGV[3])
local keep = 0
for i = 5, #ARGV, 3 do
  local rec = apply(key, 'r:' .. txn .. ':' .. ARGV[i], ARGV[i + 1], ARGV[i + 2], limit)
  keep = math.max(keep, tonumber(rec.keepUntil) or 0)
end
-- Only ever extend: other messages with the same envid may need the key longer (AMB-37). Never leave it without TTL.
local want = math.max(keep - now, 1000)
local ttl = redis.call('PTTL', key)
if ttl < want then redis.call('PEXPIRE', key, want) end
return 1
`
