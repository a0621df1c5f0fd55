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
 * KEYS[1..] the index sets a message must all be in (or the time set alone)
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
local best, size = 1, redis.call('ZCARD', KEYS[1])
for i = 2, #KEYS do
  local n = redis.call('ZCARD', KEYS[i])
  if n < size then best, size = i, n end
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
local out, examined, offset = {}, 0, 0
local lastArrival, lastTxn = '', ''
while examined < budget do
  local chunk = redis.call('ZREVRANGEBYSCORE', KEYS[best], max, min, 'WITHSCORES', 'LIMIT', offset, 200)
  if #chunk == 0 then return {'done', lastArrival, lastTxn, out} end
  offset = offset + #chunk / 2
  for j = 1, #chunk, 2 do
    local txn, arrival = chunk[j], chunk[j + 1]
    examined = examined + 1
    lastArrival, lastTxn = arrival, txn
    local match = not (after ~= '' and tonumber(arrival) == tonumber(max) and txn >= after)
    for i = 1, #KEYS do
      if match and i ~= best and not redis.call('ZSCORE', KEYS[i], txn) then match = false end
    end
    if match then
      local fields = redis.call('HGETALL', prefix .. txn)
      if #fields > 0 and recipientMatches(fields) then
        table.insert(out, {txn, arrival, fields})
        if #out >= limit then return {'full', lastArrival, lastTxn, out} end
      end
    end
    if examined >= budget then break end
  end
end
return {'budget', lastArrival, lastTxn, out}
`
