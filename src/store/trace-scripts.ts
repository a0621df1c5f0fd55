// Lua of the operator trace's searches (src/store/trace.ts; its writes: WRITE_SCRIPT in ./scripts). Every key a call
// touches lies in one hour bucket, whose hash tag puts it in one Cluster slot.
import type { Result } from 'ioredis'

export const TRACE_SEARCH_COMMAND = 'mtrkTraceSearch'

/** One bucket's answer: status, the last candidate examined, and the matches with their hash fields. */
export type SearchReply = [
  status: 'done' | 'full' | 'budget',
  lastArrival: string,
  lastTxn: string,
  matches: Array<[txn: string, arrival: string, fields: string[]]>,
]

declare module 'ioredis' {
  interface RedisCommander<Context> {
    /** TRACE_SEARCH_SCRIPT: the number of keys, the keys, then its ARGV. */
    mtrkTraceSearch(numKeys: number, ...keysAndArgs: string[]): Result<SearchReply, Context>
  }
}

/**
 * Finds messages of one bucket, newest first, in bounded work: at most `budget` candidates are examined per call.
 * KEYS the index sets a message must all be in (or the time set alone), as ARGV[10..] say, one word per term:
 *   's'          one key: a set by arrival whose members are transaction ids
 *   'u' <value>  two keys: the bucket's shared set of the term's kind (members <value>\0<arrival, 13 digits>\0<txn>,
 *                score 0, read by ZRANGEBYLEX) and the set of this value alone, as written before the shared sets
 *                (read until it expires)
 *   'p' <prefix> two keys: the bucket's shared set of queue ids and its set by arrival; the messages whose
 *                transaction id starts with <prefix> (a connection's uuid and a dot: every message of that
 *                connection). Up to PREFIX_READ members of the prefix range are read and sorted; a busier connection
 *                is found by walking the set by arrival, in the budget like any candidate.
 * ARGV[1] message key prefix   ARGV[2] min arrival   ARGV[3] max arrival   ARGV[4] cursor txn ('' none): at max
 * arrival, members from it on (already returned) are skipped   ARGV[5] limit   ARGV[6] budget
 * ARGV[7] actions, comma separated ('' any)   ARGV[8] recipient address, ASCII lower-case ('' any)
 * ARGV[9] recipient domain ('' any): with actions, some recipient matching these must be in one of them.
 * Returns {status, last arrival, last txn, {{txn, arrival, {field, value, ...}}, ...}}: status `done` when the
 * bucket is exhausted, `full` when `limit` matches were found, `budget` when the budget ran out first.
 */
