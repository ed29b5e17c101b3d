/* shared_scripts.c - the scripts of shared_scripts.h. Each is the common
 * prelude (the prefix, Redis's clock, ending a session with its event)
 * followed by its own body. */
#include "shared_scripts.h"

/* The stream keeps this many ends (approximately): a replica cut off for
 * longer than that many ends revalidates its cache instead of replaying. */
#define STREAM_MAXLEN "100000"
/* Session records outlive their deadline by this much in Redis's own
 * expiry, so that the reaper (which writes the events and removes the
 * handles) always gets them first, and a store nobody reaps any more still
 * lets its records go. Handle keys carry no expiry of their own (it would
 * cost every session about 30 bytes): one whose record is gone is dead for
 * every lookup and removed by the next one. */
#define BACKSTOP_S "3600"

#define PRELUDE                                                                                    \
    "local P = ARGV[1]\n"                                                                          \
    "local function now_s() return tonumber(redis.call('TIME')[1]) end\n"                          \
    "local function now_ms()\n"                                                                    \
    "  local t = redis.call('TIME')\n"                                                             \
    "  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)\n"                        \
    "end\n"                                                                                        \
    "local function blocked_s(keys)\n"                                                             \
    "  local now, wait = now_ms(), 0\n"                                                            \
    "  for _, k in ipairs(keys) do\n"                                                              \
    "    local u = tonumber(redis.call('HGET', k, 'u') or '0')\n"                                  \
    "    if u - now > wait then wait = u - now end\n"                                              \
    "  end\n"                                                                                      \
    "  return math.ceil(wait / 1000)\n"                                                            \
    "end\n"                                                                                        \
    "local function ev(...) redis.call('XADD', P..'x', 'MAXLEN', '~', " STREAM_MAXLEN              \
    ", '*', ...) end\n"                                                                            \
    "local function end_session(sid, reason)\n"                                                    \
    "  local sk = P..'s:'..sid\n"                                                                  \
    "  local rec = redis.call('HGETALL', sk)\n"                                                    \
    "  redis.call('ZREM', P..'z', sid)\n"                                                          \
    "  if #rec == 0 then return 0 end\n"                                                           \
    "  local prof, shared, nh = nil, false, 0\n"                                                   \
    "  for j = 1, #rec, 2 do\n"                                                                    \
    "    local f = rec[j]\n"                                                                       \
    "    if #f == 33 and string.sub(f, 1, 1) == 'h' then\n"                                        \
    "      redis.call('DEL', P..'h:'..string.sub(f, 2)); nh = nh + 1\n"                            \
    "    elseif f == 'p' then prof = rec[j + 1]\n"                                                 \
    "    elseif f == 'S' then shared = true end\n"                                                 \
    "  end\n"                                                                                      \
    "  redis.call('DEL', sk)\n"                                                                    \
    "  redis.call('DECR', P..'c'); redis.call('DECRBY', P..'k', nh)\n"                             \
    "  if prof then\n"                                                                             \
    "    local pk = P..'p:'..prof\n"                                                               \
    "    if redis.call('HINCRBY', pk, 'n', -1) <= 0 then redis.call('DEL', pk)\n"                  \
    "    elseif redis.call('HGET', pk, 'sh') == sid then redis.call('HDEL', pk, 'sh') end\n"       \
    "  end\n"                                                                                      \
    "  if shared then redis.call('SREM', P..'shs', sid) end\n"                                     \
    "  ev('t', 's', 'i', sid, 'r', reason)\n"                                                      \
    "  return 1\n"                                                                                 \
    "end\n"

