"""The Lua scripts of the shared cache store (:mod:`.redis_store`): each write is atomic in Redis.

Keys are built inside the scripts from the store's base prefix (one Redis, not a cluster): an
entry's hash ``<base>:e:<id>``, its exact key ``<base>:x:<hash>``, the id set ``<base>:ids``, the
event log ``<base>:log`` and the generation ``<base>:gen``. Ids stay strings (62-bit integers do
not fit Lua's doubles).
"""

from __future__ import annotations

__all__ = ["DROP", "EXACT", "INSERT", "REMOVE"]

# Removes entry `v` (its hash, its exact key when it still points at it, its place in :ids).
REMOVE = """
local function remove(base, v)
  local k = base .. ':e:' .. v
  local x = redis.call('HGET', k, 'x')
  if x and redis.call('GET', x) == v then redis.call('DEL', x) end
  redis.call('DEL', k)
  redis.call('ZREM', base .. ':ids', v)
end
"""

# ARGV: base, id, query, payload, vector, form, exact hash, created, ttl_s, max_size, log maxlen
# -> {1, id, gen} stored | {0, existing id, gen} the same scope and query is stored already
INSERT = (
    REMOVE
    + """
local base, id = ARGV[1], ARGV[2]
local gen = redis.call('GET', base .. ':gen') or ''
local xkey = base .. ':x:' .. ARGV[7]
local cur = redis.call('GET', xkey)
if cur and redis.call('EXISTS', base .. ':e:' .. cur) == 1 then return {0, cur, gen} end
local ekey = base .. ':e:' .. id
redis.call('HSET', ekey, 'q', ARGV[3], 'p', ARGV[4], 'v', ARGV[5], 'f', ARGV[6], 'x', xkey)
local ttl, now, ids = tonumber(ARGV[9]), tonumber(ARGV[8]), base .. ':ids'
if ttl > 0 then
  redis.call('EXPIRE', ekey, math.ceil(ttl))
  redis.call('SET', xkey, id, 'EX', math.ceil(ttl))
else
  redis.call('SET', xkey, id)
end
redis.call('ZADD', ids, now, id)
local gone = {}
if ttl > 0 then
  for _, v in ipairs(redis.call('ZRANGEBYSCORE', ids, '-inf', now - ttl)) do gone[#gone + 1] = v end
  for _, v in ipairs(gone) do remove(base, v) end
end
local extra = redis.call('ZCARD', ids) - tonumber(ARGV[10])
if extra > 0 then
  for _, v in ipairs(redis.call('ZRANGE', ids, 0, extra - 1)) do
    remove(base, v)
    gone[#gone + 1] = v
  end
end
local log = base .. ':log'
redis.call('XADD', log, 'MAXLEN', '~', ARGV[11], '*', 'a', id)
if #gone > 0 then redis.call('XADD', log, 'MAXLEN', '~', ARGV[11], '*', 'd', table.concat(gone, ',')) end
return {1, id, gen}
"""
)

# ARGV: base, log maxlen, ids...
DROP = (
    REMOVE
    + """
local base = ARGV[1]
local gone = {}
for i = 3, #ARGV do
  remove(base, ARGV[i])
  gone[#gone + 1] = ARGV[i]
end
if #gone > 0 then redis.call('XADD', base .. ':log', 'MAXLEN', '~', ARGV[2], '*', 'd', table.concat(gone, ',')) end
return #gone
"""
)

# ARGV: base, exact hash -> {} | {id, q, p, v, f}
EXACT = """
local id = redis.call('GET', ARGV[1] .. ':x:' .. ARGV[2])
if not id then return {} end
local row = redis.call('HMGET', ARGV[1] .. ':e:' .. id, 'q', 'p', 'v', 'f')
if not row[1] then return {} end
return {id, row[1], row[2], row[3], row[4]}
"""
