-- cycle.lua - wrk script: logon + logoff cycles.
--   BENCH_PROFILE=nopw [BENCH_PASSWORD=...] wrk -s bench/cycle.lua http://127.0.0.1:PORT
--   BENCH_PROFILES=hashed1,hashed2,... (logons to each in turn)
-- Each connection alternates POST /sessions and DELETE /sessions/<id> with the
-- token that logon returned. A wrk thread drives several connections, so the
-- logons waiting for their logoff are kept in a per-thread queue: request()
-- sends a logoff when one is waiting, else a logon. One cycle is 2 requests.
-- Every answer but 201 (logon) and 204 (logoff) counts as bad; done() prints
--   BENCH bad=N logons=N logoffs=N
-- and run.sh fails when bad is not 0.
-- BENCH_PROFILES=a,b,c (instead of BENCH_PROFILE): logons go to each in turn.
local profiles = {}
for name in string.gmatch(os.getenv("BENCH_PROFILES") or os.getenv("BENCH_PROFILE") or "nopw", "[^,]+") do
  profiles[#profiles + 1] = name
end
local password = os.getenv("BENCH_PASSWORD")
local bodies = {}
for i, profile in ipairs(profiles) do
  if password and password ~= "" then
    bodies[i] = string.format('{"profile":"%s","password":"%s","flags":["MAPI_NEW_SESSION"]}',
                              profile, password)
  else
    bodies[i] = string.format('{"profile":"%s","flags":["MAPI_NEW_SESSION"]}', profile)
  end
end
local turn = 0

local threads = {}
function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  queue = {}
  bad, logons, logoffs = 0, 0, 0
  first_bad = ""
end

function request()
  local s = table.remove(queue)
  if s then
    return wrk.format("DELETE", "/sessions/" .. s.id, { ["Authorization"] = "Bearer " .. s.token })
  end
  turn = turn % #bodies + 1
  return wrk.format("POST", "/sessions", { ["Content-Type"] = "application/json" }, bodies[turn])
end

function response(status, headers, body)
  if status == 201 then
    local id = body:match('"id":%s*"(%x+)"')
    local token = body:match('"token":%s*"(mgw_[%w_-]+)"')
    if id and token then
      queue[#queue + 1] = { id = id, token = token }
      logons = logons + 1
      return
    end
  elseif status == 204 then
    logoffs = logoffs + 1
    return
  end
  bad = bad + 1
  if first_bad == "" then
    first_bad = status .. " " .. string.sub(body or "", 1, 200)
  end
end

function done(summary, latency, requests)
  local b, on, off, first = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    b = b + t:get("bad")
    on = on + t:get("logons")
    off = off + t:get("logoffs")
    if first == "" then first = t:get("first_bad") end
  end
  io.write(string.format("BENCH bad=%d logons=%d logoffs=%d\n", b, on, off))
  if b > 0 then
    io.write("BENCH first bad answer: " .. first .. "\n")
  end
end
