// Lua run by Redis. Kept in TypeScript so the build ships it without a copy step.
import type { Result } from 'ioredis'

/** The name the stores give WRITE_SCRIPT on their client (ioredis defineCommand). */
export const WRITE_COMMAND = 'mtrkWrite'

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /**
     * WRITE_SCRIPT: the number of keys, then the keys followed by its ARGV. Resolves with the refused writes, each its
     * index in the call (1-based) followed by its error text.
     */
    mtrkWrite(numKeys: number, keysAndArgs: string[]): Result<(number | string)[], Context>
  }
}

/**
 * Applies a batch of store writes, envid records (MTQP) and operator trace records alike, in one atomic call: every
 * key of the call lies in one Cluster slot (src/store/batch.ts groups them). Writes are idempotent upserts, applied in
 * order; what repeats across them (a trace bucket's index members, counts and expiry; a key's TTL; an envid record,
 * decoded once and encoded once however many writes of the call touch it) is done once per call, after the last write.
 * A write Redis refuses (a Lua error: WRONGTYPE on its key, a value it cannot read) is skipped from where it failed,
 * keeping what it applied before; the others, and the deferred work of all, are applied.
 * KEYS     every key the writes touch, each once; a write names its keys by their position in KEYS
 * ARGV[1]  history limit, then the writes one after the other, each its kind, the number of its arguments (so a
 *          refused write's rest is skipped) and its arguments:
 *   'e' (envid record)  key, now (ms), transaction id, the message's format-2 elements 1..7 (JSON, used if the
 *                       field is absent: codec.ts encodeMessage), n, then n recipients, each its key, its format-2
 *                       elements 1..10 (JSON, used if absent: encodeRecipient) and an event JSON or ''
 *   't' (trace record)  message key, time set key, counts key, now (ms), transaction id, header JSON (written only if
 *                       absent), arrival (ms: every set's score), keep until (ms), n, n queue ids, n, n index set keys,
 *                       n, then n recipients
 *   a trace recipient is its key, its record JSON (used if absent) and an event JSON or ''.
 * An event is {at, patch, attempt}: patch fields overwrite the record unless a newer event was applied already; the
 * attempt is appended to the bounded history once (its id makes a replayed event a no-op).
 * TTLs are only ever extended (AMB-37: other messages of an envid may need its key longer; MTRK-10). A trace bucket's
 * sets and counts live until `expires` in its counts hash, the latest keep time of any record written to the bucket,
 * so an index entry lives as long as the record it points to.
 * Returns the refused writes: each its index among the writes (1-based) followed by its error text; empty when
 * every write was applied. An error outside any write (a malformed call, Redis out of memory at the deferred work)
 * fails the call as a whole.
 */
