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
 *   't' (trace record)  message key, time set key, counts key, now (ms), transaction id, header (trace format 2,
 *                       written only if absent: codec.ts encodeTraceHeader), arrival (ms, 13 digits: every index
 *                       set's score), keep until (ms), n, n queue ids, n, n index set keys, n, n pairs of a shared
 *                       index set key and a value (member <value>\0<arrival>\0<txn>, score 0: batch.ts), n, then n
 *                       recipients as for 'e'; a trace
 *                       recipient is stored as the envid record's without its key, the field r:<key> names it.
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

-- A recipient as an envid record holds it (format 2, src/store/codec.ts): r[1] its key, r[11] updated, r[12] its
-- attempts. A new one from its key and the elements the write sent.
local PATCH = {action = 5, status = 6, remoteMta = 7, lastAttempt = 8, willRetryUntil = 9, keepUntil = 10}
local function newRecipient(rkey, base)
  local b = cjson.decode(base)
  return {rkey, b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], {}}
end
-- An attempt's id: "~" stands for the transaction id it starts with.
local function shortId(id, txn)
  if id:sub(1, #txn) == txn then return '~' .. id:sub(#txn + 1) end
  return id
end
local function attemptOf(a, txn)
  return {shortId(a.id, txn), a.at, a.action, a.status, opt(a.host), opt(a.code), opt(a.reply)}
end
-- Applies an event (JSON {at, patch, attempt}) to r once: the patch unless a newer event was applied already, the
-- attempt appended to the bounded history (its id makes a replayed event a no-op, and a full history takes no
-- attempt older than all it keeps). Returns whether r changed.
local function applyEvent(r, txn, event)
  local ev = cjson.decode(event)
  local id = shortId(ev.attempt.id, txn)
  for _, h in ipairs(r[12]) do
    if h[1] == id then return false end
  end
  local changed = false
  if (tonumber(r[11]) or 0) <= ev.at then
    for f, v in pairs(ev.patch) do
      if PATCH[f] then r[PATCH[f]] = v end
    end
    r[11] = ev.at
    changed = true
  end
  -- A full history keeps the newest attempts: one older than all of them (an attempt it already dropped, replayed
  -- from the journal, or a late one) would push a newer one out.
  if #r[12] >= limit then
    local at = tonumber(ev.attempt.at) or 0
    local older = true
    for _, h in ipairs(r[12]) do
      if (tonumber(h[2]) or 0) <= at then older = false end
    end
    if older then return changed end
  end
  table.insert(r[12], attemptOf(ev.attempt, txn))
  while #r[12] > limit do table.remove(r[12], 1) end
  return true
end

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
      r = newRecipient(rkey, base)
      table.insert(e.rec[9], r)
      e.byKey[rkey] = r
      e.changed = true
    end
    if event ~= '' and applyEvent(r, txn, event) then e.changed = true end
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

-- A trace recipient record written before trace format 2 (object JSON) as a format-2 recipient.
local function fromObject(rkey, o, txn)
  local history = {}
  for _, a in ipairs(o.history or {}) do table.insert(history, attemptOf(a, txn)) end
  return {rkey, opt(o.address), opt(o.orcpt), opt(o.notify), opt(o.action), opt(o.status), opt(o.remoteMta),
    opt(o.lastAttempt), opt(o.willRetryUntil), opt(o.keepUntil), opt(o.updated), history}
end

-- A trace recipient in the message hash k, field r:<key>: a format-2 recipient without its key (the field names it).
-- Returns its action before the write (nil when it was created), its action and keep time after.
local function applyTraceRecipient(k, txn, rkey, base, event)
  local field = 'r:' .. rkey
  local current = redis.call('HGET', k, field)
  local r, before
  if current then
    local ok, v = pcall(cjson.decode, current)
    if ok and type(v) == 'table' then
      if v[1] == nil then r = fromObject(rkey, v, txn) else table.insert(v, 1, rkey) r = v end
      -- A record without a readable action (written by hand) is replaced: its action would be a count's name.
      if type(r[5]) == 'string' then before = r[5] else r = nil end
    end
  end
  local changed = false
  if not r then
    r = newRecipient(rkey, base)
    changed = true
  end
  if event ~= '' and applyEvent(r, txn, event) then changed = true end
  local action, keep = r[5], r[10]
  if changed then
    table.remove(r, 1)
    redis.call('HSET', k, field, cjson.encode(r))
  end
  return before, action, keep
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
  if redis.call('HSETNX', msg, 'h', header) == 1 then b.messages = b.messages + 1 end
  -- Every time, not only with a new header: a call that failed after the header was written (Redis keeps what a
  -- script wrote) would otherwise leave the message out of the time set for good. ZADD of a member is idempotent.
  addMember(b, times, arrival, txn)
  for _ = 1, tonumber(arg()) do redis.call('HSET', msg, 'q:' .. arg(), '1') end
  for _ = 1, tonumber(arg()) do addMember(b, key(), arrival, txn) end
  for _ = 1, tonumber(arg()) do addMember(b, key(), 0, arg() .. '\\0' .. arrival .. '\\0' .. txn) end
  for _ = 1, tonumber(arg()) do
    local before, action, rkeep = applyTraceRecipient(msg, txn, arg(), arg(), arg())
    if before ~= action then
      if before then b.states[before] = (b.states[before] or 0) - 1 end
      b.states[action] = (b.states[action] or 0) + 1
    end
    hold(tonumber(rkeep) or 0)
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
