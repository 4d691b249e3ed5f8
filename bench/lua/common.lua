-- Shared by every bench/lua/*.lua scenario (loaded with dofile by each of them, in each wrk Lua state).
--
-- wrk runs one Lua state per thread plus the main one: setup() and done() run in the main state, init(),
-- request() and response() in the thread's. Per-thread counters are read back in done() through the thread
-- objects that setup() kept.
--
-- Environment (set by bench/run.sh):
--   BENCH_NAME        the row's name, printed on the RESULT line
--   BENCH_KEY         the API key (sent as Authorization: Bearer)
--   BENCH_RUN         a tag unique to this run (Idempotency-Key prefix)
--   BENCH_THREADS     wrk's -t, so that each thread can take its own slice of a file of ids

bench = {}

bench.name = os.getenv("BENCH_NAME") or "unnamed"
bench.key = os.getenv("BENCH_KEY")
bench.run = os.getenv("BENCH_RUN") or tostring(os.time())
bench.threads_total = tonumber(os.getenv("BENCH_THREADS") or "2")

local threads = {}
local next_thread_id = 0

function setup(thread)
   next_thread_id = next_thread_id + 1
   thread:set("id", next_thread_id)
   table.insert(threads, thread)
end

-- Thread state. id is set by setup() before init() runs.
non2xx = 0
statuses = {}
counter = 0

function bench.init_thread()
   math.randomseed(os.time() * 1000 + (id or 0) * 7919)
   -- The Idempotency-Key prefix: the run's tag, the thread and a random salt; each request adds its counter.
   bench.key_prefix = string.format("bench-%s-t%d-%08x", bench.run, id or 0, math.random(0, 0x7fffffff))
end

-- A key no other request of any thread of any run repeats.
function bench.idempotency_key()
   counter = counter + 1
   return bench.key_prefix .. "-" .. counter
end

function bench.headers(extra)
   local h = { ["Content-Type"] = "application/json" }
   if bench.key then
      h["Authorization"] = "Bearer " .. bench.key
   end
   for k, v in pairs(extra or {}) do
      h[k] = v
   end
   return h
end

-- Every answer outside 2xx is an error of the row (wrk itself only counts status > 399, and only as a total).
function bench.count(status)
   if status < 200 or status > 299 then
      non2xx = non2xx + 1
      statuses[status] = (statuses[status] or 0) + 1
      bench.publish_statuses()
   end
end

function response(status, headers, body)
   bench.count(status)
end

-- One machine-readable line per row, read by run.sh:
--   RESULT <name> <req/s> <p50 ms> <p99 ms> <errors> <non2xx> <socket errors> <requests> <seconds> <statuses>
function done(summary, latency, requests)
   local bad, by_status, exhausted = 0, {}, 0
   for _, t in ipairs(threads) do
      bad = bad + (t:get("non2xx") or 0)
      exhausted = exhausted + (t:get("exhausted") or 0)
      local s = t:get("statuses_text") or ""
      for code, n in string.gmatch(s, "(%d+):(%d+)") do
         by_status[code] = (by_status[code] or 0) + tonumber(n)
      end
   end
   local e = summary.errors
   local socket = e.connect + e.read + e.write + e.timeout
   local seconds = summary.duration / 1e6
   local rps = seconds > 0 and summary.requests / seconds or 0
   local parts = {}
   for code, n in pairs(by_status) do
      table.insert(parts, code .. ":" .. n)
   end
   table.sort(parts)
   local status_text = #parts > 0 and table.concat(parts, ",") or "-"
   io.write(string.format("RESULT %s %.1f %.2f %.2f %d %d %d %d %.2f %s\n",
      bench.name, rps, latency:percentile(50) / 1000, latency:percentile(99) / 1000,
      bad + socket, bad, socket, summary.requests, seconds, status_text))
   if exhausted > 0 then
      io.write(string.format("EXHAUSTED %s %d\n", bench.name, exhausted))
   end
   io.write(string.format("SOCKET %s connect=%d read=%d write=%d timeout=%d\n",
      bench.name, e.connect, e.read, e.write, e.timeout))
end

-- Thread-side status breakdown, as text (thread:get copies only simple values across Lua states).
function bench.publish_statuses()
   local parts = {}
   for code, n in pairs(statuses) do
      table.insert(parts, code .. ":" .. n)
   end
   statuses_text = table.concat(parts, ",")
end