export const TRACE_SEARCH_SCRIPT = `
local prefix, min, max, after = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local limit, budget = tonumber(ARGV[5]), tonumber(ARGV[6])
local actions, rcpt, domain = ARGV[7], ARGV[8], ARGV[9]
local wanted = {}
for a in string.gmatch(actions, '[^,]+') do wanted[a] = true end
local examined = 0
-- Where the walk stopped: the next page's cursor. Candidates a stream skips move it too, so that a call spending
-- its budget on them still resumes after them.
local lastArrival, lastTxn = '', ''
local PREFIX_READ = 5000

local function digits(ms) return string.format('%013.0f', math.max(0, math.floor(tonumber(ms)))) end
local terms, k = {}, 1
for i = 10, #ARGV do
  local t = {set = KEYS[k]}
  local kind = string.sub(ARGV[i], 1, 1)
  if kind == 's' then
    t.size = redis.call('ZCARD', t.set)
    k = k + 1
  elseif kind == 'p' then
    -- Every member from <prefix> up to the prefix with its last octet one higher, the range's end left out.
    t.prefix = string.sub(ARGV[i], 2)
    t.lo = '[' .. t.prefix
    t.hi = '(' .. string.sub(t.prefix, 1, -2) .. string.char(string.byte(t.prefix, -1) + 1)
    t.time = KEYS[k + 1]
    t.size = redis.call('ZLEXCOUNT', t.set, t.lo, t.hi)
    if t.size > PREFIX_READ then t.size, t.sorted = redis.call('ZCARD', t.time), false else t.sorted = true end
    k = k + 2
  else
    t.value, t.single = string.sub(ARGV[i], 2), KEYS[k + 1]
    t.lo, t.hi = '[' .. t.value .. '\\0' .. digits(min), '(' .. t.value .. '\\0' .. digits(max) .. '\\1'
    t.size = redis.call('ZLEXCOUNT', t.set, t.lo, t.hi) + redis.call('ZCARD', t.single)
    k = k + 2
  end
  table.insert(terms, t)
end
local function has(t, txn, arrival)
  if t.prefix then return string.sub(txn, 1, #t.prefix) == t.prefix end
  if not t.value then return redis.call('ZSCORE', t.set, txn) end
  return redis.call('ZSCORE', t.set, t.value .. '\\0' .. digits(arrival) .. '\\0' .. txn)
    or redis.call('ZSCORE', t.single, txn)
end

-- Streams of a term's (txn, arrival) in the range, newest first (ties: txn descending, as ZREVRANGEBYSCORE orders
-- them), read 200 at a time; nil at the end.
local function byArrival(set)
  local buf, i, offset = {}, 1, 0
  return function()
    if i > #buf then
      buf, i = redis.call('ZREVRANGEBYSCORE', set, max, min, 'WITHSCORES', 'LIMIT', offset, 200), 1
      offset = offset + #buf / 2
      if #buf == 0 then return nil end
    end
    i = i + 2
    return buf[i - 2], buf[i - 1]
  end
end
local function byValue(t)
  local buf, i, offset = {}, 1, 0
  return function()
    while true do
      if i > #buf then
        buf, i = redis.call('ZREVRANGEBYLEX', t.set, t.hi, t.lo, 'LIMIT', offset, 200), 1
        offset = offset + #buf
        if #buf == 0 then return nil end
      end
      i = i + 1
      -- A longer value that starts with this one and a NUL is not this one: its member does not parse.
      local arrival, txn = string.match(string.sub(buf[i - 1], #t.value + 1), '^%z(%d+)%z([^%z]+)$')
      if txn then return txn, arrival end
      examined = examined + 1
    end
  end
end
-- The messages of a prefix term, in the same order: its members are sorted by queue id, not by arrival, so they are
-- all read first (at most PREFIX_READ: the term's size), each message once.
local function byPrefix(t)
  local found, seen, offset = {}, {}, 0
  while true do
    local buf = redis.call('ZRANGEBYLEX', t.set, t.lo, t.hi, 'LIMIT', offset, 200)
    if #buf == 0 then break end
    offset = offset + #buf
    for _, member in ipairs(buf) do
      examined = examined + 1
      local arrival, txn = string.match(member, '^[^%z]*%z(%d+)%z([^%z]+)$')
      local n = tonumber(arrival)
      if txn and not seen[txn] and n >= tonumber(min) and n <= tonumber(max) and has(t, txn, arrival) then
        seen[txn] = true
        table.insert(found, {txn, arrival, n})
      end
    end
  end
  table.sort(found, function(a, b) return a[3] > b[3] or (a[3] == b[3] and a[1] > b[1]) end)
  local i = 0
  return function()
    i = i + 1
    if found[i] then return found[i][1], found[i][2] end
    return nil
  end
end
-- The same for a prefix term with more members than PREFIX_READ: the bucket's messages by arrival, those of other
-- connections skipped within the budget; false when it runs out.
local function byArrivalWithPrefix(t)
  local all = byArrival(t.time)
  return function()
    while true do
      local txn, arrival = all()
      if not txn or string.sub(txn, 1, #t.prefix) == t.prefix then return txn, arrival end
      examined = examined + 1
      lastArrival, lastTxn = arrival, txn
      if examined >= budget then return false end
    end
  end
end
-- Two streams as one, in the same order, an entry in both once.
local function merged(a, b)
  local ta, aa = a()
  local tb, ab = b()
  return function()
    if not ta and not tb then return nil end
    local x, y = ta and tonumber(aa), tb and tonumber(ab)
    local txn, arrival = ta, aa
    if not ta or (tb and (y > x or (y == x and tb >= ta))) then
      txn, arrival = tb, ab
      if ta == tb and x == y then ta, aa = a() end
      tb, ab = b()
    else
      ta, aa = a()
    end
    return txn, arrival
  end
end

local best = 1
for i = 2, #terms do
  if terms[i].size < terms[best].size then best = i end
end
local driver = terms[best]
local nextCandidate
if driver.prefix then
  nextCandidate = driver.sorted and byPrefix(driver) or byArrivalWithPrefix(driver)
elseif driver.value then
  nextCandidate = merged(byValue(driver), byArrival(driver.single))
else
  nextCandidate = byArrival(driver.set)
end

local function recipientMatches(fields)
  if actions == '' then return true end
  for j = 1, #fields, 2 do
    if string.sub(fields[j], 1, 2) == 'r:' then
      local ok, rec = pcall(cjson.decode, fields[j + 1])
      local addr, action
      if not ok or type(rec) ~= 'table' then
        addr = nil
      elseif rec[1] == nil then -- written before trace format 2: object JSON
        addr, action = rec.address, rec.action
      else -- [address or 0 (the field's key), orcpt, notify, action, ...]
        addr, action = rec[1], rec[4]
        if addr == 0 then addr = string.sub(fields[j], 3) end
      end
      if type(addr) == 'string' and type(action) == 'string' then
        addr = string.lower(addr)
        local at = string.find(addr, '@[^@]*$')
        local dom = at and string.sub(addr, at + 1) or ''
        if wanted[action] and (rcpt == '' or addr == rcpt) and (domain == '' or dom == domain) then return true end
      end
    end
  end
  return false
end
local out = {}
while examined < budget do
  local txn, arrival = nextCandidate()
  if txn == false then break end
  if not txn then return {'done', lastArrival, lastTxn, out} end
  examined = examined + 1
  lastArrival, lastTxn = arrival, txn
  local match = not (after ~= '' and tonumber(arrival) == tonumber(max) and txn >= after)
  for i = 1, #terms do
    if match and i ~= best and not has(terms[i], txn, arrival) then match = false end
  end
  if match then
    local fields = redis.call('HGETALL', prefix .. txn)
    if #fields > 0 and recipientMatches(fields) then
      table.insert(out, {txn, arrival, fields})
      if #out >= limit then return {'full', lastArrival, lastTxn, out} end
    end
  end
end
return {'budget', lastArrival, lastTxn, out}
`