redis_script SHARED_LOGON = REDIS_SCRIPT(
    PRELUDE
    "local id, prof = ARGV[2], ARGV[3]\n"
    "local idle, life = tonumber(ARGV[5]), tonumber(ARGV[6])\n"
    "local pk = P..'p:'..prof\n"
    "local now = now_s()\n"
    "if ARGV[12] ~= '' then\n"
    "  local wait = blocked_s({P..'t:'..ARGV[12], P..'t:'..ARGV[13]})\n"
    "  if wait > 0 then return {5, wait} end\n"
    "end\n"
    "if tonumber(redis.call('GET', P..'c') or '0') >= tonumber(ARGV[10]) then return {1} end\n"
    "if tonumber(redis.call('HGET', pk, 'n') or '0') >= tonumber(ARGV[11]) then return {2} end\n"
    "if ARGV[12] ~= '' then redis.call('DEL', P..'t:'..ARGV[12]) end\n"
    "local serial = redis.call('INCR', P..'n')\n"
    "local sk = P..'s:'..id\n"
    "redis.call('HSET', sk, 'p', prof, 'f', ARGV[4], 'c', now, 'i', idle, 'l', life,\n"
    "           'n', serial, 'u', now, 'k', 1, 'h'..ARGV[7], ARGV[8])\n"
    "local dl = math.min(now + idle, now + life)\n"
    "redis.call('ZADD', P..'z', dl, id)\n"
    "redis.call('EXPIREAT', sk, dl + " BACKSTOP_S ")\n"
    "redis.call('SET', P..'h:'..ARGV[7], id)\n"
    "redis.call('INCR', P..'c'); redis.call('INCR', P..'k')\n"
    "redis.call('HINCRBY', pk, 'n', 1)\n"
    "local shared = 0\n"
    "if ARGV[9] == '1' and redis.call('HSETNX', pk, 'sh', id) == 1 then\n"
    "  redis.call('HSET', sk, 'S', '1'); redis.call('SADD', P..'shs', id); shared = 1\n"
    "end\n"
    "return {0, serial, now, shared}\n");

redis_script SHARED_JOIN = REDIS_SCRIPT(
    PRELUDE "local pk = P..'p:'..ARGV[2]\n"
            "local sid = redis.call('HGET', pk, 'sh')\n"
            "if not sid then return {3} end\n"
            "local sk = P..'s:'..sid\n"
            "local r = redis.call('HMGET', sk, 'f', 'c', 'i', 'l', 'n', 'k')\n"
            "if not r[1] then\n"
            "  redis.call('HDEL', pk, 'sh'); redis.call('SREM', P..'shs', sid); return {3}\n"
            "end\n"
            "local now = now_s()\n"
            "local c, i, l = tonumber(r[2]), tonumber(r[3]), tonumber(r[4])\n"
            "local dl = tonumber(redis.call('ZSCORE', P..'z', sid) or '0')\n"
            "if dl <= now then end_session(sid, 'expired'); return {3} end\n"
            "if tonumber(r[6]) >= tonumber(ARGV[5]) then return {2} end\n"
            "redis.call('HSET', sk, 'h'..ARGV[3], ARGV[4], 'u', now)\n"
            "redis.call('HINCRBY', sk, 'k', 1); redis.call('INCR', P..'k')\n"
            "redis.call('SET', P..'h:'..ARGV[3], sid)\n"
            "local ndl = math.min(now + i, c + l)\n"
            "redis.call('ZADD', P..'z', 'GT', ndl, sid)\n"
            "redis.call('EXPIREAT', sk, ndl + " BACKSTOP_S ")\n"
            "return {0, sid, tonumber(r[1]), c, i, l, tonumber(r[5])}\n");

redis_script SHARED_LOGOFF = REDIS_SCRIPT(
    PRELUDE "local hk = P..'h:'..ARGV[2]\n"
            "local sid = redis.call('GET', hk)\n"
            "if not sid then return {4} end\n"
            "local sk = P..'s:'..sid\n"
            "local k = tonumber(redis.call('HGET', sk, 'k') or '0')\n"
            "if k == 0 then redis.call('DEL', hk); return {4} end\n"
            "if ARGV[3] == '1' then end_session(sid, 'logoff_shared'); return {0, sid, 1} end\n"
            "if k <= 1 then end_session(sid, 'logoff'); return {0, sid, 1} end\n"
            "redis.call('DEL', hk); redis.call('HDEL', sk, 'h'..ARGV[2])\n"
            "redis.call('HINCRBY', sk, 'k', -1); redis.call('DECR', P..'k')\n"
            "ev('t', 'h', 'i', sid, 'h', ARGV[2], 'r', 'logoff')\n"
            "return {0, sid, 0}\n");

