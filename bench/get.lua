-- get.lua - wrk script: a GET with a bearer token.
--   BENCH_TOKEN=mgw_... wrk -s bench/get.lua http://127.0.0.1:PORT/identity
-- No response() hook on purpose: it would make wrk hand every answer to Lua,
-- and on 2 cores the load generator's cost matters. Answers other than 2xx/3xx
-- are counted by wrk itself ("Non-2xx or 3xx responses"), which run.sh checks.
local token = os.getenv("BENCH_TOKEN")
if not token or token == "" then
  error("get.lua: set BENCH_TOKEN to a bearer token")
end
wrk.headers["Authorization"] = "Bearer " .. token