export const WRITE_SCRIPT = `
local limit = tonumber(ARGV[1])
local null = cjson.null
local function opt(v) if v == nil then return null end return v end
local pos = 2
local function arg() pos = pos + 1 return ARGV[pos - 1] end
local function key() return KEYS[tonumber(arg())] end

-- Deferred to the end of the call, once per key.
local lifetimes = {} -- key -> ms it must live at least from now
local function liveAtLeast(k, ms)
  ms = math.max(ms, 1000)
  if (lifetimes[k] or 0) < ms then lifetimes[k] = ms end
end
local buckets = {} -- counts key -> {sets = {set key -> {score, member, ...}}, messages, states, latest, since}

-- An envid record (format 2, src/store/codec.ts): one hash field per message, a value that is not format 2
-- (unreadable, or written by hand) is replaced.
local PATCH = {action = 5, status = 6, remoteMta = 7, lastAttempt = 8, willRetryUntil = 9, keepUntil = 10}
-- Each record the call writes is decoded once and encoded once (flushRecords), however many of its writes the call
-- holds: a write per recipient of a large message would otherwise re-encode the whole record each time.
local records = {} -- key -> transaction id -> {rec, byKey = recipient key -> recipient, changed}
local function recordOf(k, txn, message)
  local ofKey = records[k]
  if not ofKey then ofKey = {} records[k] = ofKey end
  local e = ofKey[txn]
  if e then return e end
  local current = redis.call('HGET', k, txn)
  local rec
  if current then
    local ok, decoded = pcall(cjson.decode, current)
    if ok and type(decoded) == 'table' and decoded[1] == 2 then rec = decoded end
  end
  e = {byKey = {}, changed = not rec}
  if not rec then
    local m = cjson.decode(message)
    rec = {2, m[1], m[2], m[3], m[4], m[5], m[6], m[7], {}}
  end
  e.rec = rec
  for _, r in ipairs(rec[9]) do e.byKey[r[1]] = r end
  ofKey[txn] = e
  return e
end

local function writeEnvid()
  local k, now, txn, message = key(), tonumber(arg()), arg(), arg()
  local e = recordOf(k, txn, message)
  liveAtLeast(k, 0)
  for _ = 1, tonumber(arg()) do
    local rkey, base, event = arg(), arg(), arg()
    local r = e.byKey[rkey]
    if not r then
      local b = cjson.decode(base)
      r = {rkey, b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], {}}
      table.insert(e.rec[9], r)
      e.byKey[rkey] = r
      e.changed = true
    end
    if event ~= '' then
      local ev = cjson.decode(event)
      local a = ev.attempt
      local seen = false
      local id = a.id
      if id:sub(1, #txn) == txn then id = '~' .. id:sub(#txn + 1) end
      for _, h in ipairs(r[12]) do
        if h[1] == id then seen = true end
      end
      if not seen then
        if (tonumber(r[11]) or 0) <= ev.at then
          for f, v in pairs(ev.patch) do
            if PATCH[f] then r[PATCH[f]] = v end
          end
          r[11] = ev.at
        end
        table.insert(r[12], {id, a.at, a.action, a.status, opt(a.host), opt(a.code), opt(a.reply)})
        while #r[12] > limit do table.remove(r[12], 1) end
        e.changed = true
      end
    end
    -- Per recipient: a write refused part-way keeps what it applied, so it must keep its TTL too.
    liveAtLeast(k, (tonumber(r[10]) or 0) - now)
  end
end

local function flushRecords()
  for k, ofKey in pairs(records) do
    local fields = {}
    for txn, e in pairs(ofKey) do
      if e.changed then
        table.insert(fields, txn)
        table.insert(fields, cjson.encode(e.rec))
      end
    end
    if #fields > 0 then redis.call('HSET', k, unpack(fields)) end
  end
end

-- A trace recipient (object JSON, as src/store/codec.ts reads it) in the message hash k: returns the record and its
-- action before the write (nil when it was created).
local function applyTraceRecipient(k, field, base, event)
  local current = redis.call('HGET', k, field)
  local rec = cjson.decode(current or base)
  local before = current and rec.action or nil
  if event == '' then
    if not current then redis.call('HSET', k, field, base) end
  else
    local ev = cjson.decode(event)
    local seen = false
    for _, a in ipairs(rec.history) do
      if a.id == ev.attempt.id then seen = true end
    end
    if not seen then
      if (tonumber(rec.updated) or 0) <= ev.at then
        for f, v in pairs(ev.patch) do rec[f] = v end
        rec.updated = ev.at
      end
      table.insert(rec.history, ev.attempt)
      while #rec.history > limit do table.remove(rec.history, 1) end
      redis.call('HSET', k, field, cjson.encode(rec))
    end
  end
  return rec, before
end

local function bucketOf(counts, now)
  local b = buckets[counts]
  if not b then
    b = {sets = {}, messages = 0, states = {}, latest = 0, since = now}
    buckets[counts] = b
  end
  b.since = math.min(b.since, now)
  return b
end

local function addMember(b, set, score, member)
  local m = b.sets[set]
  if not m then m = {} b.sets[set] = m end
  if member then
    table.insert(m, score)
    table.insert(m, member)
  end
end

local function writeTrace()
  local msg, times, counts = key(), key(), key()
  local now, txn, header, arrival, keep = tonumber(arg()), arg(), arg(), arg(), tonumber(arg())
  local b = bucketOf(counts, now)
  -- At once and per recipient: a write refused part-way keeps what it applied, so it keeps its TTL too.
  local function hold(untilMs)
    liveAtLeast(msg, untilMs - now)
    b.latest = math.max(b.latest, untilMs)
  end
  hold(keep)
  if redis.call('HSETNX', msg, 'h', header) == 1 then
    addMember(b, times, arrival, txn)
    b.messages = b.messages + 1
  else
    addMember(b, times)
  end
  for _ = 1, tonumber(arg()) do redis.call('HSET', msg, 'q:' .. arg(), '1') end
  for _ = 1, tonumber(arg()) do addMember(b, key(), arrival, txn) end
  for _ = 1, tonumber(arg()) do
    local rkey, base, event = arg(), arg(), arg()
    local rec, before = applyTraceRecipient(msg, 'r:' .. rkey, base, event)
    if before ~= rec.action then
      if before then b.states[before] = (b.states[before] or 0) - 1 end
      b.states[rec.action] = (b.states[rec.action] or 0) + 1
    end
    hold(tonumber(rec.keepUntil) or 0)
  end
end

-- Each write under pcall: a write Redis refuses (WRONGTYPE on its key, a value the script cannot read) is skipped, and
-- the deferred work below is still done for the writes before and after it, and for what it applied itself.
local writers = {e = writeEnvid, t = writeTrace}
local refused = {} -- index of the write in the call (1-based), its error text, ...
local index = 0
while pos <= #ARGV do
  local writer, size = writers[ARGV[pos]], tonumber(ARGV[pos + 1])
  local after = pos + 2 + size
  pos = pos + 2
  index = index + 1
  local ok, e = pcall(writer)
  if not ok then
    table.insert(refused, index)
    table.insert(refused, type(e) == 'table' and e.err or tostring(e))
  end
  pos = after
end

flushRecords()

for k, ms in pairs(lifetimes) do
  if redis.call('PTTL', k) < ms then redis.call('PEXPIRE', k, ms) end
end
for counts, b in pairs(buckets) do
  if b.messages > 0 then redis.call('HINCRBY', counts, 'messages', b.messages) end
  for state, n in pairs(b.states) do
    if n ~= 0 then redis.call('HINCRBY', counts, state, n) end
  end
  local latest = tonumber(redis.call('HGET', counts, 'expires')) or 0
  if b.latest > latest then
    latest = b.latest
    redis.call('HSET', counts, 'expires', latest)
  end
  -- Counted from the earliest write of the call: never shorter than any of its records needs.
  local ttl = math.max(latest - b.since, 1000)
  for set, members in pairs(b.sets) do
    if #members > 0 then redis.call('ZADD', set, unpack(members)) end
    redis.call('PEXPIRE', set, ttl)
  end
  redis.call('PEXPIRE', counts, ttl)
end
return refused
`