redis_script SHARED_END =
    REDIS_SCRIPT(PRELUDE "if end_session(ARGV[2], ARGV[3]) == 0 then return {3} end\n"
                         "return {0}\n");

redis_script SHARED_REAP = REDIS_SCRIPT(
    PRELUDE "local ids = redis.call('ZRANGEBYSCORE', P..'z', '-inf', now_s(), 'LIMIT', 0,\n"
            "                       tonumber(ARGV[2]))\n"
            "for _, sid in ipairs(ids) do end_session(sid, 'expired') end\n"
            "return {0, #ids}\n");

/* A use at t counts when it came before the deadline: a late flush must not
 * bring back a session whose deadline passed before it was used. */
redis_script SHARED_TOUCH = REDIS_SCRIPT(
    PRELUDE "local n = 0\n"
            "for j = 2, #ARGV - 1, 2 do\n"
            "  local sid, t = ARGV[j], tonumber(ARGV[j + 1])\n"
            "  local sk = P..'s:'..sid\n"
            "  local r = redis.call('HMGET', sk, 'c', 'i', 'l', 'u')\n"
            "  local dl = tonumber(redis.call('ZSCORE', P..'z', sid) or '0')\n"
            "  if r[1] and dl > t and t > tonumber(r[4]) then\n"
            "    local ndl = math.min(t + tonumber(r[2]), tonumber(r[1]) + tonumber(r[3]))\n"
            "    redis.call('HSET', sk, 'u', t)\n"
            "    redis.call('ZADD', P..'z', 'XX', 'GT', ndl, sid)\n"
            "    redis.call('EXPIREAT', sk, ndl + " BACKSTOP_S ")\n"
            "    n = n + 1\n"
            "  end\n"
            "end\n"
            "return {0, n}\n");

redis_script SHARED_THROTTLE_CHECK =
    REDIS_SCRIPT(PRELUDE "return {0, blocked_s({P..'t:'..ARGV[2], P..'t:'..ARGV[3]}),\n"
                         "        redis.call('EXISTS', P..'t:'..ARGV[2])}\n");

/* The same budgets as the in-memory throttle (throttle.h): the pair key
 * blocks for 1 s at its threshold (to the millisecond: 'u' is in ms, so a
 * block never ends early at a second's boundary, and every replica sees it
 * whole), doubling per failure past it up to the
 * cap; the client key the same at its own threshold, leaking one failure
 * per leak_s. Keys idle for 15 minutes past their block go by themselves. */
redis_script SHARED_THROTTLE_FAIL = REDIS_SCRIPT(
    PRELUDE "local now, nowms = now_s(), now_ms()\n"
            "local maxd, leak = tonumber(ARGV[6]), tonumber(ARGV[7])\n"
            "local function bump(k, thr, leaks)\n"
            "  local r = redis.call('HMGET', k, 'n', 't')\n"
            "  local n, t = tonumber(r[1] or '0'), tonumber(r[2] or now)\n"
            "  if leaks and now > t then\n"
            "    local gone = math.floor((now - t) / leak)\n"
            "    if n <= gone then n, t = 0, now else n, t = n - gone, t + gone * leak end\n"
            "  end\n"
            "  n = n + 1\n"
            "  local u = 0\n"
            "  if n >= thr then\n"
            "    local d = 1\n"
            "    for _ = 1, math.min(n - thr, 64) do if d < maxd then d = d * 2 end end\n"
            "    u = nowms + math.min(d, maxd) * 1000\n"
            "  end\n"
            "  redis.call('HSET', k, 'n', n, 't', leaks and t or now, 'u', u)\n"
            "  redis.call('PEXPIREAT', k, math.max(u, nowms) + 900000)\n"
            "end\n"
            "bump(P..'t:'..ARGV[2], tonumber(ARGV[4]), false)\n"
            "bump(P..'t:'..ARGV[3], tonumber(ARGV[5]), true)\n"
            "return {0}\n");
